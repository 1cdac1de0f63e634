"""Plain typed values shared by ingest, store, evaluation and the edges.

Nothing here touches a database, a file, a clock or the settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping

from hotline_kpi.i18n import C_


class Counter(StrEnum):
    """The canonical daily counters. Counts are the record; every rate is derived."""

    REQUESTS_ACCEPTED = "requests_accepted"
    CALLS_OFFERED = "calls_offered"
    CALLS_ANSWERED = "calls_answered"
    CALLS_ABANDONED_SHORT = "calls_abandoned_short"
    ANSWER_WAIT_SECONDS_SUM = "answer_wait_seconds_sum"
    CALLS_ANSWERED_WITHIN_15S = "calls_answered_within_15s"
    FIRST_CONTACT_RESOLVED = "first_contact_resolved"
    FIRST_CONTACT_ELIGIBLE = "first_contact_eligible"
    TICKETS_DISPATCHED = "tickets_dispatched"
    TICKETS_RETURNED_OPERATOR_FAULT = "tickets_returned_operator_fault"
    SURVEY_RESPONSES = "survey_responses"
    SURVEY_SATISFIED = "survey_satisfied"


#: Counter names in their canonical order (also the column order of exports).
COUNTERS: tuple[str, ...] = tuple(c.value for c in Counter)

#: The one counter that is a sum of seconds and may be fractional; all others are
#: whole numbers of calls, requests, tickets or responses.
FLOAT_COUNTERS: frozenset[str] = frozenset({Counter.ANSWER_WAIT_SECONDS_SUM.value})

#: How each counter is named to the office (the usual column header of the daily report in
#: Chinese; in English the counter's own name).
COUNTER_NAMES: dict[str, str] = {
    "requests_accepted": C_("counter", "requests_accepted"),
    "calls_offered": C_("counter", "calls_offered"),
    "calls_answered": C_("counter", "calls_answered"),
    "calls_abandoned_short": C_("counter", "calls_abandoned_short"),
    "calls_answered_within_15s": C_("counter", "calls_answered_within_15s"),
    "answer_wait_seconds_sum": C_("counter", "answer_wait_seconds_sum"),
    "first_contact_eligible": C_("counter", "first_contact_eligible"),
    "first_contact_resolved": C_("counter", "first_contact_resolved"),
    "tickets_dispatched": C_("counter", "tickets_dispatched"),
    "tickets_returned_operator_fault": C_("counter", "tickets_returned_operator_fault"),
    "survey_responses": C_("counter", "survey_responses"),
    "survey_satisfied": C_("counter", "survey_satisfied"),
}


#: The usual Chinese column header of each counter (the daily report's first alias): how a
#: problem names a counter the file has no column for (a ticket export's 受理量), in either
#: language, since the office's files are written in Chinese.
USUAL_HEADERS: dict[str, str] = {
    "requests_accepted": "受理量", "calls_offered": "呼入量", "calls_answered": "接通量",
    "calls_abandoned_short": "短时放弃量", "calls_answered_within_15s": "15秒接通量",
    "answer_wait_seconds_sum": "等待总时长", "first_contact_eligible": "话务员受理量",
    "first_contact_resolved": "一次性解答量", "tickets_dispatched": "派单量",
    "tickets_returned_operator_fault": "有责退单量", "survey_responses": "回访量", "survey_satisfied": "满意量",
}


def counter_name(name: str) -> str:
    """A counter as the office names it (a message: 呼入量 in Chinese)."""
    return COUNTER_NAMES.get(name, name)


#: Pairs (part, whole) that must hold part <= whole on any one day.
COUNTER_BOUNDS: tuple[tuple[str, str], ...] = (
    ("calls_answered", "calls_offered"),
    ("calls_abandoned_short", "calls_offered"),
    ("calls_answered_within_15s", "calls_answered"),
    ("first_contact_resolved", "first_contact_eligible"),
    #: Requests the operators took (话务员受理量) are a part of all requests (受理量).
    ("first_contact_eligible", "requests_accepted"),
    ("tickets_returned_operator_fault", "tickets_dispatched"),
    ("survey_satisfied", "survey_responses"),
)

#: Largest count accepted from any source; larger values are rejected as
#: implausible (and would overflow a 64-bit column long before).
MAX_COUNT = 10**12


class Window(StrEnum):
    DAY = "day"
    TRAILING_7D = "trailing_7d"
    TRAILING_30D = "trailing_30d"
    MONTH_TO_DATE = "month_to_date"
    QUARTER_TO_DATE = "quarter_to_date"
    YEAR_TO_DATE = "year_to_date"


WINDOWS: tuple[Window, ...] = tuple(Window)


def window_bounds(window: Window, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First and last local date (both inclusive) of ``window`` ending at ``as_of``."""
    if window is Window.DAY:
        return as_of, as_of
    if window is Window.TRAILING_7D:
        return as_of - dt.timedelta(days=6), as_of
    if window is Window.TRAILING_30D:
        return as_of - dt.timedelta(days=29), as_of
    if window is Window.MONTH_TO_DATE:
        return as_of.replace(day=1), as_of
    if window is Window.QUARTER_TO_DATE:
        first_month = 3 * ((as_of.month - 1) // 3) + 1
        return dt.date(as_of.year, first_month, 1), as_of
    if window is Window.YEAR_TO_DATE:
        return dt.date(as_of.year, 1, 1), as_of
    raise ValueError(f"unknown window {window!r}")


def days_in_year(year: int) -> int:
    return (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


class Comparator(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"

    def holds(self, value: float, threshold: float) -> bool:
        if self is Comparator.GE:
            return value >= threshold
        if self is Comparator.GT:
            return value > threshold
        if self is Comparator.LE:
            return value <= threshold
        return value < threshold

    @property
    def higher_is_better(self) -> bool:
        return self in (Comparator.GE, Comparator.GT)


class Status(StrEnum):
    MET = "met"
    BREACHED = "breached"
    NO_DATA = "no_data"
    #: An indicator tracked without a target (e.g. the 15-second rate): a value, no verdict.
    TRACKED = "tracked"


@dataclass(frozen=True)
class DailyCounters:
    """The effective counters of one hotline on one local date; ``None`` = unknown."""

    hotline_id: str
    day: dt.date
    values: Mapping[str, float | None]

    def get(self, counter: str) -> float | None:
        return self.values.get(counter)


@dataclass(frozen=True)
class DayRecord:
    """What an ingestor read for one local date from one file of one source."""

    day: dt.date
    #: Only the counters this source supplies; a counter it does not supply is absent.
    counters: Mapping[str, float]
    #: Counters computed from a rate and its base rather than read as counts.
    derived: frozenset[str] = frozenset()
    #: Optional split of requests_accepted by channel (电话, 网站, APP, ...).
    channels: Mapping[str, int] = field(default_factory=dict)
    #: Where in the file the day came from (1-based row), for messages.
    row: int | None = None
    #: counter -> its column header as written in the file ("受理量 (B)"), for messages.
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedFile:
    """The full, validated content of one file; built before any transaction starts."""

    source: str
    days: tuple[DayRecord, ...]
    #: Human-readable remarks worth showing the operator (skipped 合计 row, ...).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    """Sums of one formula over one window, taken over the days that had its counters.

    Produced either in Python (:func:`hotline_kpi.aggregate.aggregate_rows`) or in SQL by
    the store; both must agree exactly.
    """

    numerator: float
    denominator: float | None
    #: Days in the window on which every required counter of the formula was known.
    days_with_data: int
    #: Calendar days of the window (elapsed days up to the as-of date).
    days_in_window: int
