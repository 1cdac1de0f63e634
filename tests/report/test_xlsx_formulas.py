"""The self-evaluation table's formulas (review of #15, findings 1 and 8): the total sums
exactly the program's score cells, every computed cell carries its value for a viewer that
does not recalculate, and LibreOffice recomputing after an edit gives the figures a finance
reviewer would get by hand; anything typed outside the score cells changes nothing.

Hand computation (tests/report/builders.py, ratings as the reviewer's filled.yaml): budget
80% -> 8.00; 受理量 3.65M of 4M -> 9.13; 接通率, 一次性解答率, 有责退单率, 满意度 10 each;
接通时长 10 s against 8 s -> 8.00; 控制成本投入 B 70% of 6 -> 4.20; 最大限度… A -> 6.00;
降低能耗… C 50% -> 3.00; 持续发展… A -> 6.00; ranking 2nd -> B top -> 4.80.
8 + 9.13 + 40 + 8 + 4.2 + 6 + 3 + 6 + 4.8 = 89.13 (良).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hotline_kpi.report.xlsx import GRADE_TEXT, SCORE_TEXT, to_xlsx
from tests.report.builders import RATED, report

FILLED = {**RATED,
          "cost_control": {**RATED["cost_control"], "band": "B", "percent": 70},
          "service_reach": {**RATED["service_reach"], "band": "A"},
          "environmental_impact": {**RATED["environmental_impact"], "band": "C", "percent": 50}}
TOTAL = 89.13


def _workbook(data_only: bool = False):  # noqa: ANN202
    rep = report(indicators=FILLED)
    assert rep.total.total == TOTAL and rep.total.grade == "良"
    return load_workbook(io.BytesIO(to_xlsx(rep)), data_only=data_only)


def _rows(ws) -> dict[str, int]:  # noqa: ANN001
    return {ws.cell(r, 3).value: r for r in range(1, ws.max_row + 1) if ws.cell(r, 3).value}


def test_the_total_sums_exactly_the_score_cells():
    ws = _workbook()["绩效自评表"]
    (total,) = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "总分"]
    (head,) = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "一级指标"]
    first = head + 1
    formula = ws.cell(total, 7).value
    assert f"SUM(G{first}:G{total - 1})" in formula and f"ISNUMBER(G{first}:G{total - 1})*F{first}:F{total - 1}" in formula
    assert "GG" not in formula


def test_a_viewer_that_does_not_recalculate_sees_every_figure():
    wb = _workbook(data_only=True)
    ws = wb["绩效自评表"]
    (total,) = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "总分"]
    assert ws.cell(total, 7).value == TOTAL
    assert ws.cell(total, 9).value == "等级为“良”（89.13分）"
    assert ws["H6"].value == pytest.approx(0.8) and ws["I6"].value == 8.0
    ex = wb["预算执行"]
    assert ex["B6"].value == pytest.approx(13_334) and ex["C6"].value == pytest.approx(13_334 * 0.8)
    assert ex["D6"].value == pytest.approx(0.8)


def recalculate(paths: list[Path], out: Path, home: Path) -> dict[str, Path]:
    """LibreOffice opens each workbook, recalculates every formula and saves it again."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail("LibreOffice (soffice) is not installed")
    user = home / "profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    # Recalculate on load, always (LibreOffice's default may trust cached values).
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">'
        '<value>0</value></prop></item></oor:items>\n', encoding="utf-8")
    proc = subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{home}/profile",
                           "--convert-to", "xlsx", "--outdir", str(out), *map(str, paths)],
                          env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return {p.stem: out / p.name for p in paths}


@pytest.mark.system
def test_libreoffice_recomputes_only_from_the_score_cells(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    edits = {
        # typed beside the table: nothing changes (the reviewer's K15=50 gave 130.27)
        "beside": lambda ws, rows: [ws.__setitem__(c, 50) for c in ("K15", "J20", "Z13", "K24")],
        # 接通时长 scored 10 instead of 8.00: 91.13, and the grade follows (优)
        "score": lambda ws, rows: ws.cell(rows["电话接通时长"], 7).__setattr__("value", 10),
        # the whole budget executed: rate 100%, 10 points, 91.13
        "budget": lambda ws, rows: ws.__setitem__("F6", ws["E6"].value),
        # a score typed as text: flagged, not read as 不适用
        "text": lambda ws, rows: (ws.cell(rows["电话接通时长"], 7).__setattr__("value", "6"),
                                  ws.cell(rows["电话接通时长"], 7).__setattr__("data_type", "s")),
    }
    paths = []
    for name, edit in edits.items():
        wb = _workbook()
        ws = wb["绩效自评表"]
        edit(ws, _rows(ws))
        wb.save(src / f"{name}.xlsx")
        paths.append(src / f"{name}.xlsx")
    got = recalculate(paths, tmp_path / "out", tmp_path / "home")
    expected = {"beside": (89.13, "等级为“良”（89.13分）"), "score": (91.13, "等级为“优”（91.13分）"),
                "budget": (91.13, "等级为“优”（91.13分）"), "text": (SCORE_TEXT, GRADE_TEXT)}
    for name, (total, grade) in expected.items():
        ws = load_workbook(got[name], data_only=True)["绩效自评表"]
        (row,) = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "总分"]
        assert (ws.cell(row, 7).value, ws.cell(row, 9).value) == (total, grade), name
    ws = load_workbook(got["budget"], data_only=True)["绩效自评表"]
    assert (ws["H6"].value, ws["I6"].value) == (1, 10)


def test_money_is_stored_to_the_fen_without_float_noise():
    """预算执行 in 万元 (issue #14): an amount summed from spending rows carries the float
    division's noise (18,377,662.62 元 / 10,000 = 1837.7662620000008); the cell stores
    1837.766262 (the fen, 6 decimals in 万元), and so do the monthly and funding cells."""
    import dataclasses

    rep = report(indicators=FILLED)
    noisy = 18377662.62000001  # a sum of fen amounts as floats add them
    line = dataclasses.replace(rep.execution.lines[0], budget_yuan=noisy, executed_yuan=noisy)
    months = (9761644.520000001, *rep.execution.monthly_yuan[1:])
    rep = dataclasses.replace(rep, execution=dataclasses.replace(
        rep.execution, lines=(line, *rep.execution.lines[1:]), monthly_yuan=months))
    assert noisy / 10_000 == 1837.7662620000008 and months[0] / 10_000 == 976.1644520000001
    for data_only in (False, True):
        ex = load_workbook(io.BytesIO(to_xlsx(rep)), data_only=data_only)["预算执行"]
        assert ex["A2"].value == line.name
        assert (ex["B2"].value, ex["C2"].value) == (1837.766262, 1837.766262)
        (first_month,) = [r for r in range(1, ex.max_row + 1) if ex.cell(r, 1).value == "1月"]
        assert ex.cell(first_month, 2).value == 976.164452
        money = [ex.cell(r, c).value for r in range(2, ex.max_row + 1) for c in (2, 3, 5)]
        shown = [v for v in money if isinstance(v, float)]
        assert shown and all(v == round(v, 6) for v in shown), shown
