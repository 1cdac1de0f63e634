"""The 项目资金 block (review of #15, findings 4 and 5): the budget lines must add up to the
full-year budget entered, no source of funds may go negative, and execution per source of
funds is shown only where the ledger gives it (it records no source: only when everything is
当年财政拨款), never as a pro-rata estimate. Budget lines 1,903 + 948 + 9,589 + 894 = 13,334
万元; the builders spend 80% of every line: 10,667.20 万元."""

from __future__ import annotations

import io

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.report.build import NOT_SPLIT, FundingError
from hotline_kpi.report.md import to_markdown
from hotline_kpi.report.xlsx import to_xlsx
from tests.report.builders import RANKING, RATED, report


def _funding(rep):  # noqa: ANN001, ANN202
    return {f.label: (f.initial_wan, f.full_year_wan, f.executed_wan) for f in rep.funding}


def test_a_full_year_budget_the_lines_do_not_add_up_to_is_refused():
    with pytest.raises(FundingError) as err:
        report(funding={"initial_budget_yuan": 133_340_000, "full_year_budget_yuan": 140_000_000})
    (problem,) = err.value.problems
    assert problem.startswith("funding.full_year_budget_yuan")
    assert "14,000.00" in problem and "13,334.00" in problem and "1,903.00" in problem and "894.00" in problem
    # The lines' own sum is accepted.
    assert report(funding={"full_year_budget_yuan": 133_340_000}).execution.budget_yuan == 133_340_000


def test_no_source_of_funds_goes_negative():
    with pytest.raises(FundingError) as err:
        report(funding={"initial_budget_yuan": 133_340_000, "full_year_budget_yuan": 133_340_000,
                        "carried_over_yuan": 200_000_000})
    assert len(err.value.problems) == 2  # full-year and initial budget alike
    assert "20,000.00" in err.value.problems[0] and "-6,666.00" in err.value.problems[0]


def test_execution_per_source_only_where_the_ledger_gives_it():
    # All 当年财政拨款 (the default): its execution is the total, exactly.
    rep = report()
    assert _funding(rep)["其中：当年财政拨款"] == pytest.approx((13_334, 13_334, 10_667.2))
    assert _funding(rep)["上年结转资金"] == (0, 0, 0) and NOT_SPLIT not in rep.notes
    # Split 12,000 / 1,000 / 334: the ledger cannot say which source paid: not split, and said so.
    rep = report(funding={"initial_budget_yuan": 133_340_000, "full_year_budget_yuan": 133_340_000,
                          "carried_over_yuan": 10_000_000, "other_yuan": 3_340_000})
    got = _funding(rep)
    assert got["年度资金总额"] == pytest.approx((13_334, 13_334, 10_667.2))
    assert got["其中：当年财政拨款"] == pytest.approx((12_000, 12_000, None))
    assert got["上年结转资金"] == (1_000, 1_000, None) and got["其他资金"] == (334, 334, None)
    assert NOT_SPLIT in rep.notes
    ws = load_workbook(io.BytesIO(to_xlsx(rep)))["绩效自评表"]
    assert [ws.cell(r, 6).value for r in range(6, 10)] == [pytest.approx(10_667.2), "—", "—", "—"]
    assert any(NOT_SPLIT in str(ws.cell(r, 1).value) for r in range(1, ws.max_row + 1))
    md = to_markdown(rep)
    assert "| 其中：当年财政拨款 | 12,000.00 | 12,000.00 | — |" in md and NOT_SPLIT in md


def test_the_cli_refuses_the_file_naming_the_figures(cli_env, tmp_path, clock):
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(yaml.safe_dump({"indicators": RATED, "ranking": RANKING,
                                      "funding": {"full_year_budget_yuan": 140_000_000}}, allow_unicode=True),
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", "--year", "2019", "--format", "md", "--out", str(tmp_path / "out"),
                                      "--inputs", str(inputs)], obj=App(clock=clock))
    assert result.exit_code == 1
    assert str(inputs) in result.output and "14,000.00" in result.output and "13,334.00" in result.output
    assert not (tmp_path / "out").exists()
