"""The finance ledger's spending export, CSV or XLSX (source ``spending``).

One row per payment or per month and budget line: 日期 (a day) or 月份 (2019-03, 2019年3月),
预算项目 (the budget line: its id, its name in the catalogue, or a short name), 金额(元).
Budget lines are the catalogue's ``project.budget_lines`` of the row's year; a row naming
another line is rejected with the lines known. Amounts are yuan to the fen; a refund is a
negative amount. A file replaces everything stored for the months it covers (ledgers are
re-exported whole, corrections included), so loading a corrected export never counts twice.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hotline_kpi.i18n import M_
from hotline_kpi.catalogue import BudgetLine
from hotline_kpi.ingest.base import IngestContext, IngestRejected, ParsedRecords, Problem
from hotline_kpi.ingest.rows import RecordRows
from hotline_kpi.ingest.sheet import cell_text, read_table
from hotline_kpi.ingest.workbook import TABLE_SUFFIXES
from hotline_kpi.ingest.text import BadValue, header_key, parse_date, parse_number

SOURCE = "spending"

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("日期", "支付日期", "支出日期", "记账日期", "凭证日期", "day"),
    "month": ("月份", "月度", "支出月份", "期间", "会计期间"),
    "budget_line": ("预算项目", "预算科目", "预算明细", "支出项目", "项目", "budget line", "line"),
    "amount": ("金额", "金额(元)", "金额（元）", "支出金额", "支出金额(元)", "执行数", "执行金额", "amount", "amount yuan",
               "amount_yuan"),
}

#: Largest amount accepted on one row: more than the whole office budget many times over.
MAX_AMOUNT_YUAN = Decimal(10) ** 11

_MONTH = re.compile(r"^(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*月?|(?P<m2>\d{2}))$")
#: Short names the ledger uses for the seed's four lines (the catalogue's names are long).
_SHORT = {
    "basic_operation": ("基本运行费", "12345热线基本运行费", "基本运行"),
    "platform": ("专用软硬件设施经费", "话务平台", "软硬件设施"),
    "agent_staffing": ("话务语音座席人员聘用及管理经费", "座席人员", "人员聘用及管理经费"),
    "taxes": ("应交税费", "税费", "税金"),
}


def parse_month(value: object) -> dt.date | None:
    """The first day of a month from "2019-03", "2019/3", "2019年3月", "201903" or a date cell."""
    if value is None or cell_text(value) == "":
        return None
    if isinstance(value, dt.date):
        return (value.date() if isinstance(value, dt.datetime) else value).replace(day=1)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _MONTH.match(text)
    if not m:
        raise BadValue(M_("not a month (expected e.g. 2019-03 or 2019年3月)"))
    year, month = int(m.group("y")), int(m.group("m") or m.group("m2"))
    if not 1 <= month <= 12:
        raise BadValue(M_("month {month} does not exist", month=month))
    return dt.date(year, month, 1)


def line_index(lines: tuple[BudgetLine, ...]) -> dict[str, str]:
    """Every accepted spelling of a budget line -> its id."""
    index: dict[str, str] = {}
    for line in lines:
        for name in (line.id, line.name, line.name_en, *_SHORT.get(line.id, ())):
            if name:
                index[header_key(name)] = line.id
    return index


@dataclass
class ParsedSpending(ParsedRecords):
    #: (day, monthly, budget line) -> fen.
    amounts: dict[tuple[dt.date, bool, str], int] = field(default_factory=dict)


class SpendingIngestor:
    """Reads the finance ledger's spending export (CSV in UTF-8 or GB18030, or XLSX)."""

    source = SOURCE
    resumable = False

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() not in TABLE_SUFFIXES:
            return False
        name = path.name.casefold()
        return any(k in name for k in ("spending", "支出", "预算执行", "经费"))

    def parse(self, path: Path, ctx: IngestContext) -> ParsedSpending:
        file = path.name
        table = read_table(path, HEADER_ALIASES, ("budget_line", "amount"), M_("spending export"), ctx.progress, sheet=ctx.sheet)
        if "date" not in table.columns and "month" not in table.columns:
            raise IngestRejected(file, [Problem(file, M_("the spending export needs a 日期 (date) or 月份 (month) column"))])
        rows = RecordRows(table, file, ctx)
        label = rows.label
        amounts: dict[tuple[dt.date, bool, str], Decimal] = {}
        indexes: dict[int, dict[str, str]] = {}
        for row, cells in rows:
            line_text = cell_text(cells.get("budget_line"))
            if header_key(line_text) in ("合计", "总计", "小计", "total"):
                continue
            found: list[Problem] = []
            day: dt.date | None = None
            monthly = False
            try:
                if "date" in table.columns and cell_text(cells.get("date")):
                    day = parse_date(cells.get("date"), epoch=table.epoch)
                elif "month" in table.columns:
                    day, monthly = parse_month(cells.get("month")), True
                if day is None:
                    found.append(Problem(file, M_("a row without its date or month"), row))
            except BadValue as exc:
                col = "date" if "date" in table.columns and cell_text(cells.get("date")) else "month"
                found.append(Problem(file, exc.why, row, label[col], cell_text(cells.get(col))))
            amount: Decimal | None = None
            try:
                number = parse_number(cells.get("amount"))
                if number is None:
                    found.append(Problem(file, M_("a row without its amount"), row, label["amount"]))
                elif number.percent:
                    found.append(Problem(file, M_("expected an amount in yuan, got a percentage"), row, label["amount"],
                                         cell_text(cells.get("amount"))))
                elif abs(number.value) > MAX_AMOUNT_YUAN:
                    found.append(Problem(file, M_("amount beyond the plausible maximum {max:,} yuan", max=MAX_AMOUNT_YUAN), row,
                                         label["amount"], cell_text(cells.get("amount"))))
                else:
                    amount = number.value
            except BadValue as exc:
                found.append(Problem(file, exc.why, row, label["amount"], cell_text(cells.get("amount"))))
            line_id: str | None = None
            if day is not None:
                found += rows.day(day, row, label.get("date") or label["month"])
                cat = ctx.catalogues.get(ctx.hotline.id, day.year)
                lines = cat.project.budget_lines if cat is not None and cat.project is not None else ()
                if cat is None and not found:
                    rows.covers(day)  # a year without a catalogue: the row is left out (one note)
                    continue
                if cat is not None and not lines:
                    found.append(Problem(file, M_("the {year} catalogue has no project budget lines", year=day.year), row))
                elif lines:
                    if day.year not in indexes:
                        indexes[day.year] = line_index(lines)
                    line_id = indexes[day.year].get(header_key(line_text))
                    if line_id is None:
                        known = ", ".join(f"{ln.id} ({ln.name})" for ln in lines)
                        found.append(Problem(file, M_("unknown budget line (known: {known})", known=known), row,
                                             label["budget_line"], line_text))
            if found:
                rows.problems += found
                continue
            assert day is not None and amount is not None and line_id is not None
            key = (day, monthly, line_id)
            amounts[key] = amounts.get(key, Decimal(0)) + amount
        left_out = rows.finish(len(amounts), M_("spending rows"), M_("spending row(s)"))
        fen = {k: int((v * 100).to_integral_value()) for k, v in amounts.items()}
        notes = [*table.notes, *left_out]
        notes.append(M_("{yuan:,.2f} yuan on {lines} budget line(s), {months} month(s)", yuan=sum(fen.values()) / 100,
                        lines=len({k[2] for k in fen}), months=len({k[0].replace(day=1) for k in fen})))
        return ParsedSpending(source=SOURCE, notes=notes, amounts=fen)
