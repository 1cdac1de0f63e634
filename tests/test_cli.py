"""The command line end to end, on the embedded SQLite store, with an injected clock."""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.clock import FixedClock
from hotline_kpi.store.db import make_engine, read_session
from hotline_kpi.store.models import IngestRow, SourceDayRow
from tests.common import ROOT, TARGETS
from tests.processes import PYTHON_M, run_cli

NOW = __import__("datetime").datetime(2020, 3, 1, 9, 0, tzinfo=__import__("datetime").timezone.utc)
QUANTITATIVE = ["全年12345热线平台受理量", "热线接通率", "话务员一次性解答率", "话务员有责退单率", "电话接通时长",
                "12345热线回访市民满意度"]  # the display name; the seed (level3) says 回民

REPORT = (
    "日期,受理量,呼入量,接通量,平均接通时长(秒),话务员受理量,一次性解答量,派单量,有责退单量,回访量,满意量\n"
    "2019-01-01,11000,10000,9300,7.5,9300,5200,4100,180,400,372\n"
    "2019-01-02,12000,11000,9900,8.0,9900,5400,4500,200,420,380\n"
    "2019-01-04,10500,9800,9000,6.0,9000,5000,4000,150,390,360\n"
)


@pytest.fixture
def env(tmp_path, sqlite_url, monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("HOTLINE_KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    values = {
        "HOTLINE_KPI_DATABASE_URL": sqlite_url,
        "HOTLINE_KPI_VAR_DIR": str(tmp_path / "var"),
        "HOTLINE_KPI_TARGETS_DIR": str(TARGETS),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def run(env, clock):
    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), obj=App(clock=clock), catch_exceptions=False)

    return invoke


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with read_session(engine) as s:
        out = (s.scalar(select(func.count()).select_from(IngestRow)),
               s.scalar(select(func.count()).select_from(SourceDayRow)))
    engine.dispose()
    return out


def _ytd(out: str, name: str) -> str:
    line = next(l for l in out.splitlines() if name in l)
    return line.split("│")[-3].strip()  # the 年累计 column


def test_demo_prints_the_2019_scoreboard_of_all_six_quantitative_indicators(run, env):
    """The default demo: January-November from daily reports, December from the raw systems."""
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "12 月来自话务平台 queue_log 及工单、回访导出表" in result.stderr
    assert "演示：第 3/3 步：载入第 16/16 个文件" in result.stderr  # the progress of its 40-80 s
    out = result.stdout
    assert "截至 2019-12-31" in out
    for name in QUANTITATIVE:
        line = next(l for l in out.splitlines() if name in l)
        assert "达标" in line or "未达标" in line, line  # a year-to-date status on every row
    # The raw December agrees with the typed plan where both count the same thing.
    reports_only = CliRunner().invoke(cli, ["demo", "--raw-from", "13"], obj=App(clock=FixedClock(NOW)),
                                      env={"HOTLINE_KPI_DATABASE_URL": f"sqlite:///{env['HOTLINE_KPI_VAR_DIR']}/r.db"})
    assert reports_only.exit_code == 0, reports_only.output
    for name in ("全年12345热线平台受理量", "话务员一次性解答率", "电话接通时长"):
        assert _ytd(out, name) == _ytd(reports_only.stdout, name), name


def test_demo_again_loads_nothing_new_and_prints_the_same_board(run):
    first = run("demo", "--raw-from", "13")
    assert first.exit_code == 0 and "新载入 13 个" in first.stderr
    again = run("demo", "--raw-from", "13")
    assert again.exit_code == 0 and "新载入 0 个" in again.stderr
    assert again.stdout == first.stdout


def test_demo_in_english(run):
    result = run("--lang", "en", "demo", "--raw-from", "13")
    assert result.exit_code == 0
    assert "KPIs as of 2019-12-31" in result.stdout and "Connection rate" in result.stdout


