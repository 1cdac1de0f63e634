from __future__ import annotations

from pathlib import Path

import pytest

from hotline_kpi.catalogue import CatalogueError, CatalogueSet, load_catalogue
from hotline_kpi.domain import Comparator
from tests.common import TARGETS

SEED = TARGETS / "shanghai-12345-2019.yaml"


def test_the_2019_catalogue_holds_all_eleven_seed_rows_and_two_tracked_indicators():
    cat = load_catalogue(SEED)
    scored = [i for i in cat.indicators if not i.tracked_only]
    assert len(scored) == 11
    assert [i.level1 for i in scored].count("产出目标") == 5
    assert {i.id for i in cat.indicators if i.tracked_only} == {"answered_within_15s_rate", "abandon_rate"}
    targets = {i.id: (i.comparator, i.threshold) for i in cat.indicators if i.targeted}
    assert targets == {
        "requests_accepted": (Comparator.GE, 4_000_000),
        "connection_rate": (Comparator.GE, 0.90),
        "first_contact_resolution_rate": (Comparator.GE, 0.50),
        "operator_fault_return_rate": (Comparator.LT, 0.07),
        "average_answer_seconds": (Comparator.LE, 8),
        "satisfaction_rate": (Comparator.GE, 0.90),
    }
    assert cat.indicator("satisfaction_rate").level3 == "12345热线回民市民满意度"
    assert sum(line.amount_yuan for line in cat.project.budget_lines) == 133_340_000


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_catalogue_can_inherit_another_and_override_one_indicator(tmp_path):
    (tmp_path / "base.yaml").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    child = _write(tmp_path, "2020.yaml", "inherits: base.yaml\nyear: 2020\nindicators:\n"
                   "  - id: connection_rate\n    threshold: 0.92\n")
    cat = load_catalogue(child)
    assert cat.year == 2020
    assert cat.indicator("connection_rate").threshold == 0.92
    assert cat.indicator("connection_rate").level3 == "热线接通率"  # inherited fields stay
    assert len(cat.indicators) == 13
    both = CatalogueSet([load_catalogue(tmp_path / "base.yaml"), cat])
    assert both.years("shanghai-12345") == [2019, 2020]


def test_an_invalid_field_is_reported_with_file_indicator_and_field(english, tmp_path):
    bad = _write(tmp_path, "bad.yaml", SEED.read_text(encoding="utf-8").replace("threshold: 0.90\n", "threshold: lots\n", 1))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(bad)
    msg = str(info.value)
    assert str(bad) in msg and "indicator 'connection_rate'" in msg and "'threshold'" in msg and "lots" in msg


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("formula: satisfaction_rate", "formula: happiness", "formula 'happiness' is not one of"),
        ("comparator: \"<\"", "comparator: \"~\"", "indicator 'operator_fault_return_rate', field 'comparator'"),
        ("threshold: 0.07", "threshold: 7", "threshold 7.0 of a ratio must be within 0..1"),
        ("weight: 10\n\n  - id: connection_rate", "weight: 11\n\n  - id: connection_rate", "weights of the output"),
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", "unknown time zone"),
        ("id: abandon_rate", "id: connection_rate", "appear more than once: connection_rate"),
    ],
)
def test_catalogue_errors_say_what_is_wrong(english, tmp_path, replace, by, expected):
    text = SEED.read_text(encoding="utf-8")
    assert replace in text
    with pytest.raises(CatalogueError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        load_catalogue(_write(tmp_path, "x.yaml", text.replace(replace, by, 1)))


def test_inheritance_cycles_and_missing_parents_are_errors(english, tmp_path):
    _write(tmp_path, "a.yaml", "inherits: b.yaml\n")
    _write(tmp_path, "b.yaml", "inherits: a.yaml\n")
    with pytest.raises(CatalogueError, match="inheritance cycle"):
        load_catalogue(tmp_path / "a.yaml")
    with pytest.raises(CatalogueError, match="file not found"):
        load_catalogue(_write(tmp_path, "c.yaml", "inherits: nowhere.yaml\n"))


def test_two_files_for_one_hotline_and_year_are_refused(english, tmp_path):
    for name in ("one.yaml", "two.yaml"):
        _write(tmp_path, name, SEED.read_text(encoding="utf-8"))
    with pytest.raises(CatalogueError, match="also defined in"):
        CatalogueSet.from_dir(tmp_path)


@pytest.mark.parametrize("cleared", ["null", '""', "~"])
def test_a_child_can_clear_the_province_it_inherits(english, tmp_path, cleared):
    """``province: null`` (or "") in a child removes the parent's province: the hotline is
    then in no roll-up of the league table. It used to be refused as "not text"."""
    (tmp_path / "base").mkdir(exist_ok=True)
    base = _write(tmp_path / "base", "sh.yaml", (TARGETS / "shanghai-12345-2019.yaml").read_text(encoding="utf-8"))
    assert load_catalogue(base).hotline.province == "上海市"
    child = _write(tmp_path, "x.yaml", f"inherits: base/sh.yaml\nhotline:\n  id: x-12345\n  province: {cleared}\n")
    assert load_catalogue(child).hotline.province == ""
    kept = _write(tmp_path, "y.yaml", "inherits: base/sh.yaml\nhotline:\n  id: y-12345\n")
    assert load_catalogue(kept).hotline.province == "上海市"
    wrong = _write(tmp_path, "z.yaml", "inherits: base/sh.yaml\nhotline:\n  id: z-12345\n  province: [a, b]\n")
    with pytest.raises(CatalogueError, match="province"):
        load_catalogue(wrong)
