"""The input file belongs to the report it is read for (review of #15, finding 6): a file
for another hotline or year is refused, naming both; a rank below the last place is refused."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.report.inputs import InputsError, load_yaml_inputs
from tests.report.builders import RANKING, RATED


def _run(clock, tmp_path, **given):  # noqa: ANN001, ANN202
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(yaml.safe_dump({"indicators": RATED, "ranking": RANKING, **given}, allow_unicode=True),
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", "--year", "2019", "--format", "md", "--out", str(tmp_path / "out"),
                                      "--inputs", str(inputs)], obj=App(clock=clock))
    return inputs, result


@pytest.mark.parametrize("given, named", [({"year": 2020}, ("2020", "2019")),
                                          ({"hotline": "beijing-12345"}, ("beijing-12345", "shanghai-12345"))])
def test_a_file_for_another_year_or_hotline_is_refused(cli_env, tmp_path, clock, given, named):
    inputs, result = _run(clock, tmp_path, **given)
    assert result.exit_code == 1, result.output
    assert str(inputs) in result.output and all(n in result.output for n in named)
    assert not (tmp_path / "out").exists()


def test_the_same_year_and_hotline_or_none_is_read(cli_env, a_day_of_2019, tmp_path, clock):
    _, result = _run(clock, tmp_path, year=2019, hotline="shanghai-12345")
    assert result.exit_code == 0, result.output


def test_a_rank_below_the_last_place_is_refused(tmp_path):
    path = tmp_path / "inputs.yaml"
    path.write_text(yaml.safe_dump({"ranking": {**RANKING, "rank": 40, "of": 30}}, allow_unicode=True),
                    encoding="utf-8")
    with pytest.raises(InputsError) as err:
        load_yaml_inputs(path)
    assert "ranking" in str(err.value) and "40" in str(err.value) and "30" in str(err.value)
    path.write_text(yaml.safe_dump({"ranking": {**RANKING, "rank": 30, "of": 30}}, allow_unicode=True),
                    encoding="utf-8")
    assert load_yaml_inputs(path).ranking.rank == 30
