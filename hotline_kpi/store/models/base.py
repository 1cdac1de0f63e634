"""The declarative base, its naming convention, and the column types every table shares."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Dialect, Float, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A moment, always aware UTC on the way in and out.

    ``DateTime(timezone=True)`` keeps the offset on PostgreSQL, but SQLite stores the wall
    time without it and hands back naive values: moments are converted to UTC before they
    are stored, and a naive value read back is UTC. Callers never see a naive moment.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: moments are stored with their zone")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class CounterColumns:
    """The canonical counters (hotline_kpi.domain.COUNTERS) as nullable columns: NULL = unknown."""

    requests_accepted: Mapped[int | None] = mapped_column(BigInteger)
    calls_offered: Mapped[int | None] = mapped_column(BigInteger)
    calls_answered: Mapped[int | None] = mapped_column(BigInteger)
    calls_abandoned_short: Mapped[int | None] = mapped_column(BigInteger)
    answer_wait_seconds_sum: Mapped[float | None] = mapped_column(Float)
    calls_answered_within_15s: Mapped[int | None] = mapped_column(BigInteger)
    first_contact_resolved: Mapped[int | None] = mapped_column(BigInteger)
    first_contact_eligible: Mapped[int | None] = mapped_column(BigInteger)
    tickets_dispatched: Mapped[int | None] = mapped_column(BigInteger)
    tickets_returned_operator_fault: Mapped[int | None] = mapped_column(BigInteger)
    survey_responses: Mapped[int | None] = mapped_column(BigInteger)
    survey_satisfied: Mapped[int | None] = mapped_column(BigInteger)
