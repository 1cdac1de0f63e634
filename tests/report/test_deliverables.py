"""Every deliverable of a draft and of a final report, read back as a reviewer would:
the DOCX with python-docx (every section, the table, the signature block), the PDF with
poppler (text per page, repeated header, merged 一级), the XLSX with openpyxl (print
set-up, one money unit per sheet) and LibreOffice (the total recomputes the same), and
nothing internal in any format."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook

from hotline_kpi.report.writer import write_report
from tests.report.builders import report, rows
from tests.report.deliverables import docx_text, html_text, leaks, xlsx_text

FORMATS = ["docx", "pdf", "html", "md", "xlsx"]
SECTIONS = ["一、项目基本情况", "二、绩效目标", "三、自评工作开展情况", "四、绩效目标完成情况分析",
            "五、偏差原因分析及改进措施", "六、存在问题及下一步工作", "七、自评结果应用"]
GAP = {dt.date(2019, 3, d) for d in (3, 4, 5)}  # three days without data: prose names them




@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    import tests.report.builders as b

    out = tmp_path_factory.mktemp("deliverables")
    real_rows = b.rows
    b.rows = lambda year=2019, **day: [r for r in real_rows(year, **day) if r.day not in GAP]  # type: ignore[assignment]
    long = "；".join(f"第{i}条改进措施：加强排班预测，高峰时段增开坐席，按月复盘接通与等待时长" for i in range(1, 9))
    given = b.explained(b.RATED, {i: {"explanation": long} for i in ("connection_rate", "first_contact_resolution_rate",
                                                                     "operator_fault_return_rate", "satisfaction_rate")})
    given = b.explained(given)
    try:
        final, draft = b.report(indicators=given), b.report(indicators={}, ranking={})
    finally:
        b.rows = real_rows  # type: ignore[assignment]
    assert not final.draft and draft.draft
    got = {}
    for name, rep in (("final", final), ("draft", draft)):
        files = write_report(rep, FORMATS, out / name)
        got[name] = {p.suffix[1:]: p for p in files}
    got["tmp"] = {"dir": out}  # type: ignore[dict-item]
    return got


def _pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")


def texts(files: dict[str, Path]) -> dict[str, str]:
    return {"docx": docx_text(files["docx"]), "pdf": "\n".join(_pdf_pages(files["pdf"])),
            "html": html_text(files["html"].read_text(encoding="utf-8")),
            "md": files["md"].read_text(encoding="utf-8"), "xlsx": xlsx_text(files["xlsx"])}


@pytest.mark.parametrize("which", ["final", "draft"])
def test_no_deliverable_shows_anything_internal(produced, which):
    for fmt, text in texts(produced[which]).items():
        assert leaks(text) == [], fmt
        assert "2019年3月3日至2019年3月5日" in text or fmt == "xlsx" or which == "final", fmt  # a date in prose
        if which == "final":  # nothing left for the office to fill, no system draft
            assert not re.search("待办公室|【系统分析】|草稿", text), fmt


def test_the_checker_catches_what_the_reviewer_sent_back():
    for bad in ("口径 formulas.offered_exits", "['ABANDON', 'EXITEMPTY']", "基本满意计入 True", ">= 90%",
                "来源：shared/reference/kpi.md §4", "差1,636,074秒等待", "拖累最大的月份", "日期 2019-03-03",
                "等级: 优", "剩余容错", "近7日消耗倍率", "5件待受理"):
        assert leaks(bad), bad
    assert leaks("全年达到90%以上，不低于90%，≥90；2019年12月31日；等级为“优”") == []


def test_docx_has_every_section_the_table_and_the_signature_block(produced):
    d = docx.Document(str(produced["final"]["docx"]))
    heads = [p.text for p in d.paragraphs if p.style.name.startswith("Heading")]
    assert [h for h in heads if h in SECTIONS] == SECTIONS
    assert "附件：项目支出绩效自评表（2019年度）" in heads
    body = "\n".join(p.text for p in d.paragraphs)
    assert "《关于“12345”市民服务热线经费预算安排有关问题的请示》（沪财行〔2012〕27号）" in body  # 立项依据
    assert "项目预算13,334万元" in body
    for part in ("1,903万元", "948万元", "9,589万元", "894万元"):
        assert part in body
    # The peer comparison: only the comparable figure, its difference, the rest with why.
    assert ("北京市12345市民服务热线未公开以下指标，无法比较：热线接通率、话务员一次性解答率、话务员有责退单率、"
            "电话接通时长。") in body
    assert "未作比较：全年来电量。来电量反映业务规模，不反映服务水平，不作比较。" in body
    peers = next(t for t in d.tables if t.rows[0].cells[0].text == "指标")
    assert [c.text for c in peers.rows[0].cells][:4] == ["指标", "本热线", "北京市12345市民服务热线", "是否超过"]
    assert [c.text for c in peers.rows[1].cells][:4] == ["市民满意率", "92.00%", "87.00%", "是"]
    assert len(peers.rows) == 2
    assert "月度走势：1月" in body and "自评总分90.25分，等级为“优”" in body
    assert len(d.inline_shapes) == 6  # a monthly trend chart per quantitative indicator
    # The self-evaluation table: header repeated on every page, 一级 merged, the hand total.
    table = next(t for t in d.tables if t.rows[0].cells[0].text == "一级指标" and len(t.columns) == 8)
    assert table.rows[0]._tr.trPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader") \
        is not None
    col1 = [r.cells[0] for r in table.rows]
    output = [c for c in col1 if c.text == "产出目标"]
    assert len({id(c._tc) for c in output}) == 1 and len(output) == 5  # one merged cell over five rows
    last = [c.text for c in table.rows[-1].cells]
    assert last[0] == "总分" and last[6] == "90.25" and last[7].startswith("等级为“优”")
    by_name = {r.cells[2].text: [c.text for c in r.cells] for r in table.rows[1:-1]}
    assert by_name["全国政务类服务热线排名"][4:7] == ["全国第2名（共335条热线），得分96.07", "6", "4.80"]
    # The signature block, left to fill.
    sign = d.tables[-1]
    assert [[c.text for c in r.cells] for r in sign.rows] == [["单位负责人", "", "填报人", ""],
                                                               ["联系电话", "", "填报日期", ""]]
    assert all(not p.text for p in d.sections[0].header.paragraphs)  # final: no 草稿


def test_a_draft_says_so_in_every_format(produced):
    files = produced["draft"]
    d = docx.Document(str(files["docx"]))
    assert d.sections[0].header.paragraphs[0].text == "草稿"
    missing = ["控制成本投入：未评级", "全国政务类服务热线排名：未填写全国排名名次"]
    for fmt, text in texts(files).items():
        assert "草稿" in text, fmt
        for m in missing:
            assert m in text.replace("\n", "") or fmt == "xlsx", (fmt, m)
    pages = _pdf_pages(files["pdf"])
    assert all("草" in p and "稿" in p for p in pages if p.strip())  # the watermark on every page
    wb = load_workbook(files["xlsx"])
    assert wb.sheetnames[0] == "缺项清单"
    assert [(c.value, d.value) for c, d in wb["缺项清单"].iter_rows(min_row=3, max_col=2)][:1] == [("控制成本投入", "未评级")]
    assert all(ws.oddHeader.center.text == "草稿" for ws in wb)
    assert wb["绩效自评表"]["A1"].value == "项目支出绩效自评表（2019年度）（草稿）"


def test_pdf_repeats_the_table_header_and_merges_the_levels(produced):
    pages = _pdf_pages(produced["final"]["pdf"])
    start = next(i for i, p in enumerate(pages) if "附件：项目支出绩效自评表" in p)
    end = next(i for i in range(start, len(pages)) if "总分" in pages[i])
    table_pages = pages[start + 1:end + 1]  # the pages the indicator rows continue on
    assert len(table_pages) >= 1, "the indicator table continues on another page here"
    assert "一级指标" in pages[start]
    assert all("一级指标" in p and "偏差原因分析及改进措施" in p for p in table_pages)
    attached = "\n".join(pages[start:])
    assert attached.count("产出目标") == 1 and attached.count("效果目标") == 1  # rowspan, not repeated
    html = produced["final"]["html"].read_text(encoding="utf-8")
    assert '<td rowspan="5">产出目标</td>' in html and '<td rowspan="3">质量目标</td>' in html


def test_xlsx_print_setup_on_every_sheet_and_one_money_unit(produced):
    wb = load_workbook(produced["final"]["xlsx"])
    for ws in wb:
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "portrait", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_area, ws.title
    for ws in wb:
        text = xlsx_text_of(ws)
        assert not ("万元" in text and re.search(r"(?<!万)元", text)), ws.title
    ex = wb["预算执行"]
    assert ex["B1"].value == "全年预算（万元）" and ex["B6"].value == "=SUM(B2:B5)"


def xlsx_text_of(ws) -> str:  # noqa: ANN001
    return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if isinstance(c.value, str)
                     and not c.value.startswith("="))


@pytest.mark.system
def test_libreoffice_recomputes_the_same_total(produced, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail("LibreOffice (soffice) is not installed")
    home = tmp_path / "home"
    home.mkdir()
    # Three days fewer: 3,620,000 requests -> 9.05 of 10, so 90.33 - 0.08 = 90.25; the draft
    # loses the four ratings (20.4) and the ranking (4.8).
    for which, total, budget in (("final", 90.25, 13334), ("draft", 90.25 - 20.4 - 4.8, 13334)):
        out = tmp_path / which
        proc = subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{home}/profile",
                               "--convert-to", "xlsx", "--outdir", str(out), str(produced[which]["xlsx"])],
                              env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        (path,) = out.glob("*.xlsx")
        wb = load_workbook(path, data_only=True)
        ws = wb["绩效自评表"]
        (row,) = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "总分"]
        assert ws.cell(row, 7).value == pytest.approx(round(total, 2), abs=1e-9), which
        assert f"（{round(total, 2):.2f}分）" in ws.cell(row, 9).value  # the figure the other formats print
        assert wb["预算执行"]["B6"].value == pytest.approx(budget)


def test_the_cli_projection_wording_reads_plainly():
    from hotline_kpi.i18n import t

    shown = [t(k) for k in ("budget", "burn_7d", "burn_30d", "unit_requests_needed", "unit_wait_seconds")]
    assert shown == ["尚可容许的差错", "近7日差错倍数（1为均衡）", "近30日差错倍数（1为均衡）", "件（尚需受理）", "秒（等待时长）"]
    assert all(leaks(f"1,000{s}") == [] for s in shown)


SEED_TEXT = "12345热线回民市民满意度"  # the seed's 三级指标, verbatim (回民: a typo for 回访)
SIC_NOTE = "※原文如此：三级指标照录原表，本报告其余各处称“12345热线回访市民满意度”。"


def test_the_seeds_level3_text_is_kept_only_in_its_cells_with_the_footnote_sic(produced):
    """Issue #14: the seed's 三级指标 text stays verbatim in the reproduced tables' 三级指标
    cells, marked ※ with the footnote 原文如此 under the table; 回民 is nowhere else."""
    files = produced["final"]
    # DOCX: the cells of both tables (绩效目标 and the 自评表), each table followed by its note
    doc = docx.Document(str(files["docx"]))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells if "回民" in c.text]
    assert set(cells) == {SEED_TEXT + "※"}, cells
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = list(doc.element.body.iterchildren())
    tables_with_seed = [i for i, el in enumerate(body) if el.tag.endswith("}tbl")
                        and any("回民" in c.text for row in Table(el, doc).rows for c in row.cells)]
    assert len(tables_with_seed) == 2
    for i in tables_with_seed:  # the footnote is the paragraph right under the table
        assert Paragraph(body[i + 1], doc).text == SIC_NOTE
    # XLSX (openpyxl): the 三级指标 column of the 自评表, and the note under it
    wb = load_workbook(files["xlsx"])
    seed_cells = [(ws.title, c.coordinate) for ws in wb for row in ws.iter_rows() for c in row
                  if isinstance(c.value, str) and "回民" in c.value]
    assert len(seed_cells) == 1 and seed_cells[0][1].startswith("C"), seed_cells
    ws = wb[seed_cells[0][0]]
    assert ws[seed_cells[0][1]].value == SEED_TEXT + "※"
    assert any(c.value == SIC_NOTE for row in ws.iter_rows() for c in row), "no 原文如此 note on the sheet"
    # every format as read back (pdftotext for the PDF): 回民 only in the marked cells, one note per table
    for fmt, text in texts(files).items():
        flat = re.sub(r"\s+", "", text)
        tables = 1 if fmt == "xlsx" else 2
        assert flat.count("回民") == tables and flat.count("※") == 2 * tables, (fmt, flat.count("回民"))
        # the cell as written (a PDF table may wrap it over two lines between other columns)
        assert flat.count(SEED_TEXT + "※") == tables or fmt == "pdf", fmt
        assert flat.count("原文如此") == tables and "回民" not in SIC_NOTE, fmt
        assert flat.count("12345热线回访市民满意度") >= tables, fmt  # the display name everywhere else
