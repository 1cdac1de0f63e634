"""A realistic synthetic year for Shanghai 12345, written as the office's monthly daily reports.

About 11,000 calls a day with a weekday/weekend and seasonal shape, the Spring Festival
lull, public holidays, a typhoon surge (Lekima, 9-11 August 2019) and two platform
outages, and a few days on which the callback system delivered nothing. Deterministic
for a given seed. The files go through the normal ingest path.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from hotline_kpi.files import write_atomic

# Month shape of demand (summer heat and typhoon season are busiest).
_MONTH = {1: 0.96, 2: 0.86, 3: 0.99, 4: 1.0, 5: 1.01, 6: 1.04, 7: 1.10, 8: 1.12, 9: 1.0, 10: 0.97, 11: 0.99, 12: 0.98}
# Monday is the busiest day, Sunday the quietest.
_WEEKDAY = (1.10, 1.04, 1.02, 1.01, 1.00, 0.83, 0.78)

# Public holidays of 2019 (State Council notice) with a demand factor.
_HOLIDAYS_2019 = {
    **{dt.date(2019, 2, 4) + dt.timedelta(days=i): f for i, f in enumerate([0.55, 0.42, 0.45, 0.5, 0.58, 0.65, 0.72])},
    dt.date(2019, 1, 1): 0.7,
    dt.date(2019, 4, 5): 0.75,
    **{dt.date(2019, 5, 1) + dt.timedelta(days=i): 0.75 for i in range(4)},
    dt.date(2019, 6, 7): 0.75,
    dt.date(2019, 9, 13): 0.75,
    **{dt.date(2019, 10, 1) + dt.timedelta(days=i): 0.72 for i in range(7)},
}
# Events: demand factor and how much of it the floor could not handle.
_TYPHOON = {dt.date(2019, 8, 9): 1.45, dt.date(2019, 8, 10): 1.85, dt.date(2019, 8, 11): 1.5}
_OUTAGE = {dt.date(2019, 5, 21): 0.62, dt.date(2019, 11, 12): 0.8}  # share of calls the platform could take
_NO_CALLBACKS = {dt.date(2019, 9, 29), dt.date(2019, 9, 30)}  # callback system delivered nothing

HEADER = ["日期", "受理量", "呼入量", "接通量", "接通率", "平均接通时长(秒)", "15秒接通量", "话务员受理量",
          "一次性解答量", "一次性解答率", "派单量", "有责退单量", "退单率", "回访量", "满意量", "满意度"]


@dataclass(frozen=True)
class DemoDay:
    day: dt.date
    requests_accepted: int
    calls_offered: int
    calls_answered: int
    asa_seconds: float
    calls_answered_within_15s: int
    first_contact_eligible: int
    first_contact_resolved: int
    tickets_dispatched: int
    tickets_returned_operator_fault: int
    survey_responses: int | None
    survey_satisfied: int | None


def _binomial(rng: random.Random, n: int, p: float) -> int:
    # Normal approximation: n is in the thousands here.
    p = min(max(p, 0.0), 1.0)
    sd = math.sqrt(max(n * p * (1 - p), 1e-9))
    return max(0, min(n, round(rng.gauss(n * p, sd))))


def generate_year(year: int = 2019, seed: int = 12345) -> list[DemoDay]:
    rng = random.Random(seed * 10_000 + year)
    out = []
    day = dt.date(year, 1, 1)
    capacity = 12_100  # calls a day the staffed floor answers comfortably
    while day.year == year:
        factor = _MONTH[day.month] * _WEEKDAY[day.weekday()] * _HOLIDAYS_2019.get(day, 1.0) * _TYPHOON.get(day, 1.0)
        offered = max(500, round(11_350 * factor * rng.gauss(1.0, 0.035)))
        load = offered / capacity
        conn = 0.955 - 0.55 * max(0.0, load - 0.92) + rng.gauss(0, 0.006)
        conn *= _OUTAGE.get(day, 1.0)
        answered = _binomial(rng, offered, min(conn, 0.99))
        asa = max(2.0, 6.4 + 40 * max(0.0, load - 0.93) + rng.gauss(0, 0.5)) / _OUTAGE.get(day, 1.0)
        asa = round(asa, 2)
        within = _binomial(rng, answered, 1 - math.exp(-15 / asa * 0.9))
        online = round(1_050 * rng.gauss(1.0, 0.08) * (1.3 if day in _TYPHOON else 1.0))
        eligible = answered
        resolved = _binomial(rng, eligible, 0.555 + rng.gauss(0, 0.01))
        dispatched = eligible - resolved + round(online * 0.6)
        returned = _binomial(rng, dispatched, 0.046 + rng.gauss(0, 0.004))
        if day in _NO_CALLBACKS:
            responses = satisfied = None
        else:
            responses = max(50, round(dispatched * 0.085 * rng.gauss(1.0, 0.05)))
            satisfied = _binomial(rng, responses, 0.918 - (0.05 if day in _TYPHOON or day in _OUTAGE else 0.0))
        out.append(DemoDay(day, answered + online, offered, answered, asa, within, eligible, resolved,
                           dispatched, returned, responses, satisfied))
        day += dt.timedelta(days=1)
    return out


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.2f}%" if den else "—"


def render_month_csv(days: list[DemoDay]) -> bytes:
    """One month as the office writes it: title row, header, one row a day, 合计 row; UTF-8 with BOM."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    first = days[0].day
    w.writerow([f"上海市12345市民服务热线 {first.year}年{first.month}月 运行日报"])
    w.writerow(HEADER)
    for d in days:
        w.writerow([
            f"{d.day.year}/{d.day.month}/{d.day.day}", f"{d.requests_accepted:,}", f"{d.calls_offered:,}",
            f"{d.calls_answered:,}", _pct(d.calls_answered, d.calls_offered), f"{d.asa_seconds:.2f}",
            f"{d.calls_answered_within_15s:,}", f"{d.first_contact_eligible:,}", f"{d.first_contact_resolved:,}",
            _pct(d.first_contact_resolved, d.first_contact_eligible), f"{d.tickets_dispatched:,}",
            f"{d.tickets_returned_operator_fault:,}", _pct(d.tickets_returned_operator_fault, d.tickets_dispatched),
            "—" if d.survey_responses is None else f"{d.survey_responses:,}",
            "—" if d.survey_satisfied is None else f"{d.survey_satisfied:,}",
            "—" if d.survey_responses is None else _pct(d.survey_satisfied or 0, d.survey_responses),
        ])
    tot = lambda attr: sum(getattr(d, attr) or 0 for d in days)  # noqa: E731
    w.writerow(["合计", f"{tot('requests_accepted'):,}", f"{tot('calls_offered'):,}", f"{tot('calls_answered'):,}",
                "", "", f"{tot('calls_answered_within_15s'):,}", f"{tot('first_contact_eligible'):,}",
                f"{tot('first_contact_resolved'):,}", "", f"{tot('tickets_dispatched'):,}",
                f"{tot('tickets_returned_operator_fault'):,}", "", f"{tot('survey_responses'):,}",
                f"{tot('survey_satisfied'):,}", ""])
    return buf.getvalue().encode("utf-8-sig")


