""""At risk" from the projection's model: the probability of missing the target drives the
at_risk rule and shows in the mail, in the metrics and on the status page -- the same
figure everywhere. Store, evaluation, a real SMTP server on loopback, the HTTP app.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from starlette.testclient import TestClient

from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import FixedClock
from hotline_kpi.service.exporter import MetricsCache
from hotline_kpi.service.web import build_app
from tests.alerts.conftest import OFFICE, SH, SmtpServer, World, load_days, local, make_settings, rates

RULES = f"""
default_recipients: [{OFFICE}]
rules:
  - id: connection_rate_at_risk
    indicator: connection_rate
    condition: at_risk
    probability: 0.5
    severity: critical
"""


def test_the_probability_of_missing_drives_the_rule_and_shows_in_mail_metrics_and_page(
        engine, tmp_path: Path, catalogues: CatalogueSet, smtp_server: SmtpServer):
    settings = make_settings(tmp_path, engine.url.render_as_string(hide_password=False), smtp_server.port,
                             rules=RULES)
    world = World(engine, settings, catalogues, FixedClock(local(2019, 7, 1, 8, 30)), smtp_server)
    # January to June just under 90%, the months a little apart.
    first = dt.date(2019, 1, 1)
    days = [first + dt.timedelta(days=i) for i in range(181)]
    load_days(engine, catalogues, world.clock.now(),
              {d: rates(connection=0.897 + 0.002 * math.sin(d.toordinal() / 9) + 0.001 * (d.month % 2))
               for d in days})
    world.evaluate()
    cache = MetricsCache(engine, {SH: "Asia/Shanghai"}, world.clock.now)
    cache.refresh()
    proj = cache.model.snapshots[SH].doc.projection("connection_rate")  # the stored evaluation
    assert proj is not None and proj.miss_probability is not None
    assert 0.5 <= proj.miss_probability < 1.0  # more likely missed than met, not certain
    shown = f"{100 * proj.miss_probability:.0f}%"

    world.dispatch()
    [mail] = smtp_server.to(OFFICE)
    assert "年末预测" in mail.subject
    assert "未达目标概率" in mail.part("plain") and shown in mail.part("plain")

    assert cache.registry.get_sample_value("hotline_kpi_projection_miss_probability",
                                           {"hotline": SH, "indicator": "connection_rate"}) == proj.miss_probability

    client = TestClient(build_app(cache, settings, catalogues, world.clock.now))
    page = client.get("/").text
    row = page[page.index('data-indicator="connection_rate"'):]
    row = row[:row.index("</tr>")]
    cell = row[row.index('<td class="miss-probability"'):]
    assert cell[cell.index(">") + 1:cell.index("</td>")] == shown
    assert "Chance of missing" in client.get("/?lang=en").text
