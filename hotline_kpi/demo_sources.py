"""The demo year as the hotline's own systems export it: the call platform's queue_log,
the ticket (工单) export and the callback (回访) export, consistent with each other.

The daily figures of :func:`hotline_kpi.demo.generate_year` are the plan: each day gets
that many offered and answered calls (with waits giving that average answer time and
that many answers within 15 s), one ticket per answered call plus the online requests,
the planned direct answers, dispatches and operator-fault returns, and the planned
callback answers. The files are what those systems would hold:

- ``queue_log-YYYYMM``: the queue_log rotated monthly at local midnight (a call entering
  before midnight on the last day ends in the next file), with ring-no-answers,
  completes, a few calls that never exit and a few lines without their ENTERQUEUE;
- ``工单导出-YYYY-MM.csv``: each month's tickets with their state at the end of the
  month; a ticket returned or closed after that appears again, updated, in the next
  month's export (the ticket number is the identity);
- ``回访导出-YYYY-MM.csv``: each month's callbacks, with unreached and refused ones.

**Scale.** A year of 11,000 calls a day is 4 million calls, 12 million queue_log lines
and 4 million tickets: generating and loading that takes minutes (bench/ingest_queue_log.py
does it for the queue_log alone). The demo therefore writes a sample of ``scale`` (default
1 in 10) of every day's calls, tickets and callbacks: every rate of the plan is kept,
while totals (calls, requests accepted) are the sample's.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple
from zoneinfo import ZoneInfo

from hotline_kpi.demo import DemoDay, generate_year
from hotline_kpi.files import write_atomic

#: Share of the plan's calls, tickets and callbacks the demo writes (see the module doc).
DEMO_SCALE = 0.025
ZONE = ZoneInfo("Asia/Shanghai")

# Calls by local hour: nights are quiet, mornings busiest.
_HOURS = (0.3, 0.2, 0.15, 0.12, 0.12, 0.2, 0.6, 2.0, 5.5, 8.0, 8.2, 7.2, 5.0, 6.0, 7.6, 7.4, 6.8, 5.4, 3.6,
          3.2, 3.0, 2.4, 1.5, 0.8)
_QUEUES = ("12345",) * 9 + ("12345-en",)
_AGENTS = tuple(f"SIP/{8000 + i}" for i in range(120)) + tuple(
    f"话务员 {n}" for n in ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏"))
_ONLINE = (("网站", 0.35), ("APP", 0.3), ("微信", 0.3), ("邮件", 0.05))
_KINDS = (("咨询", 0.55), ("求助", 0.2), ("投诉", 0.18), ("建议", 0.05), ("表扬", 0.02))
_UNITS = ("黄浦区政府", "徐汇区政府", "浦东新区政府", "市住房城乡建设管理委", "市交通委", "市市场监管局",
          "市生态环境局", "市公安局", "市人力资源社会保障局", "市绿化市容局")
_TICKET_HEADER = ["工单编号", "受理时间", "受理渠道", "诉求类型", "办理方式", "承办单位", "是否退单", "退单时间",
                  "退单原因", "退单责任", "办结时间", "状态"]
_CALLBACK_HEADER = ["回访编号", "工单编号", "回访时间", "回访方式", "回访结果"]


def _scaled(n: int | None, scale: float) -> int:
    return 0 if n is None else int(round(n * scale))


def _day_start(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=ZONE).timestamp())


def _split(total: int, shares: Iterable[tuple[str, float]]) -> list[tuple[str, int]]:
    items = list(shares)
    out, left = [], total
    for i, (name, share) in enumerate(items):
        n = left if i == len(items) - 1 else min(left, int(round(total * share)))
        out.append((name, n))
        left -= n
    return out


# --- calls ------------------------------------------------------------------------------------------


class Call(NamedTuple):
    callid: str
    queue: str
    enter: int
    #: "answered" | "abandon" | "timeout" | "open" (never exits)
    outcome: str
    wait: int
    talk: int
    agent: str
    #: A random number in [0, 1) that picks the call's optional lines.
    luck: float


def _answer_waits(rng: random.Random, answered: int, within: int, wait_sum: int) -> list[int]:
    """``answered`` waits in whole seconds, ``within`` of them at most 15 s, adding up to
    ``wait_sum`` as nearly as the bounds allow."""
    within = max(0, min(within, answered))
    expo = rng.expovariate
    fast = [min(15, int(expo(0.25))) for _ in range(within)]
    slow = [16 + int(expo(1 / 14.0)) for _ in range(answered - within)]
    waits = fast + slow
    diff = wait_sum - sum(waits)
    # Spread the difference over the calls, within their bands (fast 0..15, slow 16..600).
    for _ in range(4):
        if diff == 0 or not waits:
            break
        step = diff // len(waits) or (1 if diff > 0 else -1)
        for i in range(len(waits)):
            if diff == 0:
                break
            lo, hi = (0, 15) if i < within else (16, 600)
            new = max(lo, min(hi, waits[i] + step))
            diff -= new - waits[i]
            waits[i] = new
    rng.shuffle(waits)
    return waits


def plan_calls(day: DemoDay, rng: random.Random, scale: float = 1.0, first_seq: int = 0) -> list[Call]:
    """The calls of one plan day: offered, answered, answer waits and 15-s answers as planned."""
    offered = _scaled(day.calls_offered, scale)
    answered = min(offered, _scaled(day.calls_answered, scale))
    within = min(answered, _scaled(day.calls_answered_within_15s, scale))
    wait_sum = round(day.asa_seconds * answered)
    start = _day_start(day.day)
    rand = rng.random
    hours = rng.choices(range(24), weights=_HOURS, k=offered)
    enters = sorted([start + h * 3600 + int(rand() * 3600) for h in hours])
    outcomes = ["answered"] * answered + ["unanswered"] * (offered - answered)
    rng.shuffle(outcomes)
    waits = iter(_answer_waits(rng, answered, within, wait_sum))
    agents = iter(rng.choices(_AGENTS, k=answered))
    expo = rng.expovariate
    calls = []
    append = calls.append
    nq = len(_QUEUES)
    for i, (enter, outcome) in enumerate(zip(enters, outcomes)):
        seq = first_seq + i
        queue = _QUEUES[seq % nq]
        luck = rand()
        if outcome == "answered":
            append(Call(f"{enter - 12}.{seq}", queue, enter, "answered", next(waits), 30 + int(expo(1 / 210)),
                        next(agents), luck))
        elif luck < 0.004:  # a call that never leaves the log (the platform lost its exit)
            append(Call(f"{enter}.{seq}", queue, enter, "open", 0, 0, "NONE", luck))
        elif luck < 0.85:
            wait = int(rand() * 5) if luck < 0.13 else 6 + int(expo(1 / 40))  # short: <= 5 s
            append(Call(f"{enter}.{seq}", queue, enter, "abandon", wait, 0, "NONE", luck))
        else:
            append(Call(f"{enter}.{seq}", queue, enter, "timeout", 120, 0, "NONE", luck))
    return calls


def _call_lines(call: Call, out: list[tuple[int, int, str]]) -> None:
    """Append (time, order within the call, line) of one call's queue_log events to ``out``."""
    c, q, e, outcome, wait, talk, agent, luck = call
    out.append((e, 0, f"{e}|{c}|{q}|NONE|ENTERQUEUE||13{int(luck * 1e9):09d}|1"))
    if outcome == "answered":
        t = e + wait
        if wait > 15 and luck < 0.3:
            out.append((e + 15, 1, f"{e + 15}|{c}|{q}|{_AGENTS[int(luck * 1000) % len(_AGENTS)]}|RINGNOANSWER|15000"))
        out.append((t, 2, f"{t}|{c}|{q}|{agent}|CONNECT|{wait}|{c}1|{min(wait, 3)}"))
        end = t + talk
        who = "COMPLETECALLER" if luck < 0.6 else "COMPLETEAGENT"
        out.append((end, 3, f"{end}|{c}|{q}|{agent}|{who}|{wait}|{talk}|1"))
    elif outcome == "abandon":
        out.append((e + wait, 2, f"{e + wait}|{c}|{q}|NONE|ABANDON|1|1|{wait}"))
    elif outcome == "timeout":
        out.append((e + wait, 2, f"{e + wait}|{c}|{q}|NONE|EXITWITHTIMEOUT|1|1|{wait}"))