def write_daily_reports(folder: Path, year: int = 2019, seed: int = 12345,
                        months: Iterable[int] = range(1, 13)) -> list[Path]:
    """Write the monthly report files of ``months`` into ``folder`` (atomically); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    days = generate_year(year, seed)
    paths = []
    for month in months:
        month_days = [d for d in days if d.day.month == month]
        path = folder / f"12345热线日报-{year}-{month:02d}.csv"
        data = render_month_csv(month_days)
        if not path.exists() or path.read_bytes() != data:
            write_atomic(path, data)
        paths.append(path)
    return paths


def write_spending_ledger(folder: Path, year: int = 2019, seed: int = 12345) -> Path:
    """The project's spending ledger of the demo year: one row a month and budget line.

    Rent, utilities and staffing are paid monthly; the platform contract quarterly; taxes
    follow the payments. About 96% of the 13,334万元 is executed by the year end.
    """
    rng = random.Random(seed * 7 + year)
    budget = {"basic_operation": 19_030_000, "platform": 9_480_000, "agent_staffing": 95_890_000, "taxes": 8_940_000}
    rows = [["月份", "预算项目", "金额(元)"]]
    for month in range(1, 13):
        for line, amount in budget.items():
            if line == "platform":
                spent = amount * 0.94 / 4 if month % 3 == 0 else 0.0
            else:
                spent = amount * 0.965 / 12 * rng.uniform(0.97, 1.03)
            if spent:
                rows.append([f"{year}-{month:02d}", line, f"{spent:.2f}"])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path = folder / f"项目支出台账-{year}.csv"
    data = buf.getvalue().encode("utf-8-sig")
    if not path.exists() or path.read_bytes() != data:
        write_atomic(path, data)
    return path
