"""The self-evaluation table as XLSX, in the layout a finance bureau expects: a title,
merged header cells, thin borders, 万元 with two decimals, percentages, A4 portrait
fitted to one page wide, header rows repeated on every printed page.

No text ever becomes a formula (reliability.md): openpyxl writes any string starting
with "=" as a formula, so every text cell is written with data type "s" and a text
starting with = + - @ TAB CR LF also gets the quote prefix (Excel shows it as typed and
never evaluates it, also after an edit).
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from hotline_kpi.report.appendix import settings_lines
from hotline_kpi.report.build import Report, level3_cell, sic_notes
from hotline_kpi.report.xlsx_cache import with_cached_values

TITLE = "项目支出绩效自评表"
_RISKY = ("=", "+", "-", "@", "\t", "\r", "\n")
_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")
_HEAD = PatternFill("solid", fgColor="DDEBF7")
_FONT = "宋体"
WAN_FORMAT = "#,##0.00"
PCT_FORMAT = "0.00%"
SCORE_FORMAT = "0.00"
COLS = 9  # A..I
#: Shown instead of the total / the grade when a score cell holds anything but a number or 不适用.
SCORE_TEXT = "得分栏有非数字内容"
GRADE_TEXT = "得分栏只能填写数字或“不适用”，请更正后再看总分与等级"
Cached = dict[tuple[str, str], "float | str"]


def set_text(ws: Worksheet, row: int, col: int, text: str):  # noqa: ANN201
    """A text cell that can never be a formula."""
    cell = ws.cell(row=row, column=col)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_RISKY):
        cell.quotePrefix = True
    return cell


def wan(yuan: float) -> float:
    """Yuan in 万元 to the fen, as stored: 18,377,662.62 元 is 1837.766262, not the float
    division's 1837.766262000001 (a cell's value is what Excel shows when it is widened)."""
    return round(round(yuan, 2) / 10_000, 6)


def _fen(value_wan: float | None) -> float | None:
    """An amount already in 万元, to the fen (6 decimals) without the float division's noise."""
    return None if value_wan is None else round(value_wan, 6)


def _num(ws: Worksheet, row: int, col: int, value: float | None, fmt: str):  # noqa: ANN201
    cell = ws.cell(row=row, column=col)
    if value is None:
        return set_text(ws, row, col, "—")
    cell.value = value
    cell.number_format = fmt
    return cell


def _merge(ws: Worksheet, row: int, c1: int, c2: int, text: str | None = None, head: bool = False,
           center: bool = False, r2: int | None = None) -> None:
    if text is not None:
        set_text(ws, row, c1, text)
    if c2 > c1 or (r2 or row) > row:
        ws.merge_cells(start_row=row, start_column=c1, end_row=r2 or row, end_column=c2)
    for r in range(row, (r2 or row) + 1):
        for c in range(c1, c2 + 1):
            cell = ws.cell(row=r, column=c)
            cell.border = _BORDER
            cell.alignment = _CENTER if center or head else _WRAP
            if head:
                cell.fill = _HEAD
                cell.font = Font(name=_FONT, bold=True, size=10)
            else:
                cell.font = Font(name=_FONT, size=10)


def _box(ws: Worksheet, row: int, cols: range, head: bool = False) -> None:
    for c in cols:
        cell = ws.cell(row=row, column=c)
        cell.border = _BORDER
        cell.alignment = _CENTER if head or c != 9 else _WRAP
        cell.font = Font(name=_FONT, size=10, bold=head)
        if head:
            cell.fill = _HEAD


def print_setup(ws: Worksheet, last_col: str, last_row: int, title_rows: str | None = None,
                draft: bool = False) -> None:
    """A4 portrait, fitted to one page wide, header rows repeated, 草稿 in the page header."""
    ps = ws.page_setup
    ps.paperSize = ws.PAPERSIZE_A4
    ps.orientation = "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ps.fitToWidth = 1
    ps.fitToHeight = 0
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.print_options.horizontalCentered = True
    ws.print_area = f"A1:{last_col}{max(1, last_row)}"
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    if draft:
        ws.oddHeader.center.text = "草稿"
        ws.oddHeader.center.size = 28
        ws.oddHeader.center.color = "C00000"


def formula(ws: Worksheet, coord: str, text: str, value: float | str, fmt: str | None,
            cached: Cached | None) -> None:
    """A formula of the program's own (cell references only, never user text), with the value
    it computes kept as the cached result (see :mod:`.xlsx_cache`)."""
    ws[coord] = text
    if fmt:
        ws[coord].number_format = fmt
    if cached is not None:
        cached[(ws.title, coord)] = value


