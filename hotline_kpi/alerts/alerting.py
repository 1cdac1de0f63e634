"""Alerting as the service, the evaluation job and the CLI use it: built once at the edge.

- :meth:`Alerting.on_snapshot` is called by the evaluation job inside its write
  transaction, right after it stored a snapshot;
- the ``alerts_dispatch`` job sends what is owed every ``dispatch_interval_seconds``;
- the ``alerts_digest`` job writes the daily digest at ``digest_at`` (hotline time) and
  sends it; a run missed while the service was down is caught up at start-up, and a
  second run in the same slot adds nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hotline_kpi.alerts import outbox
from hotline_kpi.alerts.content import Links
from hotline_kpi.alerts.dispatch import Backoff, Dispatcher, PassReport
from hotline_kpi.alerts.rules import AlertsConfig, RulesError, check_against, load_rules
from hotline_kpi.alerts.smtp import SmtpTransport, Transport
from hotline_kpi.alerts.webhook import ChannelTransport, WebhookTransport, is_webhook
from hotline_kpi import defaults
from hotline_kpi.catalogue import CatalogueSet
from hotline_kpi.clock import Clock
from hotline_kpi.i18n import C_, Msg, _, current_language, localize, source_label, t
from hotline_kpi.schedule import JobSpec, new_holder_id
from hotline_kpi.settings import Settings
from hotline_kpi.store.db import write_session
from hotline_kpi.store.models import AlertRow

log = logging.getLogger(__name__)

#: Domains reserved for examples (RFC 2606): no office reads mail there. The shipped rules
#: mail kpi-office@example.org until alerts.recipients names the office's addresses.
PLACEHOLDER_DOMAINS = ("example.org", "example.com", "example.net")

#: Stable job ids (job_run rows and metrics labels).
ALERTS_DISPATCH = "alerts_dispatch"
ALERTS_DIGEST = "alerts_digest"


def load_config(settings: Settings, catalogues: CatalogueSet) -> AlertsConfig | None:
    """The rules file (default: the rules shipped in the package) checked against the
    catalogues and source names. Raises :class:`RulesError` for a bad or missing file."""
    path = Path(settings.alerts.rules_file)
    config = load_rules(path)
    if settings.alerts.recipients:  # the setting replaces the file's default_recipients
        config = config.model_copy(update={"default_recipients": settings.alerts.recipients})
    if path == defaults.path(defaults.ALERT_RULES):
        # The shipped rules are written for the shipped catalogue: with catalogues of one's
        # own, a shipped rule on an indicator they lack is left out (and said), not fatal.
        cats = list(catalogues)
        fits = [r for r in config.rules
                if not check_against(config.model_copy(update={"rules": (r,)}), cats, settings.source_priority)]
        if len(fits) < len(config.rules):
            left = sorted({r.id for r in config.rules} - {r.id for r in fits})
            log.warning("shipped alert rules left out (the catalogues lack their indicator): %s", ", ".join(left))
            config = config.model_copy(update={"rules": tuple(fits)})
        return config
    problems = check_against(config, catalogues, settings.source_priority)
    if problems:
        raise RulesError(path, problems)
    return config


#: What an alert event is (a change of state, or a notification of its own), in the office's
#: words: the service log and `alerts list`.
EVENT_KINDS: dict[str, Msg] = {
    "pending": C_("alert-event", "became pending"),
    "cleared": C_("alert-event", "cleared before firing"),
    "firing": C_("alert-event", "started firing"),
    "resolved": C_("alert-event", "resolved"),
    "dropped": C_("alert-event", "rule removed"),
    "digest": C_("alert-event", "daily digest"),
    "resend": C_("alert-event", "resent"),
}


def event_kind(kind: str) -> str:
    """An event's kind in the current language (an unknown one as it is)."""
    return localize(EVENT_KINDS[kind]) if kind in EVENT_KINDS else kind


