"""The input file as a workbook: written empty by `report template --format xlsx`,
filled by the office (here with openpyxl), read back into the same scores."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.report.inputs import InputsError
from hotline_kpi.report.inputs_xlsx import load_inputs
from tests.report.builders import RANKING, RATED, TEXTS, every_reason, explained, report


def _template(clock, path):  # noqa: ANN001, ANN202
    result = CliRunner().invoke(cli, ["report", "template", "--year", "2019", "-o", str(path)], obj=App(clock=clock))
    assert result.exit_code == 0, result.output
    return load_workbook(path)


def test_the_workbook_template_prefills_nothing_and_reads_back(cli_env, a_day_of_2019, tmp_path, clock):
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


def test_a_bad_cell_is_named_by_sheet_row_and_column(english, cli_env, tmp_path, clock):
    path = tmp_path / "inputs.xlsx"
    wb = _template(clock, path)
    wb["指标评级"].cell(3, 4).value = "也许"
    wb.save(path)
    with pytest.raises(InputsError) as err:
        load_inputs(path)
    assert str(path) in str(err.value) and "sheet 指标评级, row 3, column 是否适用（是/否）: '也许'" in str(err.value)


def test_a_percentage_is_read_as_the_office_sees_it_in_both_files(english, cli_env, tmp_path, clock):
    """Review of #15, finding 2: 0.5 formatted 0% (shown 50%) is 50, not 0.5; '70%', '７０'
    and 70 are 70 in the workbook and the YAML file alike; a bare 0.7 is refused as ambiguous,
    naming the cell (it was read as 0.7% and refused as outside band B)."""
    path = tmp_path / "inputs.xlsx"
    wb = _template(clock, path)
    ws = wb["指标评级"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    for code, given in RATED.items():
        ws.cell(rows[code], 5).value = given["band"]
        ws.cell(rows[code], 8).value = given["evidence"]
    ws.cell(rows["cost_control"], 5).value = "B"
    ws.cell(rows["cost_control"], 6).value = "70%"
    ws.cell(rows["service_reach"], 6).value = "７０"  # full-width, as an IME types it (band B)
    ws.cell(rows["environmental_impact"], 6).value = 0.5
    ws.cell(rows["environmental_impact"], 6).number_format = "0%"  # shows 50%
    wb.save(path)
    got = load_inputs(path).indicators
    assert (got["cost_control"].percent, got["service_reach"].percent, got["environmental_impact"].percent) == (70, 70, 50)
    given = {k: v.model_dump(exclude_defaults=True) for k, v in got.items()}
    rep = report(indicators=explained(given))
    s = {r.indicator.id: r.score for r in rep.rows}
    # B 70% of 6 = 4.20; B 70% = 4.20; C 50% = 3.00 (read as 0.5% it scored 0.03)
    assert (s["cost_control"], s["service_reach"], s["environmental_impact"]) == (4.2, 4.2, 3.0)
    # 65.13 + 4.2 + 4.2 + 3.0 + 6 + 4.8 = 87.33
    assert rep.total.total == 87.33
    # A bare 0.7 (not formatted as a percentage): refused, naming the cell.
    ws.cell(rows["cost_control"], 6).value = 0.7
    wb.save(path)
    with pytest.raises(InputsError) as err:
        load_inputs(path)
    assert f"sheet 指标评级, row {rows['cost_control']}, column 档内得分比例（%，可空）: " in str(err.value)
    assert "0.7" in str(err.value) and "70%" in str(err.value) and "band" not in str(err.value)
    # The YAML file: the same rule.
    yml = tmp_path / "inputs.yaml"
    yml.write_text(yaml.safe_dump({"indicators": {"cost_control": {"band": "B", "percent": "70%", "evidence": "x"}}},
                                  allow_unicode=True), encoding="utf-8")
    assert load_inputs(yml).indicators["cost_control"].percent == 70
    yml.write_text(yaml.safe_dump({"indicators": {"cost_control": {"band": "B", "percent": 0.7, "evidence": "x"}}}),
                   encoding="utf-8")
    with pytest.raises(InputsError) as err:
        load_inputs(yml)
    assert "indicators.cost_control.percent" in str(err.value) and "70%" in str(err.value)
