"""The ingestors known by ``--source`` name, and recognising a file's source.

A file is recognised by its content: the header row of a sheet or CSV (the columns each
source requires), the line shape of a queue_log. The name is only a hint: it decides
between sources whose content both match, and names the source when the content matches
none (its ingestor then says what is wrong with the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from hotline_kpi.i18n import M_, join, q, source_label
from hotline_kpi.ingest.base import Ingestor, RecordIngestor

AnyIngestor = Union[Ingestor, RecordIngestor]


class UnknownSource(ValueError):
    """A file whose source cannot be told. ``str()`` is the message for the command line;
    ``inbox`` the same for whoever drops files in the inbox, where there is no ``--source``."""

    def __init__(self, message: object, inbox: object = None) -> None:
        super().__init__(message)
        self.inbox = message if inbox is None else inbox


def ingestors() -> dict[str, AnyIngestor]:
    from hotline_kpi.ingest.callbacks import CallbackIngestor
    from hotline_kpi.ingest.daily_report import DailyReportIngestor
    from hotline_kpi.ingest.queue_log import QueueLogIngestor
    from hotline_kpi.ingest.spending import SpendingIngestor
    from hotline_kpi.ingest.tickets import TicketIngestor

    found: list[AnyIngestor] = [DailyReportIngestor(), QueueLogIngestor(), TicketIngestor(), CallbackIngestor(),
                                SpendingIngestor()]
    return {i.source: i for i in found}


def get_ingestor(source: str) -> AnyIngestor:
    known = ingestors()
    try:
        return known[source]
    except KeyError:
        raise UnknownSource(M_("unknown source {source} (known: {known})", source=q(source), known=", ".join(sorted(known)))) from None


def _header_sources() -> dict[str, object]:
    """Source -> whether a table (the first rows of a sheet) holds its header."""
    from hotline_kpi.ingest import callbacks, spending, tickets
    from hotline_kpi.ingest.grid import column_for, find_header
    from hotline_kpi.ingest.sheet import has_header

    def daily(rows: list[list[object]]) -> bool:
        # Three known header cells, a date among them; two meaning the same (受理量 and 受理总量)
        # count both: the daily report's reader then says so, naming both headers.
        found = find_header(rows)
        return found is not None and (found[1] >= 3 or sum(column_for(c)[0] is not None for c in rows[found[0]]) >= 3)

    return {
        "daily-report": daily,
        "tickets": lambda rows: has_header(rows, tickets.HEADER_ALIASES, tickets.REQUIRED),
        "callbacks": lambda rows: has_header(rows, callbacks.HEADER_ALIASES, callbacks.REQUIRED),
        "spending": lambda rows: has_header(rows, spending.HEADER_ALIASES, ("budget_line", "amount")),
    }


#: What each source looks like, for the message when a file is recognised as none.
LOOKS = {
    "daily-report": M_("a header with 日期 and columns such as 受理量, 呼入量, 接通量"),
    "tickets": M_("a header with 工单编号, 受理时间, 受理渠道, 办理方式, 是否退单"),
    "callbacks": M_("a header with 工单编号, 回访时间, 回访结果"),
    "spending": M_("a header with 预算项目 and 金额"),
    "queue-log": M_("Asterisk queue_log lines (time|call id|queue|agent|event|...)"),
}


def detect_source(path: Path, head: bytes) -> str:
    """The source of a file by its content, the name deciding only a tie or a file whose
    content matches none; :class:`UnknownSource` saying what was seen otherwise."""
    from hotline_kpi.ingest.workbook import peek_tables, seen_text

    known = ingestors()
    named = [name for name, ing in known.items() if ing.sniff(path, head)]
    tables = peek_tables(path, head)
    content = [name for name, match in _header_sources().items() if any(match(rows) for _, rows in tables)]
    if head.strip() and known["queue-log"].sniff(path, head):
        content.append("queue-log")
    if len(content) == 1:
        return content[0]
    if len(content) > 1:
        both = [n for n in content if n in named]
        if len(both) == 1:
            return both[0]
        raise UnknownSource(M_("{path}: its content looks like several sources ({sources}); pass --source",
                               path=str(path), sources=join(source_label(c) for c in content)))
    if len(named) == 1:
        return named[0]  # its ingestor says what is wrong with the content
    listed = join([M_("{label} ({name}): {looks}", label=source_label(name), name=name, looks=LOOKS.get(name, "?"))
                   for name in sorted(known)], M_("; "))
    seen = seen_text(tables, head)
    raise UnknownSource(
        M_("{path}: cannot tell which system produced this file: saw {seen}. Known sources: {listed}. Name its "
           "source with --source.", path=str(path), seen=seen, listed=listed),
        M_("{path}: cannot tell which system produced this file: saw {seen}. Known sources: {listed}. To have the "
           "inbox recognise it, give it the header of its source, or put the source in its name (日报, 工单, 回访 "
           "or 支出).", path=str(path), seen=seen, listed=listed))
