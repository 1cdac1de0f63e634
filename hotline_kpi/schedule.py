"""Scheduled work, pure: what a job is, when it was last due, and who runs it.

The service's scheduler (:mod:`hotline_kpi.service.runtime`) runs the jobs that the
service, the alerts and the report each describe with a :class:`JobSpec`; the time is
always passed in (``now``), never read here.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Callable

from apscheduler.triggers.base import BaseTrigger


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], object]
    trigger: BaseTrigger
    #: Whether a run missed while the service was down is run at start-up.
    catch_up: bool = False


def last_scheduled_before(trigger: BaseTrigger, now: dt.datetime, lookback: dt.timedelta) -> dt.datetime | None:
    """The trigger's latest fire time in (now - lookback, now]; pure (``now`` is passed in)."""
    t = now - lookback
    last = None
    previous = None
    for _ in range(10_000):
        nxt = trigger.get_next_fire_time(previous, t)
        if nxt is None or nxt > now:
            return last
        last = nxt
        previous = nxt
        t = nxt + dt.timedelta(microseconds=1)
    return last


def is_overdue(trigger: BaseTrigger, last_started: dt.datetime | None, now: dt.datetime,
               lookback: dt.timedelta = dt.timedelta(days=7)) -> bool:
    """A scheduled time has passed since the job last started (or it never ran); pure."""
    due = last_scheduled_before(trigger, now, lookback)
    if due is None:
        return False
    return last_started is None or last_started < due


def new_holder_id() -> str:
    """This process's name in leases and delivery claims: host, pid and a random part
    (a restarted process with the same pid is another holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
