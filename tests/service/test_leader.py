"""Only one scheduler per database: the lease, its renewal and the takeover."""

from __future__ import annotations

import datetime as dt
import time

from hotline_kpi.clock import FixedClock
from hotline_kpi.service.leader import Leadership
from hotline_kpi.store.db import make_engine


def test_one_holder_at_a_time_and_a_standby_takes_over_when_the_lease_expires(db_url, clock):
    e1, e2 = make_engine(db_url), make_engine(db_url)
    try:
        first = Leadership(e1, clock, ttl_seconds=30, holder="first")
        second = Leadership(e2, clock, ttl_seconds=30, holder="second")
        assert first.try_acquire() is True
        assert second.try_acquire() is False
        clock.advance(dt.timedelta(seconds=20))
        assert first.try_acquire() is True  # renewed
        clock.advance(dt.timedelta(seconds=20))
        assert second.try_acquire() is False  # renewed 20 s ago: still first's
        if e1.dialect.name == "postgresql":
            # On PostgreSQL the holder's advisory lock dies with its connection (the server
            # notices the closed socket a moment later: poll, bounded).
            first._drop_pg()
        clock.advance(dt.timedelta(seconds=31))  # the first holder died: no renewal
        deadline = time.monotonic() + 10
        while not second.try_acquire() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.is_leader is True
        assert first.try_acquire() is False
        second.release()
        assert first.try_acquire() is True
        first.release()
    finally:
        e1.dispose()
        e2.dispose()


def test_on_postgresql_a_live_advisory_lock_wins_even_over_an_expired_row(pg_url):
    clock = FixedClock(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    e1, e2 = make_engine(pg_url), make_engine(pg_url)
    try:
        first = Leadership(e1, clock, ttl_seconds=5, holder="first")
        second = Leadership(e2, clock, ttl_seconds=5, holder="second")
        assert first.try_acquire()
        clock.advance(dt.timedelta(minutes=5))  # row expired (clock skew, a hung renewal) ...
        assert not second.try_acquire()  # ... but the first process still holds the lock
        first.release()
        assert second.try_acquire()
        second.release()
    finally:
        e1.dispose()
        e2.dispose()
