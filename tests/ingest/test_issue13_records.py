"""Issue #13 ("Nothing lost, nothing wrong"), the cases of records and revisions: a correction
with fewer columns (2), undoing a correction (3), reused queue_log call ids (5), ticket
channels (6), NUL bytes and empty queue_logs (11), the year boundary (13). Each through the
real ``hotline-kpi ingest`` command, the store on SQLite and PostgreSQL where it matters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.store import provenance, sums
from hotline_kpi.store.db import make_engine, read_session
from tests.common import SHANGHAI, TARGETS

D = dt.date
REPORT = (
    "日期,受理量,呼入量,接通量,短时放弃量,15秒接通量,等待总时长(秒),话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量\n"
    "2019-03-02,11000,10000,9300,50,8000,69750,9300,5200,4100,180,400,372\n"
    "2019-03-03,12000,11000,9900,60,8500,79200,9900,5400,4500,200,420,380\n"
)
ALL = ("requests_accepted", "calls_offered", "calls_answered", "calls_abandoned_short", "calls_answered_within_15s",
       "answer_wait_seconds_sum", "first_contact_eligible", "first_contact_resolved", "tickets_dispatched",
       "tickets_returned_operator_fault", "survey_responses", "survey_satisfied")


@pytest.fixture
def run(db_url, tmp_path, clock, monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("HOTLINE_KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for k, v in {"HOTLINE_KPI_DATABASE_URL": db_url, "HOTLINE_KPI_VAR_DIR": str(tmp_path / "var"),
                 "HOTLINE_KPI_TARGETS_DIR": str(TARGETS)}.items():
        monkeypatch.setenv(k, v)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--lang", "en", "ingest", "--no-evaluate", *args], obj=App(clock=clock),
                                  catch_exceptions=False)
    return invoke


#: The English wording of the product is read here (the Chinese: tests/test_messages.py).
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def store(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _day(engine, day: D) -> dict[str, float | None]:
    with read_session(engine) as s:
        rows = sums.daily_counters(s, SHANGHAI, day, day)
    return dict(rows[0].values) if rows else {}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- case 2: a correction with fewer columns ------------------------------------------------------


def test_a_correction_with_one_column_replaces_only_that_counter(run, store, tmp_path):
    month = _write(tmp_path / "日报-2019-03.csv", REPORT)
    assert run(str(month)).exit_code == 0
    before = _day(store, D(2019, 3, 3))
    fix = _write(tmp_path / "更正.csv", "日期,受理量\n2019-03-03,12345\n")
    result = run("--source", "daily-report", str(fix))
    assert result.exit_code == 0 and "1 revised" in result.stdout, result.output
    after = _day(store, D(2019, 3, 3))
    assert after["requests_accepted"] == 12345
    for counter in ALL[1:]:  # the eleven other counters keep their values
        assert after[counter] == before[counter] and after[counter] is not None, counter
    assert _day(store, D(2019, 3, 2)) == _day(store, D(2019, 3, 2)) and _day(store, D(2019, 3, 2))["requests_accepted"] == 11000
    with read_session(store) as s:
        where = provenance.provenance(s, SHANGHAI, D(2019, 3, 3))
        assert where["requests_accepted"][1] == "更正.csv"
        assert {where[c][1] for c in ALL[1:]} == {"日报-2019-03.csv"}  # carried values keep their file
        revs = provenance.revisions(s, SHANGHAI, D(2019, 3, 3), "daily-report")
        assert [(r.revision, r.is_current, r.file_name) for r in revs] == [
            (1, False, "日报-2019-03.csv"), (2, True, "更正.csv")]
        assert revs[1].carried == frozenset(ALL[1:]) and revs[1].values["calls_offered"] == 11000
    # A second partial correction of another counter keeps the first correction too.
    fix2 = _write(tmp_path / "更正2.csv", "日期,呼入量\n2019-03-03,11111\n")
    assert run("--source", "daily-report", str(fix2)).exit_code == 0
    again = _day(store, D(2019, 3, 3))
    assert (again["requests_accepted"], again["calls_offered"], again["calls_answered"]) == (12345, 11111, 9900)
    with read_session(store) as s:
        where = provenance.provenance(s, SHANGHAI, D(2019, 3, 3))
        assert (where["requests_accepted"][1], where["calls_offered"][1], where["calls_answered"][1]) == (
            "更正.csv", "更正2.csv", "日报-2019-03.csv")


# --- case 3: undoing a correction --------------------------------------------------------------------


def test_loading_the_earlier_file_again_undoes_a_correction(run, store, tmp_path):
    v1 = _write(tmp_path / "日报-v1.csv", REPORT)
    v2 = _write(tmp_path / "日报-v2.csv", REPORT.replace("2019-03-03,12000", "2019-03-03,12999"))
    assert run(str(v1)).exit_code == 0
    assert run(str(v2)).exit_code == 0
    assert _day(store, D(2019, 3, 3))["requests_accepted"] == 12999
    undo = run(str(v1))
    assert undo.exit_code == 0 and "already loaded" not in undo.stdout, undo.output
    assert "1 revised" in undo.stdout and "current again" in undo.stdout
    assert _day(store, D(2019, 3, 3))["requests_accepted"] == 12000
    with read_session(store) as s:
        revs = provenance.revisions(s, SHANGHAI, D(2019, 3, 3), "daily-report")
        assert [(r.revision, r.is_current, r.file_name, r.values["requests_accepted"]) for r in revs] == [
            (1, False, "日报-v1.csv", 12000), (2, False, "日报-v2.csv", 12999), (3, True, "日报-v1.csv", 12000)]
        assert provenance.provenance(s, SHANGHAI, D(2019, 3, 3))["requests_accepted"][1] == "日报-v1.csv"
    # The current file once more: already loaded, nothing changed; v2 again redoes the correction.
    assert "already loaded" in run(str(v1)).stdout
    assert "1 revised" in run(str(v2)).stdout
    assert _day(store, D(2019, 3, 3))["requests_accepted"] == 12999


# --- case 6: ticket channels ------------------------------------------------------------------------

TICKETS_HEADER = "工单编号,受理时间,受理渠道,诉求类型,办理方式,承办单位,是否退单,退单时间,退单原因,退单责任,办结时间,状态\n"


def _ticket(no: str, at: str, channel: str, handling: str = "直接答复") -> str:
    unit = "" if handling == "直接答复" else "黄浦区政府"
    return f"{no},{at},{channel},咨询,{handling},{unit},否,,,,,\n"


def test_ticket_channel_12345热线_is_the_phone_channel(run, store, tmp_path):
    rows = [_ticket("T1", "2019-05-06 08:00:01", "12345热线"), _ticket("T2", "2019-05-06 09:00:00", "12345热线", "派单"),
            _ticket("T3", "2019-05-06 10:00:00", "市民热线"), _ticket("T4", "2019-05-06 11:00:00", "12345"),
            _ticket("T5", "2019-05-06 12:00:00", "网站")]
    path = _write(tmp_path / "工单导出.csv", TICKETS_HEADER + "".join(rows))
    result = run(str(path))
    assert result.exit_code == 0, result.output
    day = _day(store, D(2019, 5, 6))
    assert (day["requests_accepted"], day["first_contact_eligible"], day["first_contact_resolved"]) == (5, 4, 3)


def test_an_unknown_ticket_channel_refuses_the_file_naming_rows_values_and_the_known_channels(run, store, tmp_path):
    rows = [_ticket("T1", "2019-05-06 08:00:01", "电话"), _ticket("T2", "2019-05-06 09:00:00", "信访件"),
            _ticket("T3", "2019-05-06 10:00:00", "信访件")]
    path = _write(tmp_path / "工单导出.csv", TICKETS_HEADER + "".join(rows))
    result = run(str(path))
    assert result.exit_code != 0
    err = result.stderr
    assert "信访件" in err and "row 3" in err and "row 4" in err and "known channels are 电话" in err, err
    assert _day(store, D(2019, 5, 6)) == {}


# --- case 11 (part): NUL bytes and an empty queue_log ---------------------------------------------

T0 = int(dt.datetime(2019, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp())


def _ev(t: int, cid: str, event: str, *data: object) -> str:
    return "|".join([str(T0 + t), cid, "12345", "NONE" if event != "CONNECT" else "SIP/8", event, *map(str, data)])


def _qlog(path: Path, lines: list[str], tail: bytes = b"") -> Path:
    path.write_bytes("".join(line + "\n" for line in lines).encode() + tail)
    return path


def test_a_queue_log_with_crash_padding_is_refused_naming_line_and_byte_offset(run, store, tmp_path):
    good = [_ev(0, "a", "ENTERQUEUE", "", "138", 1), _ev(5, "a", "CONNECT", 5, "ab", 1)]
    head = "".join(line + "\n" for line in good).encode()
    path = _qlog(tmp_path / "queue_log", good, b"\x00" * 4096 + (_ev(90, "b", "ENTERQUEUE", "", "138", 1) + "\n").encode())
    result = run("--source", "queue-log", str(path))
    assert result.exit_code != 0
    assert f"NUL bytes (4,096 from byte offset {len(head):,})" in result.stderr and "row 3" in result.stderr, result.stderr
    assert _day(store, D(2019, 3, 1)) == {}
    # Recognised as a queue_log all the same (no --source): the same clear refusal.
    assert "NUL bytes" in run(str(path)).stderr


def test_an_empty_queue_log_is_refused_not_loaded(run, store, tmp_path):
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    result = run("--source", "queue-log", str(path))
    assert result.exit_code != 0 and "the file is empty (0 bytes)" in result.stderr, result.output
    assert "loaded" not in result.stdout


# --- case 5: a reused call id ----------------------------------------------------------------------
#
# Each scenario: the lines, the per-day counts the office must see, and where the lines may be
# split into two files. Loaded as one file and as the two parts (in both orders): the same counts.

H = 3600
DAY = 86400
REUSE = {
    # A call that timed out on 03-01; its id comes again on 03-03 and is answered: two calls.
    "two days apart": (
        [_ev(0, "a", "ENTERQUEUE", "", "138", 1), _ev(300, "a", "EXITWITHTIMEOUT", 1, 1, 300),
         _ev(2 * DAY + 2 * H, "a", "ENTERQUEUE", "", "139", 1), _ev(2 * DAY + 2 * H + 10, "a", "CONNECT", 10, "x", 1)],
        {D(2019, 3, 1): (1, 0), D(2019, 3, 3): (1, 1)}),
    # Abandoned in the evening of 03-01, the id answered the next morning: a day apart or not, two calls.
    "next day": (
        [_ev(14 * H, "a", "ENTERQUEUE", "", "138", 1), _ev(14 * H + 3, "a", "ABANDON", 1, 1, 3),
         _ev(DAY + H, "a", "ENTERQUEUE", "", "139", 1), _ev(DAY + H + 10, "a", "CONNECT", 10, "x", 1)],
        {D(2019, 3, 1): (1, 0), D(2019, 3, 2): (1, 1)}),
    # The same day: abandoned at 08:00, the id reused at 15:00 and answered; then an answered
    # call (CONNECT ... COMPLETECALLER) whose id is reused by a caller who hangs up.
    "same day": (
        [_ev(0, "a", "ENTERQUEUE", "", "138", 1), _ev(3, "a", "ABANDON", 1, 1, 3),
         _ev(7 * H, "a", "ENTERQUEUE", "", "139", 1), _ev(7 * H + 20, "a", "CONNECT", 20, "x", 1),
         _ev(8 * H, "b", "ENTERQUEUE", "", "140", 1), _ev(8 * H + 5, "b", "CONNECT", 5, "y", 1),
         _ev(8 * H + 300, "b", "COMPLETECALLER", 5, 295, 1),
         _ev(9 * H, "b", "ENTERQUEUE", "", "141", 1), _ev(9 * H + 2, "b", "ABANDON", 1, 1, 2)],
        {D(2019, 3, 1): (4, 2)}),
    # Overflow: timed out of one queue and entered the next within seconds: one answered call.
    "overflow": (
        [_ev(0, "a", "ENTERQUEUE", "", "138", 1), _ev(60, "a", "EXITWITHTIMEOUT", 1, 1, 60),
         _ev(61, "a", "ENTERQUEUE", "", "138", 1), _ev(120, "a", "EXITWITHTIMEOUT", 1, 1, 59),
         _ev(120, "a", "ENTERQUEUE", "", "138", 1), _ev(150, "a", "CONNECT", 30, "x", 1),
         _ev(400, "a", "COMPLETEAGENT", 30, 250, 1)],
        {D(2019, 3, 1): (1, 1)}),
}


def _counts(engine, days) -> dict[D, tuple]:
    out = {}
    for day in days:
        got = _day(engine, day)
        out[day] = (got.get("calls_offered"), got.get("calls_answered"))
    return out


@pytest.mark.parametrize("case", sorted(REUSE))
def test_a_reused_call_id_is_two_calls_in_one_file(run, store, tmp_path, case):
    lines, expected = REUSE[case]
    result = run("--source", "queue-log", str(_qlog(tmp_path / "queue_log", lines)))
    assert result.exit_code == 0, result.output
    assert _counts(store, expected) == expected


@pytest.mark.parametrize("case", sorted(REUSE))
@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_a_reused_call_id_counts_the_same_split_in_two_files(run, store, tmp_path, case, order):
    """One file == the same lines in two files, split at every place, loaded in either order."""
    lines, expected = REUSE[case]
    for cut in range(1, len(lines)):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        parts = [_qlog(folder / "queue_log.1", lines[:cut]), _qlog(folder / "queue_log", lines[cut:])]
        if order == "reversed":
            parts.reverse()
        for part in parts:
            result = run("--source", "queue-log", str(part))
            assert result.exit_code == 0, result.output
        assert _counts(store, expected) == expected, f"split before line {cut + 1}"


# --- case 13: the year boundary -----------------------------------------------------------------------
#
# Decision: the days whose year has a target catalogue load; the records of the other days are
# left out with one note naming them and how to add the year (a catalogue file with `inherits:`);
# a file with no day in a catalogue year is refused with the same how-to.

CST = dt.timezone(dt.timedelta(hours=8))
HOW_TO = "inherits: shanghai-12345-2019.yaml"


def _at(*when: int) -> int:
    return int(dt.datetime(*when, tzinfo=CST).timestamp())


def _line(t: int, cid: str, event: str, *data: object) -> str:
    return "|".join([str(t), cid, "12345", "NONE" if event != "CONNECT" else "SIP/8", event, *map(str, data)])


NEW_YEAR_LOG = [
    # 2018-12-31 23:50: two calls (one answered, one abandoned) on a day without a catalogue.
    _line(_at(2018, 12, 31, 23, 50), "d1", "ENTERQUEUE", "", "138", 1),
    _line(_at(2018, 12, 31, 23, 50, 5), "d1", "CONNECT", 5, "d1b", 1),
    _line(_at(2018, 12, 31, 23, 55), "d2", "ENTERQUEUE", "", "139", 1),
    # A call entering before midnight and answered after it is a call of 2018-12-31.
    _line(_at(2018, 12, 31, 23, 59, 50), "d3", "ENTERQUEUE", "", "137", 1),
    _line(_at(2018, 12, 31, 23, 59, 58), "d2", "ABANDON", 1, 1, 298),
    _line(_at(2019, 1, 1, 0, 0, 20), "d3", "CONNECT", 30, "d3b", 1),
    _line(_at(2019, 1, 1, 0, 1, 0), "d1", "COMPLETECALLER", 5, 655, 1),
    # 2019-01-01: three calls, two answered (one within 15 s), one abandoned after 40 s.
    _line(_at(2019, 1, 1, 0, 5), "j1", "ENTERQUEUE", "", "140", 1),
    _line(_at(2019, 1, 1, 0, 5, 10), "j1", "CONNECT", 10, "j1b", 1),
    _line(_at(2019, 1, 1, 0, 10), "j2", "ENTERQUEUE", "", "141", 1),
    _line(_at(2019, 1, 1, 0, 10, 40), "j2", "ABANDON", 1, 1, 40),
    _line(_at(2019, 1, 1, 0, 15), "j3", "ENTERQUEUE", "", "142", 1),
    _line(_at(2019, 1, 1, 0, 15, 20), "j3", "CONNECT", 20, "j3b", 1),
    _line(_at(2019, 1, 1, 0, 20), "j3", "COMPLETEAGENT", 20, 20, 1),
]


def test_a_queue_log_over_new_year_loads_2019_and_names_the_day_left_out(run, store, tmp_path):
    result = run("--source", "queue-log", str(_qlog(tmp_path / "queue_log", NEW_YEAR_LOG)))
    assert result.exit_code == 0, result.output
    jan = _day(store, D(2019, 1, 1))
    assert (jan["calls_offered"], jan["calls_answered"], jan["calls_answered_within_15s"]) == (3, 2, 1)
    assert jan["answer_wait_seconds_sum"] == 30
    assert _day(store, D(2018, 12, 31)) == {}
    out = " ".join(result.output.split())
    assert "2018-12-31" in out and "1 day" in out and HOW_TO in out, out
    assert out.count("2018-12-31") == 1  # one note, not one per line


TICKET_CLOSE = "2019-01-02 10:00:00"


def test_a_january_ticket_export_with_one_december_ticket_loads_january(run, store, tmp_path):
    rows = [_ticket("D1", "2018-12-31 23:58:00", "12345热线"),
            _ticket("J1", "2019-01-01 08:00:00", "12345热线"),
            _ticket("J2", "2019-01-01 09:00:00", "12345热线", "派单"),
            _ticket("J3", "2019-01-01 10:00:00", "网站"),
            _ticket("J4", "2019-01-02 11:00:00", "12345热线")]
    path = _write(tmp_path / "工单导出-2019-01.csv", TICKETS_HEADER + "".join(rows))
    result = run(str(path))
    assert result.exit_code == 0, result.output
    first, second = _day(store, D(2019, 1, 1)), _day(store, D(2019, 1, 2))
    assert (first["requests_accepted"], first["first_contact_eligible"], first["first_contact_resolved"],
            first["tickets_dispatched"]) == (3, 2, 1, 1)
    assert (second["requests_accepted"], second["first_contact_eligible"], second["first_contact_resolved"]) == (1, 1, 1)
    assert _day(store, D(2018, 12, 31)) == {}
    out = " ".join(result.output.split())
    assert "1 ticket" in out and "2018-12-31" in out and HOW_TO in out, out


def test_a_file_entirely_in_a_year_without_a_catalogue_is_refused_with_the_how_to(run, store, tmp_path):
    rows = [_ticket("D1", "2018-12-30 10:00:00", "12345热线"), _ticket("D2", "2018-12-31 11:00:00", "网站")]
    path = _write(tmp_path / "工单导出-2018-12.csv", TICKETS_HEADER + "".join(rows))
    result = run(str(path))
    assert result.exit_code != 0
    err = " ".join(result.stderr.split())
    assert "2018" in err and "catalogue years: 2019" in err and HOW_TO in err, err
    assert _day(store, D(2018, 12, 30)) == {}
    log = [line for line in NEW_YEAR_LOG if line.split("|")[1].startswith("d")]
    result = run("--source", "queue-log", str(_qlog(tmp_path / "queue_log", log)))
    assert result.exit_code != 0
    err = " ".join(result.stderr.split())
    assert "2018" in err and "catalogue years: 2019" in err and HOW_TO in err, err


def test_a_correction_that_would_leave_a_part_above_its_whole_is_refused(run, store, tmp_path):
    # Found by a new-user test: 呼入量 alone corrected below the stored 接通量 (9900) was loaded
    # and the day's connection rate read 202%, "met". The merged day must hold together.
    assert run(str(_write(tmp_path / "日报-2019-03.csv", REPORT))).exit_code == 0
    before = _day(store, D(2019, 3, 3))
    bad = run("--source", "daily-report", str(_write(tmp_path / "更正.csv", "日期,呼入量\n2019-03-03,5000\n")))
    assert bad.exit_code != 0
    err = " ".join(bad.stderr.split())
    assert "更正.csv, row 2, column calls_offered, value '5000'" in err, err
    assert "calls_answered (9900) would be greater than calls_offered (5000)" in err, err
    assert _day(store, D(2019, 3, 3)) == before  # nothing stored
    # 受理量 alone below the stored 话务员受理量 (9900): refused the same way.
    low = run("--source", "daily-report", str(_write(tmp_path / "更正2.csv", "日期,受理量\n2019-03-03,100\n")))
    assert low.exit_code != 0 and "first_contact_eligible (9900) would be greater than requests_accepted (100)" \
        in " ".join(low.stderr.split()), low.stderr
    # The chain given whole in one correction (接通量 is also the whole of 15秒接通量): loaded.
    ok = run("--source", "daily-report",
             str(_write(tmp_path / "更正3.csv", "日期,呼入量,接通量,15秒接通量\n2019-03-03,5000,4900,4000\n")))
    assert ok.exit_code == 0, ok.output
    after = _day(store, D(2019, 3, 3))
    assert (after["calls_offered"], after["calls_answered"], after["requests_accepted"]) == (5000, 4900, 12000)