def test_ingest_evaluate_and_export_a_daily_report(run, env, tmp_path):
    path = tmp_path / "jan.csv"
    path.write_text(REPORT, encoding="utf-8")
    loaded = run("ingest", str(path))
    assert loaded.exit_code == 0, loaded.output
    assert "jan.csv：日报，" in loaded.stdout and "新增 3 天" in loaded.stdout

    again = run("ingest", str(path))
    assert again.exit_code == 0 and "已载入过" in again.stdout
    assert _counts(env["HOTLINE_KPI_DATABASE_URL"]) == (1, 3)

    result = run("evaluate", "--as-of", "2019-01-04", "--format", "json")
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert board["hotline"] == "shanghai-12345" and board["as_of"] == "2019-01-04"
    ytd = {r["id"]: r for r in board["results"] if r["window"] == "year_to_date"}
    conn = ytd["connection_rate"]
    assert {"id", "window", "value", "target", "comparator", "status", "numerator", "denominator",
            "days_with_data"} <= set(conn)
    assert (conn["numerator"], conn["denominator"], conn["days_with_data"]) == (28200, 30800, 3)
    assert conn["value"] == pytest.approx(28200 / 30800) and conn["status"] == "met"
    asa = ytd["average_answer_seconds"]
    assert asa["value"] == pytest.approx((7.5 * 9300 + 8.0 * 9900 + 6.0 * 9000) / 28200)
    assert board["completeness"]["days_with_data"] == 3 and board["completeness"]["days_elapsed"] == 4

    exported = run("export", "daily", "--from", "2019-01-01", "--to", "2019-01-05", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["date"] for r in rows] == ["2019-01-01", "2019-01-02", "2019-01-03", "2019-01-04", "2019-01-05"]
    assert rows[0]["calls_answered"] == "9300" and rows[0]["answer_wait_seconds_sum"] == "69750"
    assert rows[2]["calls_offered"] == "" and rows[0]["calls_abandoned_short"] == ""  # unknown, not 0


def test_evaluate_table_is_the_default_and_defaults_to_the_last_day_with_data(run, tmp_path):
    (tmp_path / "jan.csv").write_text(REPORT, encoding="utf-8")
    assert run("ingest", str(tmp_path / "jan.csv")).exit_code == 0
    result = run("evaluate")
    assert result.exit_code == 0
    assert "截至 2019-01-04" in result.stdout and "热线接通率" in result.stdout


