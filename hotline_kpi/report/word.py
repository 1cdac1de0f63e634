"""The written report (绩效自评报告) as DOCX, the format the office edits in Word or WPS:
the sections of :mod:`.narrative`, the self-evaluation table as an attachment (一级/二级
merged, header row repeated on every page), the settings appendix and a signature block
left blank. A draft carries 草稿 in every page header and the list of what is missing."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from hotline_kpi.report.appendix import settings_lines
from hotline_kpi.report.build import Report, level3_cell, sic_notes
from hotline_kpi.report.narrative import SIGNATURE, Table, missing_lines, report_title, sections

FONT = "宋体"
HEAD_FONT = "黑体"
TABLE_TITLE = "项目支出绩效自评表"


def _font(run, name: str = FONT, size: float | None = None, bold: bool | None = None) -> None:  # noqa: ANN001
    run.font.name = name
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)
    if size:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold


def _para(doc, text: str, size: float = 12, bold: bool = False, align=None, font: str = FONT):  # noqa: ANN001, ANN202
    p = doc.add_paragraph()
    _font(p.add_run(text), font, size, bold)
    if align is not None:
        p.alignment = align
    return p


def _cell(cell, text: str, bold: bool = False, size: float = 9) -> None:  # noqa: ANN001
    cell.text = ""
    _font(cell.paragraphs[0].add_run(text), FONT, size, bold)


def _repeat_header(row) -> None:  # noqa: ANN001
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _table(doc, t: Table, size: float = 9):  # noqa: ANN001, ANN202
    table = doc.add_table(rows=1 + len(t.rows), cols=len(t.header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for c, h in enumerate(t.header):
        _cell(table.cell(0, c), h, bold=True, size=size)
    _repeat_header(table.rows[0])
    for r, row in enumerate(t.rows, 1):
        for c, v in enumerate(row):
            _cell(table.cell(r, c), v, size=size)
    return table


def _score_table(doc, report: Report):  # noqa: ANN001, ANN202
    """The self-evaluation table: funding, then the indicators with 一级/二级 merged."""
    header = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施")
    rows: list[tuple[str, ...]] = []
    for f in report.funding:
        if f.weight is not None:
            rows.append(("预算执行率", "预算执行率", f.label, f"全年预算{f.full_year_wan:,.2f}万元",
                         f"执行{f.executed_wan:,.2f}万元（{100 * (f.rate or 0):.2f}%）", f"{f.weight:g}",
                         f"{f.score:.2f}" if f.score is not None else "—", ""))
    for r in report.rows:
        i = r.indicator
        rows.append((i.level1, i.level2, level3_cell(i), r.target_text, r.actual_text, f"{r.weight:g}",
                     "不适用" if r.score is None else f"{r.score:.2f}", r.explanation))
    t = report.total
    table = _table(doc, Table(header, tuple(rows)), size=8)
    last = table.add_row()
    _cell(last.cells[0], "总分", bold=True, size=8)
    last.cells[0].merge(last.cells[4])
    _cell(last.cells[5], "100", size=8)
    _cell(last.cells[6], f"{t.total:.2f}", bold=True, size=8)
    _cell(last.cells[7], f"等级为“{t.grade}”" + (f"（不适用指标已剔除，按{t.applicable_weight:g}分折算）" if t.dropped else ""),
          size=8)
    for col in (0, 1):  # merge repeated 一级 / 二级 cells down the column
        start = 1
        for i in range(2, len(rows) + 2):
            same = i <= len(rows) and rows[i - 1][col] == rows[start - 1][col] and (
                col == 0 or rows[i - 1][0] == rows[start - 1][0])
            if not same:
                if i - 1 > start:
                    text = rows[start - 1][col]
                    merged = table.cell(start, col).merge(table.cell(i - 1, col))
                    _cell(merged, text, size=8)
                start = i
    return table


def _signature(doc) -> None:  # noqa: ANN001
    table = doc.add_table(rows=2, cols=4)
    table.style = "Table Grid"
    for n, label in enumerate(SIGNATURE):
        r, c = divmod(n, 2)
        _cell(table.cell(r, 2 * c), label, bold=True, size=11)
        _cell(table.cell(r, 2 * c + 1), "", size=11)


def to_docx(report: Report, charts: dict[str, bytes] | None = None) -> bytes:
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.2)
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    if report.draft:
        hp = sec.header.paragraphs[0]
        run = hp.add_run("草稿")
        _font(run, HEAD_FONT, 28, True)
        run.font.color.rgb = RGBColor(0xC0, 0xC0, 0xC0)
        hp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _para(doc, report_title(report), 18, True, WD_ALIGN_PARAGRAPH.CENTER, HEAD_FONT)
    if report.draft:
        _para(doc, "草稿：以下事项尚未完成，报告不得报送。", 12, True)
        for line in missing_lines(report):
            _para(doc, line, 11)
    for s in sections(report):
        h = doc.add_heading(level=1)
        _font(h.add_run(s.title), HEAD_FONT, 15, True)
        for b in s.blocks:
            if b.heading:
                h2 = doc.add_heading(level=2)
                _font(h2.add_run(b.heading), HEAD_FONT, 13, True)
            elif b.table is not None:
                _table(doc, b.table)
            elif b.chart:
                if charts and b.chart in charts:
                    doc.add_picture(io.BytesIO(charts[b.chart]), width=Cm(15))
            else:
                p = _para(doc, b.text)
                p.paragraph_format.first_line_indent = Pt(24)
    h = doc.add_heading(level=1)
    _font(h.add_run(f"附件：{TABLE_TITLE}（{report.year}年度）"), HEAD_FONT, 15, True)
    _para(doc, f"项目名称：{report.project_name}", 10)
    _score_table(doc, report)
    for note in sic_notes(r.indicator for r in report.rows):
        _para(doc, note, 9)
    h = doc.add_heading(level=1)
    _font(h.add_run("附录：口径与评分设置"), HEAD_FONT, 15, True)
    from hotline_kpi.report.narrative import Table as T

    _table(doc, T(("项目", "说明"), tuple(settings_lines(report))))
    _para(doc, "")
    _signature(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
