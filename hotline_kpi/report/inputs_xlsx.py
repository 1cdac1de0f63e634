"""The office's input file as an XLSX workbook (for those who would rather fill a sheet
than a YAML file): written empty by ``report template --format xlsx``, read back into the
same :class:`~hotline_kpi.report.inputs.ReportInputs`. Nothing is pre-filled; a rating
column offers the tiers as a drop-down. Errors name the file, sheet, row and column."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hotline_kpi.i18n import M_, Msg, q
from hotline_kpi.report.inputs import InputsError, ReportInputs, load_yaml_inputs, parse_inputs, percent_of

SHEET = "指标评级"
RANK_SHEET = "全国排名"
TEXT_SHEET = "报告文字"
#: Column header -> input key of an indicator (A holds the indicator's code).
COLUMNS = (("指标代码", "id"), ("三级指标", None), ("分值", None), ("是否适用（是/否）", "applicable"),
           ("评级", "band"), ("档内得分比例（%，可空）", "percent"), ("实际完成值", "actual_text"),
           ("佐证材料", "evidence"), ("偏差原因分析及改进措施", "explanation"))
RANK_FIELDS = (("名次", "rank"), ("参评热线数", "of"), ("得分", "score"), ("来源", "source"))
TEXT_FIELDS = (("实际完成情况（年度总体目标）", "overall_actual"), ("自评工作开展情况", "self_evaluation_work"),
               ("存在问题及下一步工作", "problems_next_steps"), ("自评结果应用", "result_use"))


def template_xlsx(rows: list[tuple[str, str, float, bool]], tiers: list[str], year: int) -> bytes:
    """``rows``: (code, 三级指标, 分值, qualitative) per indicator; the rest is left empty."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    from hotline_kpi.report.xlsx import print_setup, set_text

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    for c, (label, _) in enumerate(COLUMNS, 1):
        set_text(ws, 1, c, label)
        ws.column_dimensions[chr(64 + c)].width = (14, 28, 6, 10, 10, 12, 20, 40, 40)[c - 1]
    dv = DataValidation(type="list", formula1='"' + ",".join(tiers) + '"', allow_blank=True)
    ws.add_data_validation(dv)
    for r, (code, name, weight, qualitative) in enumerate(rows, 2):
        set_text(ws, r, 1, code)
        set_text(ws, r, 2, name)
        ws.cell(r, 3).value = weight
        if qualitative:
            dv.add(f"E{r}")
        else:
            for c in (5, 6, 7, 8):
                set_text(ws, r, c, "—")
    print_setup(ws, "I", len(rows) + 1, "1:1")
    for title, fields in ((RANK_SHEET, RANK_FIELDS), (TEXT_SHEET, TEXT_FIELDS)):
        sheet = wb.create_sheet(title)
        sheet.column_dimensions["A"].width = 30
        sheet.column_dimensions["B"].width = 80
        for r, (label, _) in enumerate(fields, 1):
            set_text(sheet, r, 1, label)
        print_setup(sheet, "B", len(fields))
    set_text(wb[TEXT_SHEET], len(TEXT_FIELDS) + 2, 1, f"{year}年度")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def load_inputs(path: Path) -> ReportInputs:
    """The office's input file, YAML or a workbook (by its suffix)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_inputs_xlsx(path)
    return load_yaml_inputs(path)


def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


def read_inputs_xlsx(path: Path) -> ReportInputs:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook
        raise InputsError(path, [M_("cannot read: {error}", error=q(exc))]) from None
    problems: list[Msg] = []
    data: dict[str, Any] = {"indicators": {}, "ranking": {}}
    if SHEET not in wb.sheetnames:
        raise InputsError(path, [M_("sheet {sheet} not found", sheet=q(SHEET))])
    ws = wb[SHEET]
    for r in range(2, ws.max_row + 1):
        code = _text(ws.cell(r, 1).value)
        if not code:
            continue
        entry: dict[str, Any] = {}
        for c, (label, key) in enumerate(COLUMNS, 1):
            if key in (None, "id"):
                continue
            cell = ws.cell(r, c)
            v = _text(cell.value)
            if not v or v == "—":
                continue
            if key == "applicable":
                if v not in ("是", "否"):
                    problems.append(M_("sheet {sheet}, row {row}, column {column}: {value} is not 是 or 否", sheet=SHEET,
                                       row=r, column=label, value=q(v)))
                    continue
                entry[key] = v == "是"
            elif key == "percent":
                # A number formatted as a percentage (shown 50%) is 50, as the office sees it.
                try:
                    shown = isinstance(cell.value, (int, float)) and "%" in (cell.number_format or "")
                    entry[key] = f"{percent_of(cell.value, shown):g}%"
                except ValueError as exc:
                    problems.append(M_("sheet {sheet}, row {row}, column {column}: {error}", sheet=SHEET, row=r,
                                       column=label, error=exc.args[0] if exc.args else str(exc)))
            else:
                entry[key] = v
        data["indicators"][code] = entry
    if RANK_SHEET in wb.sheetnames:
        for r, (label, key) in enumerate(RANK_FIELDS, 1):
            v = _text(wb[RANK_SHEET].cell(r, 2).value)
            if v:
                data["ranking"][key] = v
    if TEXT_SHEET in wb.sheetnames:
        for r, (label, key) in enumerate(TEXT_FIELDS, 1):
            v = _text(wb[TEXT_SHEET].cell(r, 2).value)
            if v:
                data[key] = v
    if problems:
        raise InputsError(path, problems)
    return parse_inputs(path, data)
