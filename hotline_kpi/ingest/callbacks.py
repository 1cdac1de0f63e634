"""The satisfaction callback (回访) system's export, CSV or XLSX (source ``callbacks``).

One row per callback: 工单编号, 回访时间, 回访方式, 回访结果. A callback is identified by the
export's callback number (回访编号) when it has one, else by ticket number and callback
time; a callback seen again in a later export replaces the stored one. The "callbacks"
counters of each touched local date (of the callback) are recounted from the stored ones:

- ``survey_responses``: answers on the five-level scale (非常满意 ... 非常不满意); unreached
  (未接通) and refused (拒绝评价) callbacks are not responses;
- ``survey_satisfied``: 非常满意 and 满意, and 基本满意 when the formula setting
  ``basic_satisfied_is_satisfied`` is on (the default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from hotline_kpi.i18n import M_
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.ingest.base import IngestContext, ParsedRecords, Problem
from hotline_kpi.ingest.rows import RecordRows, sniff_export
from hotline_kpi.ingest.sheet import cell_text, parse_moment, read_table, value_key
from hotline_kpi.ingest.text import BadValue, header_key

SOURCE = "callbacks"

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "callback_id": ("回访编号", "回访单号", "回访id", "回访流水号", "callback id", "callback no"),
    "ticket_no": ("工单编号", "工单号", "工单编码", "ticket no", "ticket number", "ticket id"),
    "called_at": ("回访时间", "回访日期", "callback time", "called at"),
    "method": ("回访方式", "method"),
    "result": ("回访结果", "满意度评价", "评价结果", "回访评价", "result"),
}
REQUIRED = ("ticket_no", "called_at", "result")

#: Stored result -> the answers written for it.
RESULTS: dict[str, tuple[str, ...]] = {
    "very_satisfied": ("非常满意", "很满意", "very satisfied"),
    "satisfied": ("满意", "satisfied"),
    "basically_satisfied": ("基本满意", "比较满意", "basically satisfied"),
    "dissatisfied": ("不满意", "dissatisfied"),
    "very_dissatisfied": ("非常不满意", "很不满意", "very dissatisfied"),
    "unreached": ("未接通", "无人接听", "未接听", "联系不上", "unreached", "no answer"),
    "refused": ("拒绝评价", "拒评", "拒绝回访", "不愿评价", "refused"),
}
_RESULT = {header_key(a): r for r, aliases in RESULTS.items() for a in aliases}
#: Valid responses: the five levels of the scale.
RESPONSES = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")


def satisfied_results(formulas: FormulaSettings) -> tuple[str, ...]:
    base = ("very_satisfied", "satisfied")
    return base + ("basically_satisfied",) if formulas.basic_satisfied_is_satisfied else base


@dataclass(frozen=True)
class Callback:
    key: str
    ticket_no: str
    called_at: dt.datetime
    day: dt.date
    method: str
    result: str
    row: int

    def fields(self) -> dict[str, object]:
        return dict(ticket_no=self.ticket_no, called_at=self.called_at.astimezone(dt.timezone.utc), day=self.day,
                    method=self.method, result=self.result)


@dataclass
class ParsedCallbacks(ParsedRecords):
    callbacks: dict[str, Callback] = field(default_factory=dict)


class CallbackIngestor:
    """Reads callback (回访) exports (CSV in UTF-8 or GB18030, or XLSX)."""

    source = SOURCE
    resumable = False

    def sniff(self, path: Path, head: bytes) -> bool:
        return sniff_export(path, head, names=("回访", "callback"), aliases=HEADER_ALIASES,
                            header=("called_at", "result"))

    def parse(self, path: Path, ctx: IngestContext) -> ParsedCallbacks:
        file = path.name
        table = read_table(path, HEADER_ALIASES, REQUIRED, M_("callback export"), ctx.progress, sheet=ctx.sheet)
        zone = ctx.hotline.zone
        rows = RecordRows(table, file, ctx)
        label = rows.label
        callbacks: dict[str, Callback] = {}
        repeated = 0
        for row, cells in rows:
            found: list[Problem] = []
            ticket = cell_text(cells.get("ticket_no"))
            if not ticket:
                found.append(Problem(file, M_("a callback without its ticket number"), row, label["ticket_no"]))
            called: dt.datetime | None = None
            try:
                called = parse_moment(cells.get("called_at"), zone, epoch=table.epoch)
                if called is None:
                    found.append(Problem(file, M_("a callback without its time"), row, label["called_at"]))
            except BadValue as exc:
                found.append(Problem(file, exc.why, row, label["called_at"], cell_text(cells.get("called_at"))))
            text = cell_text(cells.get("result"))
            result = _RESULT.get(value_key(text))
            if result is None:
                found.append(Problem(file, M_("{column} not understood: expected 非常满意, 满意, 基本满意, 不满意, 非常不满意, "
                                              "未接通 or 拒绝评价", column=label["result"]), row, label["result"], text))
            if called is not None:
                found += rows.day(called.astimezone(zone).date(), row, label["called_at"])
            if found:
                rows.problems += found
                continue
            assert called is not None and result is not None
            local = called.astimezone(zone)
            if not rows.covers(local.date()):
                continue
            key = cell_text(cells.get("callback_id")) or f"{ticket}@{local.replace(tzinfo=None).isoformat()}"
            if key in callbacks:
                repeated += 1
            callbacks[key[:128]] = Callback(key[:128], ticket[:64], called, local.date(),
                                            cell_text(cells.get("method"))[:16], result, row)
        notes = [*table.notes, *rows.finish(len(callbacks), M_("callbacks"), M_("callback(s)"))]
        if repeated:
            notes.append(M_("{n:,} callback(s) appear more than once: the last row of each is kept", n=repeated))
        return ParsedCallbacks(source=SOURCE, notes=notes, callbacks=callbacks)