def write_table(ws: Worksheet, report: Report, cached: Cached | None = None) -> int:
    cat = report.catalogue
    project = cat.project
    ws.title = "绩效自评表"
    widths = {"A": 11, "B": 11, "C": 20, "D": 16, "E": 16, "F": 11, "G": 8, "H": 8, "I": 42}
    for col, w in widths.items():
        ws.column_dimensions[col].width = w
    _merge(ws, 1, 1, COLS, f"{TITLE}（{report.year}年度）" + ("（草稿）" if report.draft else ""), center=True)
    ws.cell(row=1, column=1).font = Font(name=_FONT, bold=True, size=16)
    ws.row_dimensions[1].height = 30
    r = 2
    for label, value in (("项目名称", report.project_name), ("主管部门", project.department if project else ""),
                         ("实施单位", project.implementer if project else "")):
        _merge(ws, r, 1, 2, label, head=True)
        _merge(ws, r, 3, COLS, value)
        r += 1
    # funding block
    fund_top = r
    _merge(ws, r, 1, 2, "项目资金（万元）", head=True, r2=r + len(report.funding))
    for c, label in zip(range(3, 10), ("", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")):
        set_text(ws, r, c, label)
    _box(ws, r, range(3, 10), head=True)
    r += 1
    for row in report.funding:
        set_text(ws, r, 3, row.label)
        _num(ws, r, 4, _fen(row.initial_wan), WAN_FORMAT)
        _num(ws, r, 5, _fen(row.full_year_wan), WAN_FORMAT)
        _num(ws, r, 6, _fen(row.executed_wan), WAN_FORMAT)
        if row.weight is not None and row.rate is not None and row.score is not None:
            # The rate and its score recompute from the budget and execution cells.
            _num(ws, r, 7, row.weight, "0")
            formula(ws, f"H{r}", f"=IF(E{r}=0,0,F{r}/E{r})", row.rate, PCT_FORMAT, cached)
            points = f"MAX(0,G{r}*H{r})"
            if report.rules.cap_at_weight:
                points = f"MIN(G{r},{points})"
            formula(ws, f"I{r}", f"=ROUND({points},{report.rules.decimals})", row.score, SCORE_FORMAT, cached)
        elif row.weight is not None:
            _num(ws, r, 7, row.weight, "0")
            _num(ws, r, 8, row.rate, PCT_FORMAT)
            _num(ws, r, 9, row.score, SCORE_FORMAT)
        else:
            for c in (7, 8, 9):
                set_text(ws, r, c, "—")
        _box(ws, r, range(3, 10))
        r += 1
    assert r == fund_top + len(report.funding) + 1
    # overall goal
    _merge(ws, r, 1, 2, "年度总体目标", head=True, r2=r + 1)
    _merge(ws, r, 3, 5, "预期目标", head=True)
    _merge(ws, r, 6, COLS, "实际完成情况", head=True)
    _merge(ws, r + 1, 3, 5, report.overall_goal)
    _merge(ws, r + 1, 6, COLS, report.overall_actual)
    ws.row_dimensions[r + 1].height = 75
    r += 2
    # indicator rows
    header = r
    for c, label in enumerate(("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "",
                               "偏差原因分析及改进措施"), 1):
        set_text(ws, r, c, label)
    ws.merge_cells(start_row=r, start_column=7, end_row=r, end_column=8)
    _box(ws, r, range(1, 10), head=True)
    r += 1
    first = r
    for row in report.rows:
        ind = row.indicator
        set_text(ws, r, 1, ind.level1)
        set_text(ws, r, 2, ind.level2)
        set_text(ws, r, 3, level3_cell(ind))
        set_text(ws, r, 4, row.target_text)
        if ind.kind == "quantitative" and row.actual is not None:
            fmt = PCT_FORMAT if ind.unit == "ratio" else ("0.00" if ind.unit == "seconds" else "#,##0")
            _num(ws, r, 5, row.actual, fmt)
        else:
            set_text(ws, r, 5, row.actual_text)
        _num(ws, r, 6, row.weight, "0")
        if row.score is None:
            set_text(ws, r, 7, "不适用")
        else:
            _num(ws, r, 7, row.score, SCORE_FORMAT)
        ws.merge_cells(start_row=r, start_column=7, end_row=r, end_column=8)
        set_text(ws, r, 9, row.explanation)
        _box(ws, r, range(1, 10))
        ws.row_dimensions[r].height = max(30, min(240, 15 * (len(row.explanation) // 24 + 1)))
        r += 1
    # merge repeated level-1 / level-2 cells
    for col in (1, 2):
        start = first
        for i in range(first + 1, r + 1):
            here = ws.cell(row=i, column=col).value if i < r else None
            prev = ws.cell(row=start, column=col).value
            if here != prev or i == r:
                if i - 1 > start:
                    ws.merge_cells(start_row=start, start_column=col, end_row=i - 1, end_column=col)
                start = i
    t = report.total
    _merge(ws, r, 1, 5, "总分", head=True)
    _num(ws, r, 6, 100, "0")
    _box(ws, r, range(6, 7))
    # The total is a formula over the scores this program wrote (G of the indicator rows,
    # I of the funding row; a 不适用 text drops out of both sums), so an edited score
    # recomputes it; anything else in a score cell (a number typed as text, a blank) shows a
    # warning instead of a total. The cached values are ours, identical to the other formats.
    fund = fund_top + 1
    scores, weights = f"G{first}:G{r - 1}", f"F{first}:F{r - 1}"
    applicable = f"(G{fund}+SUMPRODUCT(ISNUMBER({scores})*{weights}))"
    bad = f'OR(COUNTBLANK({scores})>0,SUMPRODUCT(ISTEXT({scores})*({scores}<>"不适用"))>0)'
    formula(ws, f"G{r}", f'=IF({bad},"{SCORE_TEXT}",'
                         f"ROUND((I{fund}+SUM({scores}))*100/{applicable},{report.rules.decimals}))",
            t.total, SCORE_FORMAT, cached)
    _merge(ws, r, 7, 8)
    grades = sorted(report.rules.grades, key=lambda g: -g.at_least)
    grade = f'"{grades[-1].name}"'
    for g in reversed(grades[:-1]):
        grade = f'IF(G{r}>={g.at_least:g},"{g.name}",{grade})'
    shown = f"等级为“{t.grade}”（{t.total:.2f}分）" + (f"，不适用指标已剔除，按{t.applicable_weight:g}分折算" if t.dropped else "")
    _merge(ws, r, 9, 9)
    formula(ws, f"I{r}", f'=IF(ISNUMBER(G{r}),"等级为“"&{grade}&"”（"&TEXT(G{r},"0.00")&"分）"'
                         f'&IF({applicable}<G{fund}+SUM({weights}),"，不适用指标已剔除，按"&{applicable}&"分折算",""),'
                         f'"{GRADE_TEXT}")', shown, None, cached)
    r += 1
    for note in sic_notes(row.indicator for row in report.rows):  # under the table: its ※ cell explained
        _merge(ws, r, 1, COLS, note)
        r += 1
    for note in report.notes:
        _merge(ws, r, 1, COLS, "注：" + note)
        r += 1
    print_setup(ws, "I", r - 1, f"{header}:{header}", report.draft)
    return r


def _header(ws: Worksheet, row: int, labels: tuple[str, ...]) -> None:
    for c, label in enumerate(labels, 1):
        set_text(ws, row, c, label)
    _box(ws, row, range(1, len(labels) + 1), head=True)


def write_sheets(wb: Workbook, report: Report, charts: dict[str, bytes] | None = None,
                 cached: Cached | None = None) -> None:
    if report.draft:
        ws = wb.create_sheet("缺项清单", 0)
        ws.column_dimensions["A"].width = 36
        ws.column_dimensions["B"].width = 50
        set_text(ws, 1, 1, "草稿：以下事项尚未完成，报告不得报送。")
        _header(ws, 2, ("事项", "缺少"))
        for i, m in enumerate(report.to_do, 3):
            set_text(ws, i, 1, m.indicator)
            set_text(ws, i, 2, m.what)
            _box(ws, i, range(1, 3))
        print_setup(ws, "B", len(report.to_do) + 2, "2:2", True)
    # execution, all in 万元 (as the self-evaluation table)
    ws = wb.create_sheet("预算执行")
    for col, w in zip("ABCDE", (44, 16, 16, 12, 16)):
        ws.column_dimensions[col].width = w
    _header(ws, 1, ("预算项目", "全年预算（万元）", "全年执行（万元）", "执行率"))
    r = 2
    ex = report.execution
    for ln in ex.lines:
        set_text(ws, r, 1, ln.name)
        _num(ws, r, 2, wan(ln.budget_yuan), WAN_FORMAT)
        _num(ws, r, 3, wan(ln.executed_yuan), WAN_FORMAT)
        _num(ws, r, 4, ln.rate, PCT_FORMAT)
        _box(ws, r, range(1, 5))
        r += 1
    set_text(ws, r, 1, "合计")
    last = r - 1
    budget_wan = round(sum(wan(ln.budget_yuan) for ln in ex.lines), 6)  # the SUM of the cells
    executed_wan = round(sum(wan(ln.executed_yuan) for ln in ex.lines), 6)
    # totals as formulas over the lines written above
    formula(ws, f"B{r}", f"=SUM(B2:B{last})", budget_wan, WAN_FORMAT, cached)
    formula(ws, f"C{r}", f"=SUM(C2:C{last})", executed_wan, WAN_FORMAT, cached)
    formula(ws, f"D{r}", f"=IF(B{r}=0,0,C{r}/B{r})", executed_wan / budget_wan if budget_wan else 0, PCT_FORMAT,
            cached)
    _box(ws, r, range(1, 5), head=True)
    r += 2
    month_head = r
    _header(ws, r, ("月份", "当月支出（万元）", "累计支出（万元）", "累计执行率", "均衡进度（万元）"))
    r += 1
    running = 0.0
    for m, v in enumerate(ex.monthly_yuan, 1):
        set_text(ws, r, 1, f"{m}月")
        _num(ws, r, 2, wan(v), WAN_FORMAT)
        running = round(running + wan(v), 6)
        formula(ws, f"C{r}", f"=SUM(B${month_head + 1}:B{r})", running, WAN_FORMAT, cached)
        formula(ws, f"D{r}", f"=IF($B${last + 1}=0,0,C{r}/$B${last + 1})", running / budget_wan if budget_wan else 0,
                PCT_FORMAT, cached)
        _num(ws, r, 5, wan(ex.even_pace_yuan(m)), WAN_FORMAT)
        _box(ws, r, range(1, 6))
        r += 1
    print_setup(ws, "E", r - 1, "1:1", report.draft)
    # peers: only comparably defined indicators; the rest with why
    ws = wb.create_sheet("同行对比")
    for col, w in zip("ABCDE", (24, 14, 14, 10, 60)):
        ws.column_dimensions[col].width = w
    _header(ws, 1, ("指标", "本热线", report.peer_name or "标杆", "是否超过", "口径差异"))
    r = 2
    for p in report.peers:
        fmt = PCT_FORMAT if p.unit == "ratio" else "#,##0.00"
        set_text(ws, r, 1, p.label)
        _num(ws, r, 2, p.ours, fmt)
        _num(ws, r, 3, p.peer, fmt)
        set_text(ws, r, 4, "—" if p.beaten is None else ("是" if p.beaten else "否"))
        set_text(ws, r, 5, p.difference)
        _box(ws, r, range(1, 6))
        r += 1
    for label, diff in report.peer_excluded:
        set_text(ws, r, 1, label)
        set_text(ws, r, 4, "不比较")
        set_text(ws, r, 5, diff)
        _box(ws, r, range(1, 6))
        r += 1
    if report.peer_source:
        set_text(ws, r + 1, 1, "来源：" + report.peer_source)
        r += 1
    print_setup(ws, "E", r, "1:1", report.draft)
    # appendix
    ws = wb.create_sheet("附录 口径设置")
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 90
    lines = settings_lines(report)
    for i, (k, v) in enumerate(lines, 1):
        set_text(ws, i, 1, k)
        set_text(ws, i, 2, v)
        ws.cell(i, 2).alignment = _WRAP
        _box(ws, i, range(1, 3))
    print_setup(ws, "B", len(lines), None, report.draft)
    if charts:
        ws = wb.create_sheet("月度趋势图")
        r = 1
        for png in charts.values():
            img = Image(io.BytesIO(png))
            ws.add_image(img, f"A{r}")
            r += 16
        print_setup(ws, "J", r, None, report.draft)
        ws.page_setup.fitToHeight = 0


def to_xlsx(report: Report, charts: dict[str, bytes] | None = None) -> bytes:
    wb = Workbook()
    cached: Cached = {}
    write_table(wb.active, report, cached)
    write_sheets(wb, report, charts, cached)
    buf = io.BytesIO()
    wb.save(buf)
    return with_cached_values(buf.getvalue(), cached)
