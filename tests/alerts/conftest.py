"""A real SMTP server on loopback (aiosmtpd) and a small world to drive alerts in.

The server records every message it accepted (envelope and bytes) and can be told to
refuse a recipient with any reply (``550 ...``, ``451 ...``), to stop listening (the
connection is refused) and to come back on the same port. Time comes from a
:class:`FixedClock` in Shanghai time; nothing sleeps to wait for an outcome.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from hotline_kpi.alerts.dispatch import PassReport
from hotline_kpi.alerts.alerting import Alerting
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.domain import DayRecord, ParsedFile
from hotline_kpi.service.jobs import evaluate_hotlines
from hotline_kpi.settings import DEFAULT_SOURCE_PRIORITY, Settings
from hotline_kpi.store import provenance
from hotline_kpi.store.db import make_engine, write_session
from tests.common import TARGETS, ZONE
from tests.processes import free_port

SH = "shanghai-12345"
OFFICE, DIRECTOR, OPS = "office@example.org", "director@example.org", "ops@example.org"

RULES = f"""
default_recipients: [{OFFICE}]
rules:
  - id: connection_day
    indicator: connection_rate
    window: day
    condition: breached
    for: 2
    severity: critical
    recipients: [{OFFICE}, {DIRECTOR}]
    note: 当日接通率低于90%
  - id: answer_day
    indicator: average_answer_seconds
    window: day
    condition: breached
    severity: warning
    recipients: [{OPS}]
    send_resolved: false
  - id: satisfaction_day
    indicator: satisfaction_rate
    window: day
    condition: breached
"""


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        for p in self.message.walk():
            if p.get_content_type() == f"text/{subtype}":
                return p.get_content()
        raise KeyError(subtype)


@dataclass
class Recorder:
    """The aiosmtpd handler: records what it accepts, refuses what it is told to."""

    messages: list[Received] = field(default_factory=list)
    #: recipient -> reply to its RCPT ("550 5.1.1 no such user")
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content
                                                                                               or envelope.content)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port; ``stop()`` makes connections refused, ``start()`` brings it back."""

    def __init__(self, port: int, **smtp_kwargs: Any):
        self.port = port
        self.handler = Recorder()
        self.smtp_kwargs = smtp_kwargs
        self.controller: Controller | None = None

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10,
                                     **self.smtp_kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def to(self, address: str) -> list[Received]:
        return self.handler.to(address)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port()).start()
    try:
        yield server
    finally:
        server.stop()


def rates(connection: float = 0.95, answer_seconds: float = 6.0, satisfaction: float = 0.95,
          fcr: float = 0.60, fault_returns: float = 0.03, requests: int = 11_000) -> dict[str, float]:
    """One day's counters with the given rates (every counter of the daily report)."""
    offered = 10_000
    answered = round(offered * connection)
    return {
        "requests_accepted": requests, "calls_offered": offered, "calls_answered": answered,
        "answer_wait_seconds_sum": answered * answer_seconds, "first_contact_eligible": answered,
        "first_contact_resolved": round(answered * fcr), "tickets_dispatched": 4000,
        "tickets_returned_operator_fault": round(4000 * fault_returns), "survey_responses": 400,
        "survey_satisfied": round(400 * satisfaction),
    }


def local(y: int, mo: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=ZONE)


def load_days(engine: Engine, catalogues: CatalogueSet, at: dt.datetime, days: dict[dt.date, dict[str, float]],
              source: str = "daily-report") -> None:
    """Store days as one loaded file of ``source`` (the store path of every ingest)."""
    parsed = ParsedFile(source, tuple(DayRecord(d, c) for d, c in sorted(days.items())))
    meta = provenance.FileMeta(f"{source}-{uuid.uuid4().hex[:6]}.csv", uuid.uuid4().hex * 2, 1, "")
    with write_session(engine) as s:
        provenance.ensure_hotline(s, catalogues.hotline(SH))
        # UTC, as the pipeline's clock gives it: SQLite keeps the wall time without its offset.
        provenance.store_parsed(s, hotline_id=SH, parsed=parsed, file=meta, at=at.astimezone(dt.timezone.utc),
                          settings_json="{}",
                          source_priority=DEFAULT_SOURCE_PRIORITY)


def make_settings(tmp_path: Path, db_url: str, port: int, rules: str = RULES, targets: Path = TARGETS,
                  **smtp: Any) -> Settings:
    rules_file = tmp_path / f"alerts-{uuid.uuid4().hex[:6]}.yaml"
    rules_file.write_text(rules, encoding="utf-8")
    return Settings(
        database_url=db_url, var_dir=tmp_path / "var", targets_dir=targets,
        smtp={"host": "127.0.0.1", "port": port, "security": "none", "from_address": "kpi@hotline.example",
              "timeout_seconds": 5, "backoff_initial_seconds": 60, "backoff_max_seconds": 3600,
              "retry_for_seconds": 86400, **smtp},
        alerts={"rules_file": rules_file, "status_url": "https://kpi.example.org/status",
                "grafana_url": "https://grafana.example.org/d/hotline-kpi/overview", "claim_timeout_seconds": 600},
        _env_file=None,  # type: ignore[call-arg]
    )


class World:
    """A store, the real SMTP server, a fixed clock and the alerting built from settings."""

    def __init__(self, engine: Engine, settings: Settings, catalogues: CatalogueSet, clock: FixedClock,
                 smtp: SmtpServer):
        self.engine = engine
        self.settings = settings
        self.catalogues = catalogues
        self.clock = clock
        self.smtp = smtp
        self.alerting = self.build()

    def build(self, engine: Engine | None = None, holder: str | None = None) -> Alerting:
        alerting = Alerting.from_settings(self.settings, self.catalogues, engine or self.engine, self.clock,
                                          holder=holder)
        assert alerting is not None
        return alerting

    def restart(self) -> None:
        """A new process: a new engine (new connections) and new objects; only the store survives."""
        url = self.engine.url.render_as_string(hide_password=False)
        self.engine.dispose()
        self.engine = make_engine(url)
        self.alerting = self.build()

    def day(self, day: dt.date, **kw: float) -> list[str]:
        """The day's data arrives the next morning and is evaluated at 08:30."""
        self.clock.set(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 30), tzinfo=ZONE))
        load_days(self.engine, self.catalogues, self.clock.now(), {day: rates(**kw)})
        return self.evaluate()

    def evaluate(self) -> list[str]:
        return evaluate_hotlines(self.engine, self.settings, self.catalogues, self.clock, "test",
                                 alerting=self.alerting)

    def dispatch(self) -> PassReport:
        return self.alerting.dispatch()


@pytest.fixture
def world(engine: Engine, tmp_path: Path, catalogues: CatalogueSet, smtp_server: SmtpServer) -> World:
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port)
    return World(engine, settings, catalogues, FixedClock(local(2019, 6, 3, 8, 30)), smtp_server)