def test_a_bad_file_is_rejected_with_its_place_a_non_zero_exit_and_nothing_stored(run, env, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(REPORT, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(REPORT.replace("10500,9800,9000", "10500,9800,99000"), encoding="utf-8")
    result = run("ingest", str(bad), str(good))
    assert result.exit_code == 1
    assert "bad.csv" in result.stderr and "第 4 行" in result.stderr and "99000" in result.stderr
    assert "2 个文件中 1 个被拒收" in result.stderr
    assert _counts(env["HOTLINE_KPI_DATABASE_URL"]) == (1, 3)  # only the good file


def test_missing_file_and_unknown_hotline_are_clear_errors(run, tmp_path):
    missing = run("ingest", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and f"{tmp_path / 'nope.csv'}：文件不存在" in missing.stderr
    folder = run("ingest", str(tmp_path))  # a folder where a file was meant
    assert folder.exit_code == 1 and f"{tmp_path}：不是文件" in folder.stderr
    unknown = run("evaluate", "--hotline", "atlantis-110")
    assert unknown.exit_code == 1 and "热线“atlantis-110”没有目标目录（已有：shanghai-12345）" in unknown.stderr


def test_commands_refuse_a_database_without_schema(run, env, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_KPI_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    result = run("evaluate")
    assert result.exit_code == 1 and "hotline-kpi db upgrade" in result.stderr
    assert run("db", "upgrade").exit_code == 0
    assert run("db", "current").stdout.strip() != ""


def test_targets_show_and_check(run, tmp_path):
    shown = run("targets", "show")
    assert shown.exit_code == 0 and "热线接通率" in shown.stdout and "全国政务类服务热线排名" in shown.stdout
    ok = run("targets", "check", str(TARGETS / "shanghai-12345-2019.yaml"))
    assert ok.exit_code == 0 and "13 项指标" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((TARGETS / "shanghai-12345-2019.yaml").read_text(encoding="utf-8").replace(
        "threshold: 0.50", "threshold: half"), encoding="utf-8")
    result = run("targets", "check", str(bad))
    assert result.exit_code == 1
    assert "first_contact_resolution_rate" in result.stderr and "threshold" in result.stderr


def test_invalid_settings_are_reported_at_start(run, monkeypatch):
    monkeypatch.setenv("HOTLINE_KPI_TIMEZONE", "Mars/Olympus")
    result = run("evaluate")
    assert result.exit_code == 1 and "HOTLINE_KPI_TIMEZONE" in result.stderr and "Mars/Olympus" in result.stderr


def test_python_dash_m_runs_the_cli():
    proc = run_cli(os.environ, "--help", cwd=ROOT, command=PYTHON_M, check=False)
    assert proc.returncode == 0 and "ingest" in proc.stdout and "evaluate" in proc.stdout


def _snapshots(url: str) -> list[tuple[str, str, str]]:
    from hotline_kpi.store.models import EvaluationSnapshotRow

    engine = make_engine(url)
    with read_session(engine) as s:
        rows = [(r.hotline_id, r.as_of.isoformat(), r.trigger)
                for r in s.scalars(select(EvaluationSnapshotRow).order_by(EvaluationSnapshotRow.id))]
    engine.dispose()
    return rows


def test_ingest_evaluates_what_it_loaded_so_a_running_serve_shows_it(run, env, tmp_path):
    """Before, a file loaded with the CLI reached the status page and /metrics only at the
    next scheduled evaluation (08:30 the next day). Now a load that changed something is
    evaluated at once, as the inbox does; nothing new loaded, or --no-evaluate, stores no
    snapshot."""
    url = env["HOTLINE_KPI_DATABASE_URL"]
    jan = tmp_path / "jan.csv"
    jan.write_text(REPORT, encoding="utf-8")
    result = run("ingest", str(jan))
    assert result.exit_code == 0, result.output
    assert "已评估 上海市12345市民服务热线：运行中的 `serve` 将在下次刷新指标时显示新数据" in result.stderr
    assert _snapshots(url) == [("shanghai-12345", "2019-01-04", "ingest")]

    assert run("ingest", str(jan)).exit_code == 0  # already loaded: nothing to evaluate
    assert len(_snapshots(url)) == 1

    feb = tmp_path / "feb.csv"
    feb.write_text(REPORT.replace("2019-01-0", "2019-02-0"), encoding="utf-8")
    result = run("ingest", "--no-evaluate", str(feb))
    assert result.exit_code == 0 and "evaluated" not in result.stderr, result.output
    assert len(_snapshots(url)) == 1
    # The snapshot holds what `evaluate --format json` computes for that day.
    from hotline_kpi.store.models import EvaluationSnapshotRow

    engine = make_engine(url)
    with read_session(engine) as s:
        stored = json.loads(s.scalars(select(EvaluationSnapshotRow.payload)).one())
    engine.dispose()
    board = json.loads(run("evaluate", "--as-of", "2019-01-04", "--format", "json").stdout)
    assert stored["as_of"] == board["as_of"] == "2019-01-04"
    assert stored["results"] == board["results"] and stored["results"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_queue_log_past_the_problem_limit_says_reading_stopped(run, env, tmp_path, lang):
    """1,200 bad lines: the first 1,000 are counted, the first 50 shown, and the message says
    that reading stopped (it was the 1,001st "problem", never shown, before)."""
    from tests.ingest.qlog import ev, write

    lines = [ev(i, f"c{i}", "CONNECT", "soon", "x", 1) for i in range(1200)]
    path = write(tmp_path / "queue_log", lines)
    result = run(*(["--lang", "en"] if lang == "en" else []), "ingest", "--source", "queue-log", str(path))
    assert result.exit_code == 1
    if lang == "zh":
        assert "（1000 个问题）" in result.stderr and "……另有 950 个" in result.stderr
        assert "说明：发现 1000 个问题后停止读取" in result.stderr
    else:
        assert "(1000 problem(s))" in result.stderr and "... and 950 more" in result.stderr
        assert "note: stopped reading after 1000 problems" in result.stderr
    assert _counts(env["HOTLINE_KPI_DATABASE_URL"]) == (0, 0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ctrl_c_exits_130_and_keeps_the_files_loaded_before(run, env, tmp_path, monkeypatch, lang):
    """Ctrl-C is status 130, as a shell reports SIGINT (it was 1, as for a rejected file), in
    the office's words; the file loaded before it stays, the one being loaded is not stored."""
    from hotline_kpi.ingest.queue_log import QueueLogIngestor
    from tests.ingest.qlog import abandoned, write

    good = tmp_path / "jan.csv"
    good.write_text(REPORT, encoding="utf-8")
    log = write(tmp_path / "queue_log", abandoned("c1", 0, 5))

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(QueueLogIngestor, "parse", interrupted)
    result = run(*(["--lang", "en"] if lang == "en" else []), "ingest", str(good), str(log))
    assert result.exit_code == 130
    assert ("已中断（Ctrl-C）" if lang == "zh" else "interrupted (Ctrl-C)") in result.stderr
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr
    assert _counts(env["HOTLINE_KPI_DATABASE_URL"]) == (1, 3)  # the report's three days, nothing of the log
    kept = [p for p in (tmp_path / "var" / "originals").rglob("*") if p.is_file()]
    assert len(kept) == 1 and kept[0].read_bytes() == good.read_bytes()  # no original kept of the log


def test_the_progress_bar_says_storing_once_the_file_is_read(tmp_path, monkeypatch):
    """After the bar reaches the end, a year's queue_log takes a second or two to store: the bar
    says so (it stood still at 100 %)."""
    from hotline_kpi.cli.ingest import _progress_for
    from hotline_kpi.i18n import current_language, set_language

    big = tmp_path / "queue_log"
    big.write_bytes(b"x" * (2 << 20))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    was = current_language()
    try:
        for lang, storing in (("zh", "queue_log：正在存入"), ("en", "queue_log: storing")):
            set_language(lang)
            for update in _progress_for(big):
                update(1 << 20, 2 << 20)
                assert update.bar.tasks[0].description == "queue_log"
                update(2 << 20, 2 << 20)
                assert update.bar.tasks[0].description == storing
    finally:
        set_language(was)