class Alerting:
    def __init__(self, settings: Settings, catalogues: CatalogueSet, engine: Engine, clock: Clock,
                 config: AlertsConfig, transport: Transport | None = None, holder: str | None = None):
        self.settings = settings
        self.catalogues = catalogues
        self.engine = engine
        self.clock = clock
        self.config = config
        self.transport = transport
        self.holder = holder or new_holder_id()
        a, smtp = settings.alerts, settings.smtp
        hour, minute = (int(x) for x in a.digest_at.split(":"))
        self.context = outbox.AlertContext(
            config=config, catalogues=catalogues, formulas=settings.formulas, lang=settings.language,
            links=Links(a.status_url or settings.service.status_url, a.grafana_url),
            domain=smtp.from_address.rpartition("@")[2] or "localhost",
            retry_for=dt.timedelta(seconds=smtp.retry_for_seconds),
            digest_at=dt.time(hour, minute), digest_quiet=dt.timedelta(hours=a.digest_quiet_hours),
        )

    @classmethod
    def from_settings(cls, settings: Settings, catalogues: CatalogueSet, engine: Engine, clock: Clock,
                      holder: str | None = None) -> "Alerting | None":
        """None when alerting is off (no rules file); the transport is None when no
        SMTP host is set (states are still tracked, mail waits in the outbox)."""
        config = load_config(settings, catalogues)
        if config is None:
            return None
        transport: Transport | None = SmtpTransport(settings.smtp) if settings.smtp.host else None
        hooks = settings.alerts.webhooks
        unknown = sorted({r for rule in config.rules for r in config.recipients(rule)
                          if is_webhook(r) and r[len("webhook:"):] not in hooks})
        if unknown:
            raise RulesError(settings.alerts.rules_file, [_(
                "recipients {recipients}: no such group robot in alerts.webhooks", recipients=", ".join(unknown))])
        shipped = Path(settings.alerts.rules_file) == defaults.path(defaults.ALERT_RULES)
        placeholders = sorted({r for rule in config.rules for r in config.recipients(rule)
                               if r.lower().rpartition("@")[2] in PLACEHOLDER_DOMAINS})
        if settings.smtp.host and shipped and placeholders:
            # The shipped rules' kpi-office@example.org reaches no one: refuse before an alert is owed.
            raise RulesError(settings.alerts.rules_file, [_(
                "mail is on (smtp.host) but alerts would go to the placeholder address(es) {addresses}: set "
                "alerts.recipients (HOTLINE_KPI_ALERTS__RECIPIENTS) to the office's addresses, or name them in "
                "a rules file of your own", addresses=", ".join(placeholders))])
        if hooks:
            robots = WebhookTransport(hooks, lambda: int(clock.now().timestamp() * 1000), settings.language)
            transport = ChannelTransport(transport, robots)
        if transport is None:
            log.warning("%s", _("smtp.host is not set: alert mail waits in the outbox (see `hotline-kpi alerts list`)"))
        return cls(settings, catalogues, engine, clock, config, transport, holder)

    # --- the evaluation's transaction ---------------------------------------------------

    def on_snapshot(self, session: Session, snapshot_id: int, at: dt.datetime) -> None:
        """Judge the rules against a snapshot just stored in ``session``'s transaction."""
        events = outbox.evaluate_snapshot(session, snapshot_id, self.context, at)
        for ev in events:
            log.info("%s", _("alert {id} ({hotline}: {what}): {old} → {new} ({kind}){owed}", id=ev.alert_id,
                               hotline=self._hotline_name(ev.hotline_id), what=self._alert_what(session, ev.alert_id),
                               old=t(ev.old_state), new=t(ev.new_state), kind=event_kind(ev.kind),
                               owed=_("; a notification is owed") if ev.notify else ""))

    def _hotline_name(self, hotline_id: str) -> str:
        """The hotline as the office calls it (its id if the catalogues lack it)."""
        try:
            hotline = self.catalogues.hotline(hotline_id)
        except KeyError:
            return hotline_id
        return hotline.name if current_language() == "zh" else hotline.name_en

    def _alert_what(self, session: Session, alert_id: int | None) -> str:
        """What an alert watches, in words: its indicator's display name, or the source whose
        data is overdue; the rule id only when neither is known."""
        row = session.get(AlertRow, alert_id) if alert_id is not None else None
        if row is None:
            return str(alert_id)
        rule = self.config.rule(row.rule_id)
        if rule is not None and rule.indicator:
            for year in reversed(self.catalogues.years(row.hotline_id)):
                catalogue = self.catalogues.get(row.hotline_id, year)
                found = next((i for i in catalogue.indicators if i.id == rule.indicator), None) if catalogue else None
                if found is not None:
                    return found.display_name(current_language())
        if rule is not None and rule.source:
            return _("no new {source} data", source=localize(source_label(rule.source)))
        return row.rule_id

    # --- delivery -----------------------------------------------------------------------

    def dispatcher(self, transport: Transport | None = None) -> Dispatcher:
        transport = transport or self.transport
        if transport is None:
            raise RuntimeError("SMTP is not configured (smtp.host)")
        smtp = self.settings.smtp
        return Dispatcher(
            self.engine, transport, self.clock, sender=smtp.from_address, holder=self.holder,
            claim_timeout=dt.timedelta(seconds=self.settings.alerts.claim_timeout_seconds),
            backoff=Backoff(dt.timedelta(seconds=smtp.backoff_initial_seconds),
                            dt.timedelta(seconds=smtp.backoff_max_seconds)),
        )

    def dispatch(self) -> PassReport:
        """One delivery pass: everything due now."""
        return self.dispatcher().run_pass()

    def enqueue_digests(self) -> int:
        with write_session(self.engine) as s:
            return len(outbox.enqueue_digests(s, self.context, self.clock.now()))

    def digest(self) -> PassReport:
        """Write the current slot's digests (if not yet written) and send what is due."""
        n = self.enqueue_digests()
        if n:
            log.info("%d digest(s) written", n)
        return self.dispatch() if self.transport is not None else PassReport()

    def resend(self, event_id: int) -> int:
        with write_session(self.engine) as s:
            return outbox.resend(s, event_id, self.context, self.clock.now()).id

    def jobs(self) -> list[JobSpec]:
        """The scheduled jobs; none without a transport (nothing could be sent)."""
        if self.transport is None:
            return []
        a = self.settings.alerts
        zone = self.settings.zone
        hour, minute = (int(x) for x in a.digest_at.split(":"))
        return [
            JobSpec(ALERTS_DISPATCH, self.dispatch, IntervalTrigger(seconds=a.dispatch_interval_seconds, timezone=zone)),
            JobSpec(ALERTS_DIGEST, self.digest, CronTrigger(hour=hour, minute=minute, timezone=zone), catch_up=True),
        ]
