"""Only one active scheduler per database.

A lease row names the holder and when its claim expires; the holder renews it, and a
standby takes over once it has expired (the holder died or hung). On PostgreSQL the
holder also keeps a session-level advisory lock on a dedicated connection: the server
releases it the moment that connection dies, so two holders are impossible even when
clocks disagree. (APScheduler 3 cannot share a job store between processes:
reliability.md.)
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine, delete, insert, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from hotline_kpi.clock import Clock
from hotline_kpi.schedule import new_holder_id
from hotline_kpi.store.db import write_session
from hotline_kpi.store.models import LeaseRow

log = logging.getLogger(__name__)

#: pg_try_advisory_lock key: "hotline-kpi scheduler" as a stable 63-bit number.
ADVISORY_KEY = 0x486F746C696E654B


class Leadership:
    def __init__(self, engine: Engine, clock: Clock, ttl_seconds: float, name: str = "scheduler",
                 holder: str | None = None):
        self.engine = engine
        self.clock = clock
        self.ttl = dt.timedelta(seconds=ttl_seconds)
        self.name = name
        self.holder = holder or new_holder_id()
        self._pg_conn = None  # the connection holding the advisory lock
        self._held = False

    @property
    def is_leader(self) -> bool:
        return self._held

    def _claim_row(self) -> bool:
        now = self.clock.now()
        expires = now + self.ttl
        with write_session(self.engine) as s:
            res = s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, (LeaseRow.holder == self.holder) | (LeaseRow.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
            )
            if res.rowcount == 1:
                return True
        try:
            with write_session(self.engine) as s:
                s.execute(insert(LeaseRow).values(name=self.name, holder=self.holder, expires_at=expires))
            return True
        except IntegrityError:
            return False  # somebody else holds an unexpired lease

    def _pg_lock(self) -> bool:
        if self._pg_conn is not None:
            try:
                self._pg_conn.execute(text("SELECT 1"))
                return True
            except DBAPIError:
                log.warning("lost the connection holding the scheduler lock")
                self._drop_pg()
                return False
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if got:
            self._pg_conn = conn
            return True
        conn.close()
        return False

    def _drop_pg(self) -> None:
        if self._pg_conn is not None:
            try:
                self._pg_conn.invalidate()
            finally:
                self._pg_conn = None

    def try_acquire(self) -> bool:
        """Acquire or renew; returns whether this process is the leader now."""
        try:
            if self.engine.dialect.name == "postgresql" and not self._pg_lock():
                self._held = False
                return False
            ok = self._claim_row()
        except DBAPIError as exc:
            log.warning("leadership check failed: %s", exc.__class__.__name__)
            ok = False
        if not ok and self.engine.dialect.name == "postgresql":
            self._drop_pg()
        self._held = ok
        return ok

    def release(self) -> None:
        if self._held:
            try:
                with write_session(self.engine) as s:
                    s.execute(delete(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == self.holder))
            except DBAPIError:
                pass
        if self._pg_conn is not None:
            try:
                self._pg_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._pg_conn.close()
            except DBAPIError:
                pass
            self._pg_conn = None
        self._held = False
