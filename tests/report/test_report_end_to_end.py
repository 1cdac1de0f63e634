"""The demo year end to end: demo data + a spending ledger + the office's input file ->
XLSX read back cell by cell, converted by LibreOffice, PDF rendered and its Chinese
text extracted. Real tools (soffice, pdftoppm, pdftotext; .ci/install-test-deps)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from tests.common import TARGETS
from tests.processes import DemoTemplate, prepare_demo, run_cli
from tests.report.builders import RANKING, RATED, TEXTS, every_reason

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

LINES = {"basic_operation": 19_030_000, "platform": 9_480_000, "agent_staffing": 95_890_000, "taxes": 8_940_000}
EVIL = {"connection_rate": "=1+1", "average_answer_seconds": "+SUM(A1:A3)", "cost_control": "-2+3",
        "service_reach": "@cmd|' /C calc'!A0", "satisfaction_rate": "\t=HYPERLINK(\"http://x\")"}


def run(env: dict[str, str], *args: str) -> str:
    return run_cli(env, *args, cwd=Path(env["HOTLINE_KPI_VAR_DIR"]).parent, timeout=600).stdout


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory, demo_template: DemoTemplate) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("report-e2e")
    env = {**prepare_demo(demo_template, tmp),  # the store of `hotline-kpi demo --raw-from 13`
           "HOTLINE_KPI_REPORT__INPUTS_DIR": str(tmp / "inputs"),
           "HOTLINE_KPI_REPORT__BENCHMARK_FILE": str(TARGETS.parent / "benchmarks" / "beijing-12345-2019.yaml")}
    ledger = tmp / "spending-2019.csv"
    with ledger.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["月份", "预算项目", "金额(元)"])
        for m in range(1, 13):
            for line, budget in LINES.items():
                w.writerow([f"2019-{m:02d}", line, f"{budget * 0.8619 / 12:.2f}"])
    run(env, "ingest", "--source", "spending", str(ledger))
    inputs = tmp / "inputs.yaml"
    run(env, "report", "template", "--year", "2019", "-o", str(inputs))
    data = yaml.safe_load(inputs.read_text(encoding="utf-8"))
    for ind, given in RATED.items():  # the template rates nothing: the office does
        data["indicators"][ind].update(given)
    data["ranking"] = RANKING
    for ind, reason in every_reason().items():  # a final report: a reason for every row that loses points
        data["indicators"][ind]["explanation"] = reason["explanation"]
    for ind, text in EVIL.items():
        data["indicators"][ind]["explanation"] = text
    data.update(TEXTS)
    data["indicators"]["environmental_impact"]["applicable"] = False
    inputs.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp / "out"
    stdout = run(env, "report", "--year", "2019", "--final", "--format", "xlsx,pdf,html,md,docx", "--out", str(out),
                 "--inputs", str(inputs))
    return {"out": out, "stdout": stdout, "tmp": tmp}


def _file(produced, ext: str) -> Path:
    (path,) = Path(produced["out"]).glob(f"*.{ext}")
    return path


def test_the_cli_reports_total_and_budget_execution(produced):
    assert "预算执行率 86.19% → 8.62/10" in produced["stdout"]


def test_xlsx_cell_by_cell(produced):
    wb = load_workbook(_file(produced, "xlsx"))
    ws = wb["绩效自评表"]
    assert ws["A1"].value == "项目支出绩效自评表（2019年度）"
    assert (ws["A2"].value, ws["C2"].value) == ("项目名称", "12345市民服务热线服务外包项目经费")
    assert ws["A3"].value == "主管部门" and ws["A4"].value == "实施单位"
    assert [ws.cell(5, c).value for c in range(4, 10)] == ["年初预算数", "全年预算数", "全年执行数", "分值", "执行率",
                                                           "得分"]
    assert ws["C6"].value == "年度资金总额"
    assert ws["D6"].value == pytest.approx(13334) and ws["E6"].value == pytest.approx(13334)
    assert ws["F6"].value == pytest.approx(13334 * 0.8619, abs=0.01)
    assert ws["D6"].number_format == "#,##0.00"
    assert ws["H6"].value == "=IF(E6=0,0,F6/E6)" and ws["H6"].number_format == "0.00%"
    cached = load_workbook(_file(produced, "xlsx"), data_only=True)["绩效自评表"]
    assert cached["H6"].value == pytest.approx(0.8619, abs=1e-6) and cached["I6"].value == 8.62
    assert ws["A12"].value == "一级指标" and ws["I12"].value == "偏差原因分析及改进措施"
    by_name = {ws.cell(r, 3).value: r for r in range(13, 24)}
    r = by_name["热线接通率"]
    assert ws.cell(r, 4).value == "全年达到90%以上"
    assert 0.9 <= ws.cell(r, 5).value <= 1 and ws.cell(r, 5).number_format == "0.00%"
    assert (ws.cell(r, 6).value, ws.cell(r, 7).value) == (10, 10)
    assert ws.cell(by_name["降低能耗，节约成本"], 7).value == "不适用"
    # merged header cells, borders, A4 print setup
    merged = {str(m) for m in ws.merged_cells.ranges}
    assert {"A1:I1", "C2:I2", "A5:B9", "G12:H12"} <= merged
    assert "A13:A17" in merged  # 产出目标 spans the five output rows
    assert ws["D6"].border.left.style == "thin"
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "portrait"
    assert ws.page_setup.fitToWidth == 1
    total_row = by_name["全国政务类服务热线排名"] + 1
    assert ws.cell(total_row, 1).value == "总分"
    assert cached.cell(total_row, 9).value.startswith("等级为“")
    assert "按94分折算" in cached.cell(total_row, 9).value
    assert "ROUND((I6+SUM(G13:G23))*100/" in ws.cell(total_row, 7).value  # recomputed by Excel and LibreOffice
    assert {"预算执行", "同行对比", "附录 口径设置", "月度趋势图"} <= set(wb.sheetnames)


def test_no_text_field_becomes_a_formula(produced):
    path = _file(produced, "xlsx")
    ws = load_workbook(path)["绩效自评表"]
    by_name = {ws.cell(r, 3).value: r for r in range(13, 24)}
    level3 = {"connection_rate": "热线接通率", "average_answer_seconds": "电话接通时长", "cost_control": "控制成本投入",
              "service_reach": "最大限度的服务好市民和企业", "satisfaction_rate": "12345热线回民市民满意度※"}  # ※: the seed's text, 原文如此
    for ind, text in EVIL.items():
        cell = ws.cell(by_name[level3[ind]], 9)
        assert cell.value == text and cell.data_type == "s", (ind, cell.value, cell.data_type)
        assert cell.quotePrefix
    # The only formulas are the totals the program wrote (=ROUND/SUM/IF over its own
    # number cells); no user text is among them.
    import re

    wb = load_workbook(path)
    formulas = [c.value for sheet in wb for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    from hotline_kpi.report.xlsx import GRADE_TEXT, SCORE_TEXT

    own = {"不适用", SCORE_TEXT, GRADE_TEXT, "等级为“", "”（", "0.00", "分）", "，不适用指标已剔除，按", "分折算", "",
           "优", "良", "中", "差"}
    assert formulas and all(re.fullmatch(r"=[A-Z]+\(.*\)", f) for f in formulas)
    assert {lit for f in formulas for lit in re.findall(r'"([^"]*)"', f)} <= own
    assert not any(text.lstrip("\t") in f for f in formulas for text in EVIL.values())
    # Read as LibreOffice computes it: the text stays text (=1+1 would show 2).
    (csv_path,) = _soffice(path, "csv", produced["tmp"])
    text = csv_path.read_text(encoding="utf-8", errors="replace")
    assert "=1+1" in text and "+SUM(A1:A3)" in text and "-2+3" in text


def _soffice(path: Path, fmt: str, tmp: Path) -> list[Path]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail("LibreOffice (soffice) is not installed: run .ci/install-test-deps")
    out = tmp / f"soffice-{fmt}"
    home = tmp / "soffice-home"  # soffice runs as root when HOME is writable (observability.md)
    home.mkdir(exist_ok=True)
    proc = subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{home}/profile",
                           "--convert-to", fmt if fmt != "csv" else "csv:Text - txt - csv (StarCalc):44,34,76",
                           "--outdir", str(out), str(path)],
                          env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    produced = list(out.glob(f"*.{fmt}"))
    assert produced, proc.stdout + proc.stderr
    return produced


def test_libreoffice_converts_the_xlsx(produced):
    (pdf,) = _soffice(_file(produced, "xlsx"), "pdf", produced["tmp"])
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "项目支出绩效自评表" in text and "热线接通率" in text
    # Every sheet fitted one page wide (was 13 pages with only the main sheet set up).
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")))
    assert pages <= 8, pages


def test_pdf_renders_and_holds_the_chinese_text(produced, tmp_path):
    pdf = _file(produced, "pdf")
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    (png,) = tmp_path.glob("page*.png")
    assert png.stat().st_size > 10_000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for s in ("项目支出绩效自评表", "热线接通率", "偏差原因分析及改进措施", "年初预算数", "总分", "可比指标", "附录",
              "绩效自评报告", "单位负责人"):
        assert s in text, s
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    cjk = [ln for ln in fonts.splitlines() if "CJK" in ln]
    assert cjk and all(" yes " in ln for ln in cjk)  # embedded


def test_html_is_self_contained_and_markdown_has_the_table(produced):
    html = _file(produced, "html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert "<link" not in html and 'src="http' not in html
    assert "&lt;" not in html.split("<body>")[0]
    md = _file(produced, "md").read_text(encoding="utf-8")
    assert "| 一级指标 | 二级指标 | 三级指标 |" in md and "86.19%" in md


def test_the_demo_years_deliverables_show_nothing_internal(produced):
    from tests.report.deliverables import docx_text, html_text, leaks, xlsx_text

    pdf = subprocess.run(["pdftotext", str(_file(produced, "pdf")), "-"], capture_output=True, text=True,
                         check=True).stdout
    texts = {"docx": docx_text(_file(produced, "docx")), "pdf": pdf,
             "html": html_text(_file(produced, "html").read_text(encoding="utf-8")),
             "md": _file(produced, "md").read_text(encoding="utf-8"), "xlsx": xlsx_text(_file(produced, "xlsx"))}
    # The office's formula-like explanations are its own text, shown as typed.
    evil = [e.strip() for e in EVIL.values()]
    for fmt, text in texts.items():
        for e in evil:
            text = text.replace(e, "")
        assert leaks(text) == [], fmt
        assert "草稿" not in text, fmt  # rated and ranked: the final report