def queue_log_days(plan: Iterable[DemoDay], seed: int, scale: float = 1.0
                   ) -> Iterator[tuple[dt.date, list[Call], bytes]]:
    """Per plan day: its calls and the queue_log lines up to that day's local midnight, in
    time order (lines after midnight go with the next day's, as in a live log)."""
    rng = random.Random(seed * 7919 + 1)
    carry: list[tuple[int, int, str]] = []
    seq = 0
    days = list(plan)
    for n, day in enumerate(days):
        calls = plan_calls(day, rng, scale, seq)
        seq += len(calls)
        events = carry
        for call in calls:
            _call_lines(call, events)
        if n % 28 == 0:  # now and then, a line of a call whose ENTERQUEUE is in no file
            t = _day_start(day.day) + 7 * 3600 + 11
            events.append((t, 3, f"{t}|{t - 700}.{seq}|12345-main|SIP/8001|COMPLETEAGENT|9|650|1"))
            seq += 1
        events.sort()
        end = _day_start(day.day + dt.timedelta(days=1))
        if n == len(days) - 1:
            end = 1 << 62
        cut = bisect.bisect_left(events, (end,))
        today, carry = events[:cut], events[cut:]
        text = "\n".join(line for _, _, line in today)
        if day.day.day == 1 and day.day.month == 1:
            text = f"{_day_start(day.day) - 60}|NONE|NONE|NONE|QUEUESTART|\n" + text
        yield day.day, calls, (text + "\n").encode("utf-8") if text else b""


