"""The series a hotline costs in the worst case of issue #19's budget: mid-year (the
required values exist then, and are absent at year end), every ingest source loaded for
the hotline, every budget line of the catalogue. The real ingest path over a real store
(SQLite and PostgreSQL), the real evaluation job and the exporter's own rendering."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.demo import write_daily_reports, write_spending_ledger
from hotline_kpi.demo_sources import write_demo_sources
from hotline_kpi.ingest.pipeline import ingest_file
from hotline_kpi.ingest.registry import ingestors
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.service.jobs import evaluate_hotlines
from hotline_kpi.service.league import LeagueBoard
from hotline_kpi.service.league_metrics import LeagueCollector
from hotline_kpi.store import migrate
from tests.common import SHANGHAI as HOTLINE

#: The KPI families' share of the 120 series a hotline may cost; the league adds at most 9.
KPI_BUDGET = 110
TOTAL_BUDGET = 120
LEAGUE = ("hotline_kpi_league_",)


def _per_hotline(text: str, skip: tuple[str, ...] = ()) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith(skip):
            continue
        m = re.search(r'[{,]hotline="([^"]+)"', line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def test_mid_year_with_every_source_and_budget_line_stays_within_the_budget(
        engine, settings, catalogues: CatalogueSet, tmp_path: Path) -> None:
    migrate.upgrade(engine)
    clock = FixedClock(dt.datetime(2019, 7, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    files = [("daily-report", p) for p in write_daily_reports(tmp_path / "reports", months=range(1, 4))]
    ledger = write_spending_ledger(tmp_path)  # the year's ledger, cut to January-June
    ledger.write_text("".join(line for line in ledger.read_text(encoding="utf-8").splitlines(keepends=True)
                              if not re.search(r"2019-(0[7-9]|1[0-2])", line)), encoding="utf-8")
    files.append(("spending", ledger))
    files += write_demo_sources(tmp_path / "systems", scale=0.02, months=range(4, 7))
    for source, path in files:
        ingest_file(engine, path, settings=settings, catalogues=catalogues, clock=clock, hotline_id=HOTLINE,
                    source=source)
    assert evaluate_hotlines(engine, settings, catalogues, clock, "test") == [HOTLINE]
    hotlines = catalogues.hotlines()
    cache = MetricsCache(engine, {h.id: h.timezone for h in hotlines}, clock.now,
                         hotline_info={h.id: (h.name, h.province) for h in hotlines})
    cache.add_snapshot_collector(LeagueCollector(LeagueBoard.from_settings(settings, catalogues),
                                                 lambda: cache.model.snapshots))
    cache.refresh()
    doc = cache.model.snapshots[HOTLINE].doc
    assert doc.as_of == dt.date(2019, 6, 30)
    # the worst case is what is measured: every source, the required values, every budget line
    assert {src for (hid, src) in cache.model.last_ingest_success if hid == HOTLINE} == set(ingestors())
    text = cache.rendered().decode()
    targeted = [p for p in doc.projections if p.projected_value is not None]
    assert targeted and all(f'hotline_kpi_required_value{{hotline="{HOTLINE}",indicator="{p.id}"' in text
                            for p in doc.projections if p.required_value is not None)
    assert sum(p.required_value is not None for p in doc.projections) >= 5
    assert doc.budget is not None and len(doc.budget.lines) >= 2

    kpi = _per_hotline(text, skip=LEAGUE)[HOTLINE]
    total = _per_hotline(text)[HOTLINE]
    assert kpi <= KPI_BUDGET, kpi
    assert total <= TOTAL_BUDGET, total
    # the budget is a total, whatever the number of lines
    assert len(re.findall(r"^hotline_kpi_budget_yuan\{", text, re.M)) == 1
    assert cache.registry.get_sample_value("hotline_kpi_budget_yuan", {"hotline": HOTLINE}) == \
        sum(line.budget_yuan for line in doc.budget.lines)
    # the year-to-date denominators of the rates and times, and the province to join on
    r = doc.result("connection_rate", "year_to_date")
    assert r is not None and r.denominator
    assert cache.registry.get_sample_value("hotline_kpi_indicator_denominator", {
        "hotline": HOTLINE, "indicator": "connection_rate", "window": "year_to_date"}) == r.denominator
    h = catalogues.hotline(HOTLINE)
    assert cache.registry.get_sample_value("hotline_kpi_hotline_info", {
        "hotline": HOTLINE, "province": h.province, "name": h.name}) == 1
