"""The alert state machine, pure: previous state + observation + time -> state, transition.

inactive --holds--> pending --holds on ``for`` evaluated days--> firing --not--> inactive

- The "for" count is of consecutive *evaluated days* (distinct as-of dates) on which
  the condition held: evaluating the same as-of date again (a second file loaded the
  same morning) neither advances nor restarts it, so the count measures data, not how
  often the job ran. A day that does not hold resets it (flapping never fires).
- An unknown observation (no data for the window, no projection yet) changes nothing:
  a firing alert is not "resolved" because its figures went missing; the ``no_data``
  rules say that.
- The count lives in the database (``alert.count``), so a pending alert survives a
  restart (Prometheus keeps pending state across restarts too: reliability.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum


class AlertStatus(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class Change(StrEnum):
    """What a transition did; ``firing`` and ``resolved`` are the ones that may notify."""

    PENDING = "pending"
    #: pending -> inactive before it fired.
    CLEARED = "cleared"
    FIRING = "firing"
    #: firing -> inactive.
    RESOLVED = "resolved"
    #: The rule was removed from the rules file: the alert goes inactive, no mail.
    DROPPED = "dropped"


@dataclass(frozen=True)
class AlertState:
    status: AlertStatus = AlertStatus.INACTIVE
    #: Consecutive evaluated days on which the condition held (0 when inactive).
    count: int = 0
    #: The as-of date last counted.
    last_day: dt.date | None = None
    #: When the status last changed.
    since: dt.datetime | None = None
    #: When the alert last started firing (None while not firing).
    fired_at: dt.datetime | None = None


@dataclass(frozen=True)
class Transition:
    change: Change
    old: AlertStatus
    new: AlertStatus
    at: dt.datetime


def step(prev: AlertState, holds: bool | None, day: dt.date, for_count: int,
         now: dt.datetime) -> tuple[AlertState, Transition | None]:
    """The state after one evaluation of the condition on as-of date ``day``.

    ``holds``: True / False, or None when it could not be told (nothing changes).
    ``for_count`` >= 1: evaluated days the condition must hold before firing.
    Raises ``ValueError`` for a ``for_count`` below 1.
    """
    if for_count < 1:
        raise ValueError(f"for_count must be at least 1, not {for_count}")
    if holds is None:
        return prev, None
    if not holds:
        if prev.status is AlertStatus.INACTIVE:
            return replace(prev, count=0, last_day=day), None
        change = Change.RESOLVED if prev.status is AlertStatus.FIRING else Change.CLEARED
        new = AlertState(AlertStatus.INACTIVE, 0, day, now, None)
        return new, Transition(change, prev.status, AlertStatus.INACTIVE, now)

    if prev.count > 0 and prev.last_day is not None and day <= prev.last_day:
        count, last_day = prev.count, prev.last_day  # the same day (or an older one) again
    else:
        count, last_day = prev.count + 1, day
    if prev.status is AlertStatus.FIRING:
        return replace(prev, count=count, last_day=last_day), None
    if count >= for_count:
        new = AlertState(AlertStatus.FIRING, count, last_day, now, now)
        return new, Transition(Change.FIRING, prev.status, AlertStatus.FIRING, now)
    if prev.status is AlertStatus.PENDING:
        return replace(prev, count=count, last_day=last_day), None
    new = AlertState(AlertStatus.PENDING, count, last_day, now, None)
    return new, Transition(Change.PENDING, prev.status, AlertStatus.PENDING, now)


def drop(prev: AlertState, now: dt.datetime) -> tuple[AlertState, Transition | None]:
    """The rule is gone: an active alert goes inactive without a notice."""
    if prev.status is AlertStatus.INACTIVE:
        return prev, None
    return AlertState(AlertStatus.INACTIVE, 0, prev.last_day, now, None), \
        Transition(Change.DROPPED, prev.status, AlertStatus.INACTIVE, now)