# --- tickets -----------------------------------------------------------------------------------------


@dataclass
class Ticket:
    number: str
    accepted: int
    channel: str
    kind: str
    handling: str
    unit: str
    returned_at: int | None
    fault: bool
    closed_at: int | None


def plan_tickets(day: DemoDay, answered_calls: list[Call], rng: random.Random, scale: float) -> list[Ticket]:
    """One ticket per answered call (accepted when the call connects) plus the online requests."""
    start = _day_start(day.day)
    last = _day_start(day.day + dt.timedelta(days=1)) - 1
    # Accepted when the call connects; one connecting after midnight is booked on its day.
    phone = [min(c.enter + c.wait, last) for c in answered_calls]
    online_n = max(0, _scaled(day.requests_accepted - day.calls_answered, scale))
    rand = rng.random
    channels = [("电话", t) for t in phone]
    for name, n in _split(online_n, _ONLINE):
        channels += [(name, start + int(rand() * 86_400)) for _ in range(n)]
    resolved = min(len(phone), _scaled(day.first_contact_resolved, scale))
    direct_phone = set(rng.sample(range(len(phone)), resolved))
    kinds = rng.choices([k for k, _ in _KINDS], weights=[w for _, w in _KINDS], k=len(channels))
    units = rng.choices(_UNITS, k=len(channels))
    expo = rng.expovariate
    tickets: list[Ticket] = []
    for i, (channel, accepted) in enumerate(channels):
        direct = i in direct_phone if channel == "电话" else rand() < 0.4
        closed = accepted + (600 if direct else int(86_400 * (1 + expo(1 / 4))))
        tickets.append(Ticket("", accepted, channel, kinds[i], "直接答复" if direct else "派单",
                              "" if direct else units[i], None, False, closed))
    dispatched = [t for t in tickets if t.handling == "派单"]
    faults = min(len(dispatched), _scaled(day.tickets_returned_operator_fault, scale))
    returned = rng.sample(dispatched, min(len(dispatched), faults + len(dispatched) // 50))
    for j, t in enumerate(returned):
        t.returned_at = t.accepted + int(3600 * (2 + expo(1 / 30)))
        t.fault = j < faults
        t.closed_at = (t.closed_at or t.accepted) + 2 * 86_400
    tickets.sort(key=lambda t: t.accepted)
    for k, t in enumerate(tickets):
        t.number = f"{day.day:%Y%m%d}{k + 1:06d}"
    return tickets


_DAY_TEXT: dict[int, str] = {}


def _moment(t: int | None) -> str:
    """Local time as the exports write it: 2019-01-01 08:30:05 (Asia/Shanghai has no DST)."""
    if t is None:
        return ""
    start = t - (t + 8 * 3600) % 86_400
    day = _DAY_TEXT.get(start)
    if day is None:
        day = _DAY_TEXT[start] = dt.datetime.fromtimestamp(start, ZONE).strftime("%Y-%m-%d")
    s = t - start
    return f"{day} {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _ticket_row(t: Ticket, as_of: int) -> list[str]:
    returned = t.returned_at is not None and t.returned_at <= as_of
    closed = t.closed_at is not None and t.closed_at <= as_of
    state = "已办结" if closed else ("已退单" if returned else ("办理中" if t.handling == "派单" else "已办结"))
    return [t.number, _moment(t.accepted), t.channel, t.kind, t.handling, t.unit, "是" if returned else "否",
            _moment(t.returned_at) if returned else "",
            ("派单错误" if t.fault else "非本单位职责") if returned else "",
            ("话务员有责" if t.fault else "无责") if returned else "", _moment(t.closed_at) if closed else "", state]


def _csv(header: list[str], rows: Iterable[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


# --- callbacks ------------------------------------------------------------------------------------------


def plan_callbacks(day: DemoDay, dispatched: list[Ticket], rng: random.Random, scale: float
                   ) -> list[tuple[str, int, str, str]]:
    """(ticket, time, method, result) of one day's callbacks: the planned answers, and
    unreached and refused callbacks besides."""
    if day.survey_responses is None or day.survey_satisfied is None or not dispatched:
        return []
    responses = _scaled(day.survey_responses, scale)
    satisfied = min(responses, _scaled(day.survey_satisfied, scale))
    results = [r for r, n in _split(satisfied, (("非常满意", 0.5), ("满意", 0.35), ("基本满意", 0.15))) for _ in range(n)]
    results += [r for r, n in _split(responses - satisfied, (("不满意", 0.8), ("非常不满意", 0.2))) for _ in range(n)]
    results += ["未接通"] * int(responses * 0.15) + ["拒绝评价"] * int(responses * 0.04)
    rng.shuffle(results)
    start = _day_start(day.day)
    out = []
    for result in results:
        ticket = rng.choice(dispatched)
        out.append((ticket.number, start + 9 * 3600 + int(rng.random() * 9 * 3600),
                    "短信" if rng.random() < 0.2 else "电话", result))
    out.sort(key=lambda c: c[1])
    return out


# --- all three ----------------------------------------------------------------------------------------------


def write_demo_sources(folder: Path, year: int = 2019, seed: int = 12345, scale: float = DEMO_SCALE,
                       months: Iterable[int] | None = None) -> list[tuple[str, Path]]:
    """Write the year's raw exports into ``folder`` (atomically, unchanged files untouched).

    ``months`` limits them to those months of the plan (all twelve by default). Returns
    (source, path) in the order to load them: the queue_log pieces, then the monthly
    ticket exports, then the callback exports.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set(months) if months is not None else set(range(1, 13))
    plan = [d for d in generate_year(year, seed) if d.day.month in wanted]
    rng = random.Random(seed * 31 + year)
    logs: dict[int, list[bytes]] = {}
    tickets_by_month: dict[int, list[Ticket]] = {}
    callbacks_by_month: dict[int, list[tuple[str, int, str, str]]] = {}
    recent: list[Ticket] = []
    for day, (date, calls, lines) in zip(plan, queue_log_days(plan, seed, scale)):
        logs.setdefault(date.month, []).append(lines)
        tickets = plan_tickets(day, [c for c in calls if c.outcome == "answered"], rng, scale)
        tickets_by_month.setdefault(date.month, []).extend(tickets)
        recent = (recent + [t for t in tickets if t.handling == "派单"])[-5000:]
        callbacks_by_month.setdefault(date.month, []).extend(plan_callbacks(day, recent, rng, scale))

    out: list[tuple[str, Path]] = []

    def put(source: str, path: Path, data: bytes) -> None:
        if not path.exists() or path.read_bytes() != data:
            write_atomic(path, data)
        out.append((source, path))

    for month in sorted(logs):
        put("queue-log", folder / f"queue_log-{year}{month:02d}", b"".join(logs[month]))
    changed_later: list[Ticket] = []
    for month in sorted(tickets_by_month):
        end = _day_start(dt.date(year + (month == 12), month % 12 + 1, 1)) - 1
        rows = [_ticket_row(t, end) for t in changed_later + tickets_by_month[month]]
        # Tickets whose return or closing comes after this export appear again, updated, in the next.
        changed_later = [t for t in changed_later + tickets_by_month[month]
                         if (t.returned_at or 0) > end or (t.closed_at or 0) > end]
        put("tickets", folder / f"工单导出-{year}-{month:02d}.csv", _csv(_TICKET_HEADER, rows))
    if changed_later:
        rows = [_ticket_row(t, 1 << 62) for t in changed_later]
        put("tickets", folder / f"工单导出-{year + 1}-01-补充.csv", _csv(_TICKET_HEADER, rows))
    for month in sorted(callbacks_by_month):
        rows = [[f"HF{year}{month:02d}{i + 1:06d}", ticket, _moment(t), method, result]
                for i, (ticket, t, method, result) in enumerate(callbacks_by_month[month])]
        put("callbacks", folder / f"回访导出-{year}-{month:02d}.csv", _csv(_CALLBACK_HEADER, rows))
    return out
