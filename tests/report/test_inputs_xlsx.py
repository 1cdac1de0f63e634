"""The input file as a workbook: written empty by `report template --format xlsx`,
filled by the office (here with openpyxl), read back into the same scores."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.report.inputs import InputsError
from hotline_kpi.report.inputs_xlsx import load_inputs
from tests.report.builders import RANKING, RATED, TEXTS, every_reason


def _template(clock, path):  # noqa: ANN001, ANN202
    result = CliRunner().invoke(cli, ["report", "template", "--year", "2019", "-o", str(path)], obj=App(clock=clock))
    assert result.exit_code == 0, result.output
    return load_workbook(path)


def test_the_workbook_template_prefills_nothing_and_reads_back(cli_env, tmp_path, clock):
    path = tmp_path / "inputs.xlsx"
    wb = _template(clock, path)
    ws = wb["指标评级"]
    assert [c.value for c in ws[1]][:5] == ["指标代码", "三级指标", "分值", "是否适用（是/否）", "评级"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    assert set(RATED) <= set(rows)
    assert all(ws.cell(r, c).value in (None, "—") for r in rows.values() for c in range(4, 10))  # nothing rated
    assert "达成,部分达成,未达成" in ws.data_validations.dataValidation[0].formula1
    # Empty, it reads back to nothing rated.
    assert load_inputs(path).indicators["cost_control"].band is None
    for code, given in RATED.items():
        ws.cell(rows[code], 5).value = given["band"]
        ws.cell(rows[code], 8).value = given["evidence"]
    for code, reason in every_reason().items():  # an empty store: every row loses points
        ws.cell(rows[code], 9).value = reason["explanation"]
    ws.cell(rows["connection_rate"], 9).value = "=1+1"  # text the office typed ('=1+1), read as text
    ws.cell(rows["connection_rate"], 9).data_type = "s"
    wb["报告文字"]["B3"], wb["报告文字"]["B4"] = TEXTS["problems_next_steps"], TEXTS["result_use"]
    rk = wb["全国排名"]
    for r, key in enumerate(("rank", "of", "score", "source"), 1):
        rk.cell(r, 2).value = RANKING[key]
    wb.save(path)
    got = load_inputs(path)
    assert got.indicators["service_reach"].band == "部分达成"
    assert got.ranking.rank == 2 and got.ranking.source == RANKING["source"]
    result = CliRunner().invoke(cli, ["report", "--year", "2019", "--final", "--format", "md", "--out",
                                      str(tmp_path / "out"), "--inputs", str(path)], obj=App(clock=clock))
    assert result.exit_code == 0, result.output
    (md,) = (tmp_path / "out").glob("*.md")
    assert "全国第2名（共335条热线），得分96.07" in md.read_text(encoding="utf-8")


def test_a_bad_cell_is_named_by_sheet_row_and_column(cli_env, tmp_path, clock):
    path = tmp_path / "inputs.xlsx"
    wb = _template(clock, path)
    wb["指标评级"].cell(3, 4).value = "也许"
    wb.save(path)
    with pytest.raises(InputsError) as err:
        load_inputs(path)
    assert str(path) in str(err.value) and "sheet 指标评级, row 3, column 是否适用（是/否）: '也许'" in str(err.value)
