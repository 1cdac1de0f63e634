"""Engine and sessions, built once at the edge and passed down.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on.
Python's sqlite3 module would otherwise start transactions lazily and only before DML,
and a deferred transaction that reads and then writes fails at once with "database is
locked" when another writer committed in between (reliability.md). So the driver's own
transaction handling is switched off and SQLAlchemy emits BEGIN itself: ``BEGIN
IMMEDIATE`` for sessions from :func:`write_session`, which then wait on the busy timeout
instead of failing, and a plain ``BEGIN`` for readers. (SQLAlchemy docs, SQLite dialect,
"Serializable isolation / Savepoints / Transactional DDL".)
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

_IMMEDIATE = "hotline_kpi_begin_immediate"

#: Keep IN lists well under every backend's bound-parameter limit.
CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    """``items`` in slices of at most ``size``: for IN lists and batched statements."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def make_engine(url: str, *, busy_timeout_seconds: float = 30.0, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, echo=echo, connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False}
        )
        _configure_sqlite(engine, busy_timeout_seconds)
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module doc)
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One short write transaction: commits on success, rolls back on any exception."""
    bind = engine.execution_options(**{_IMMEDIATE: True}) if is_sqlite(engine) else engine
    with Session(bind, expire_on_commit=False) as session:
        with session.begin():
            yield session
