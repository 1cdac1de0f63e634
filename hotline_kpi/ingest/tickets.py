"""The ticket (工单) system's export, CSV or XLSX (source ``tickets``).

One row per ticket; the same ticket reappears in later exports with a changed state
(returned, closed): the ticket number is its identity. Stored tickets are updated by a
newer row of the same number, never counted twice, and the "tickets" counters of every
day touched (old and new acceptance date) are recounted from the stored tickets:

- ``requests_accepted``: tickets accepted that local day, all channels (split by channel);
- ``first_contact_eligible``: of those, tickets of the operators' channels (setting
  ``tickets.operator_channels``, default 电话);
- ``first_contact_resolved``: of those, answered directly (直接答复) rather than dispatched;
- ``tickets_dispatched``: tickets dispatched (派单) to a handling unit;
- ``tickets_returned_operator_fault``: of those, returned (退单) with the operator at fault.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from hotline_kpi.i18n import M_
from hotline_kpi.ingest.base import IngestContext, IngestRejected, ParsedRecords, Problem
from hotline_kpi.ingest.rows import RecordRows, sniff_export
from hotline_kpi.ingest.sheet import cell_text, parse_moment, read_table, value_key
from hotline_kpi.ingest.text import BadValue, header_key, normalise_text

SOURCE = "tickets"

#: Canonical column -> header names used by ticket systems. Kept in step with
#: docs/data-formats.md.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "ticket_no": ("工单编号", "工单号", "工单编码", "ticket no", "ticket number", "ticket id"),
    "accepted_at": ("受理时间", "登记时间", "创建时间", "accepted at", "accepted time", "accept time"),
    "channel": ("受理渠道", "来源渠道", "渠道", "来源", "channel"),
    "request_type": ("诉求类型", "工单类型", "诉求分类", "request type"),
    "handling": ("办理方式", "处理方式", "handling"),
    "unit": ("承办单位", "承办部门", "handling unit"),
    "returned": ("是否退单", "returned"),
    "returned_at": ("退单时间", "returned at", "return time"),
    "return_reason": ("退单原因", "return reason"),
    "return_fault": ("退单责任", "退单责任认定", "责任认定", "return fault", "fault"),
    "closed_at": ("办结时间", "结案时间", "closed at", "close time"),
    "state": ("状态", "工单状态", "state", "status"),
}
REQUIRED = ("ticket_no", "accepted_at", "channel", "handling", "return_fault")

#: Channel spellings -> the channel names of data-formats.md. Any other name is refused
#: with its rows (it would silently leave the first-contact figures), unless the setting
#: ``tickets.operator_channels`` names it.
CHANNELS: dict[str, tuple[str, ...]] = {
    "电话": ("电话", "热线", "热线电话", "12345电话", "12345热线", "12345", "12345市民服务热线", "市民热线",
           "市民服务热线", "电话受理", "人工电话", "来电", "phone", "telephone", "hotline"),
    "网站": ("网站", "网页", "门户网站", "网络", "一网通办", "web", "website"),
    "APP": ("app", "手机app", "移动端", "客户端", "随申办", "mobile"),
    "微信": ("微信", "微信公众号", "公众号", "小程序", "wechat"),
    "邮件": ("邮件", "电子邮件", "邮箱", "email", "e-mail", "mail"),
    "其他": ("其他", "其它", "other"),
}
_CHANNEL = {header_key(a): name for name, aliases in CHANNELS.items() for a in (name, *aliases)}

_HANDLING = {header_key(a): v for v, aliases in {
    "direct": ("直接答复", "直接办理", "当场答复", "即时答复", "直接办结", "direct", "answered directly"),
    "dispatch": ("派单", "转办", "交办", "派发", "dispatch", "dispatched"),
}.items() for a in aliases}
_YES = {header_key(a) for a in ("是", "已退单", "退单", "y", "yes", "true", "1")}
_NO = {header_key(a) for a in ("否", "未退单", "n", "no", "false", "0")}
_FAULT = {header_key(a): v for v, aliases in {
    True: ("话务员有责", "有责", "话务员责任", "operator fault", "operator"),
    False: ("话务员无责", "无责", "非话务员责任", "承办单位责任", "no fault", "not operator"),
}.items() for a in aliases}


@dataclass(frozen=True)
class Ticket:
    number: str
    accepted_at: dt.datetime
    #: Local date of acceptance (the hotline's zone).
    day: dt.date
    channel: str
    request_type: str
    handling: str
    unit: str
    returned: bool
    operator_fault: bool
    returned_at: dt.datetime | None
    return_reason: str
    closed_at: dt.datetime | None
    state: str
    #: The latest moment in the row, UNIX seconds: a newer row of a ticket replaces an older.
    version: int
    row: int

    def fields(self) -> dict[str, object]:
        """The stored columns (moments in UTC)."""
        utc = dt.timezone.utc
        return dict(
            accepted_at=self.accepted_at.astimezone(utc), day=self.day, channel=self.channel,
            request_type=self.request_type, handling=self.handling, unit=self.unit, returned=self.returned,
            operator_fault=self.operator_fault,
            returned_at=self.returned_at.astimezone(utc) if self.returned_at else None,
            return_reason=self.return_reason, closed_at=self.closed_at.astimezone(utc) if self.closed_at else None,
            state=self.state, version=self.version,
        )


@dataclass
class ParsedTickets(ParsedRecords):
    tickets: dict[str, Ticket] = field(default_factory=dict)


def channel_name(text: str, extra: tuple[str, ...] = ()) -> str | None:
    """The channel a 受理渠道 value names; None when it is not known (nor in ``extra``)."""
    found = _CHANNEL.get(value_key(text))
    if found is None and normalise_text(text)[:32] in extra:
        found = normalise_text(text)[:32]
    return found


def known_channels() -> str:
    return "; ".join(f"{name} ({', '.join(a for a in aliases if a != name)})" for name, aliases in CHANNELS.items())


class TicketIngestor:
    """Reads ticket exports (CSV in UTF-8 or GB18030, or XLSX)."""

    source = SOURCE
    resumable = False

    def sniff(self, path: Path, head: bytes) -> bool:
        return sniff_export(path, head, names=("工单", "ticket"), not_names=("回访", "callback"),
                            aliases=HEADER_ALIASES, header=("ticket_no", "handling"))

    def parse(self, path: Path, ctx: IngestContext) -> ParsedTickets:
        file = path.name
        table = read_table(path, HEADER_ALIASES, REQUIRED, M_("ticket export"), ctx.progress, sheet=ctx.sheet)
        if "returned" not in table.columns and "returned_at" not in table.columns:
            raise IngestRejected(file, [Problem(file, M_("the ticket export needs 是否退单 or 退单时间 to tell "
                                                         "returned tickets"))])
        zone = ctx.hotline.zone
        rows = RecordRows(table, file, ctx)
        tickets: dict[str, Ticket] = {}
        replaced = 0
        label = rows.label
        for row, cells in rows:
            found: list[Problem] = []

            def bad(why: str, column: str, value: object = None) -> None:
                shown = None if value is None else cell_text(value)
                found.append(Problem(file, why, row, label.get(column, column), shown))

            number = cell_text(cells.get("ticket_no"))
            if not number:
                bad(M_("a ticket without a number"), "ticket_no")
            moments: dict[str, dt.datetime | None] = {}
            for column in ("accepted_at", "returned_at", "closed_at"):
                try:
                    moments[column] = parse_moment(cells.get(column), zone, epoch=table.epoch)
                except BadValue as exc:
                    bad(exc.why, column, cells.get(column))
                    moments[column] = None
            accepted = moments["accepted_at"]
            if accepted is None and not any(p.column == label["accepted_at"] for p in found):
                bad(M_("a ticket without its acceptance time"), "accepted_at")
            channel = cell_text(cells.get("channel"))
            if not channel:
                bad(M_("a ticket without its channel"), "channel")
            channel_key = channel_name(channel, ctx.tickets.operator_channels) if channel else ""
            if channel_key is None:
                bad(M_("{column} not understood: known channels are {known}; write one of them, or name the "
                       "channel in the setting tickets.operator_channels if operators take its tickets",
                       column=label.get("channel", "受理渠道"), known=known_channels()), "channel", channel)
            handling_text = cell_text(cells.get("handling"))
            handling = _HANDLING.get(value_key(handling_text)) if handling_text else ""
            if handling is None:
                bad(M_("{column} not understood: expected 直接答复 or 派单 (or empty while undecided)",
                       column=label.get("handling", "办理方式")), "handling",
                    handling_text)
            returned = moments["returned_at"] is not None
            if "returned" in cells:
                flag = value_key(cell_text(cells.get("returned")))
                if flag in _YES:
                    returned = True
                elif flag in _NO or not flag:
                    if returned:
                        bad(M_("是否退单 says no but 退单时间 is set"), "returned", cells.get("returned"))
                    returned = False
                else:
                    bad(M_("{column} not understood: expected 是 or 否", column=label.get("returned", "是否退单")), "returned",
                        cells.get("returned"))
            fault_text = cell_text(cells.get("return_fault"))
            fault = _FAULT.get(value_key(fault_text)) if fault_text else False
            if fault is None:
                bad(M_("{column} not understood: expected 话务员有责 or 无责", column=label.get("return_fault", "退单责任")),
                    "return_fault", fault_text)
                fault = False
            if returned and handling == "direct":
                bad(M_("a ticket answered directly (直接答复) cannot have been returned by a handling unit"),
                    "handling", handling_text)
            if fault and not returned:
                bad(M_("退单责任 is set on a ticket that was not returned"), "return_fault", fault_text)
            if accepted is not None:
                found += rows.day(accepted.astimezone(zone).date(), row, label["accepted_at"])
            if found:
                rows.problems += found
                continue
            assert accepted is not None and handling is not None
            if not rows.covers(accepted.astimezone(zone).date()):
                continue
            version = max(int(m.timestamp()) for m in moments.values() if m is not None)
            ticket = Ticket(
                number=number[:64], accepted_at=accepted, day=accepted.astimezone(zone).date(),
                channel=channel_key or "", request_type=cell_text(cells.get("request_type"))[:32],
                handling=handling, unit=cell_text(cells.get("unit"))[:200], returned=returned,
                operator_fault=bool(returned and fault), returned_at=moments["returned_at"],
                return_reason=cell_text(cells.get("return_reason")), closed_at=moments["closed_at"],
                state=cell_text(cells.get("state"))[:64], version=version, row=row,
            )
            earlier = tickets.get(ticket.number)
            if earlier is not None:
                replaced += 1
                if earlier.version > ticket.version:
                    continue
            tickets[ticket.number] = ticket
        notes = [*table.notes, *rows.finish(len(tickets), M_("tickets"), M_("ticket(s)"))]
        if replaced:
            notes.append(M_("{n:,} ticket number(s) appear more than once: the row with the latest time "
                            "(acceptance, return, closing) is kept", n=replaced))
        return ParsedTickets(source=SOURCE, notes=notes, tickets=tickets)
