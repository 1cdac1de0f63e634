"""The serve job drafts last year's report on the configured date and mails it once,
through the real SMTP transport to an aiosmtpd server on loopback."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy

from hotline_kpi.clock import FixedClock
from hotline_kpi.report.run import REPORT_DRAFT, draft_previous_year, draft_trigger, report_job
from hotline_kpi.settings import Settings
from hotline_kpi.store import runs
from hotline_kpi.store.db import read_session
from tests.alerts.conftest import SH, load_days, rates, smtp_server  # noqa: F401 - fixture
from tests.common import TARGETS, TZ



def make(tmp_path, db_url, port) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var", targets_dir=TARGETS,
                    smtp={"host": "127.0.0.1", "port": port, "security": "none", "from_address": "kpi@hotline.example",
                          "timeout_seconds": 5},
                    report={"recipients": ["office@hotline.example"], "output_dir": tmp_path / "reports",
                            "inputs_dir": tmp_path / "inputs", "formats": ["xlsx", "md"]},
                    _env_file=None)  # type: ignore[call-arg]


def test_the_trigger_fires_on_5_january_in_the_hotline_zone(settings):
    trig = draft_trigger(settings)
    nxt = trig.get_next_fire_time(None, dt.datetime(2020, 3, 1, tzinfo=TZ))
    assert (nxt.year, nxt.month, nxt.day, nxt.hour) == (2021, 1, 5, 7)
    assert nxt.utcoffset() == dt.timedelta(hours=8)


def test_drafts_and_mails_last_years_report_exactly_once(tmp_path, engine, catalogues, smtp_server):  # noqa: F811
    settings = make(tmp_path, str(engine.url), smtp_server.port)
    clock = FixedClock(dt.datetime(2020, 1, 5, 7, 0, tzinfo=TZ))
    load_days(engine, catalogues, clock.now(), {dt.date(2019, 6, d): rates() for d in range(1, 8)})
    assert draft_previous_year(engine, settings, catalogues, clock) == [SH]
    # A restart (or a second leader) runs the job again: nothing is drafted or sent twice.
    assert draft_previous_year(engine, settings, catalogues, clock) == []
    assert report_job(engine, settings, catalogues, clock).id == REPORT_DRAFT
    (received,) = smtp_server.to("office@hotline.example")
    msg = message_from_bytes(received.data, policy=policy.default)
    names = sorted(p.get_filename() for p in msg.iter_attachments())
    assert names == ["shanghai-12345-2019-绩效自评-草稿.md", "shanghai-12345-2019-绩效自评-草稿.xlsx"]  # nothing rated yet
    with read_session(engine) as s:
        run = runs.report_run(s, SH, 2019)
        assert run.mailed_at is not None and "绩效自评-草稿.xlsx" in run.files
    assert (tmp_path / "reports" / SH / "2019" / "shanghai-12345-2019-绩效自评-草稿.xlsx").is_file()
