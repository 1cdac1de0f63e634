"""The injected clock: only the edge (CLI, scheduler) builds a real one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from hotline_kpi.i18n import M_, q


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FixedClock:
    """A clock that says what it is told; tests move it with :meth:`advance`."""

    def __init__(self, at: dt.datetime):
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, delta: dt.timedelta) -> None:
        self._at += delta

    def set(self, at: dt.datetime) -> None:
        self._at = at


def local_today(clock: Clock, zone: ZoneInfo | str) -> dt.date:
    """Today's date in the hotline's zone (never the machine's)."""
    if isinstance(zone, str):
        zone = ZoneInfo(zone)
    return clock.now().astimezone(zone).date()


def check_zone(name: str) -> str:
    """Validate an IANA time-zone name (pydantic validator); raises ValueError if unknown."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(M_("unknown time zone {name}", name=q(name))) from exc
    return name


#: A time-zone name, validated on load.
ZoneName = Annotated[str, AfterValidator(check_zone)]
