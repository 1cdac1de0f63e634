"""``hotline-kpi alerts``: alert state, undelivered mail, test mail, resend and dispatch."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from hotline_kpi.alerts.smtp import error_text as _error_text, network_reason as _network_reason
from hotline_kpi.i18n import M_, Msg, _, q, t
from hotline_kpi.cli.app import App, Failure, _console, pass_app
from hotline_kpi.store.db import read_session


def _alerting(app: App):  # noqa: ANN202 - imported lazily with the alerts package
    from hotline_kpi.alerts.rules import RulesError
    from hotline_kpi.alerts.alerting import Alerting

    try:
        alerting = Alerting.from_settings(app.settings, app.catalogues, app.engine, app.clock)
    except RulesError as exc:
        raise Failure(str(exc)) from None
    if alerting is None:
        raise Failure(_("alerting is off: no rules file {file} (alerts.rules_file)", file=app.settings.alerts.rules_file))
    return alerting


def _local_time(at: dt.datetime | None, app: App) -> str:
    return "—" if at is None else at.astimezone(app.settings.zone).strftime("%Y-%m-%d %H:%M")


@click.group()
def alerts() -> None:
    """Breach alerts: state, undelivered mail, test and resend."""


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list inactive alerts.")
@pass_app
def alerts_list(app: App, show_all: bool) -> None:
    """Alerts (state, since, last notified) and notifications not yet delivered."""
    from hotline_kpi.alerts import outbox
    from hotline_kpi.alerts.alerting import event_kind

    app.require_schema()
    config, rules_problem = _rules(app)
    rules = {r.id: r for r in config.rules} if config is not None else {}
    with read_session(app.engine) as s:
        views = outbox.list_alerts(s)
        owed = outbox.owed_notifications(s)
        failures = outbox.recent_failures(s, limit=10)
    out = _console()
    smtp = app.settings.smtp
    server = _server(smtp) if smtp.host else _("not configured (smtp.host)")
    out.print(_("SMTP: {server} · rules: {rules}", server=server, rules=app.settings.alerts.rules_file), soft_wrap=True)
    kinds = {"wecom": _("WeCom group robot"), "dingtalk": _("DingTalk group robot")}
    hooks = app.settings.alerts.webhooks
    robots = _(", ").join(_("webhook:{name} ({kind})", name=n, kind=kinds.get(h.kind, h.kind)) for n, h in sorted(hooks.items()))
    out.print(_("Group robots: {robots}", robots=robots) if hooks else _("Group robots: none (alerts.webhooks)"),
              soft_wrap=True)
    shown = [v for v in views if show_all or v.state != "inactive"]
    hotlines = sorted({v.hotline_id for v in shown})
    one = len(hotlines) == 1  # one hotline (the usual office): named in the title, not on every row
    table = Table(title=_("alerts: {hotline}", hotline=app.hotline_name(hotlines[0])) if one else _("alerts"))
    for col in (_("id"), *(() if one else (_("hotline"),)), _("rule"), _("severity"), _("state"), _("days held"),
                _("since"), _("last notified"), _("summary"), _("rule id")):
        # the times read as one line; a long name or id folds rather than being cut short (…)
        # (the rule id, what commands and the rules file take, is kept whole)
        table.add_column(col, no_wrap=col in (_("since"), _("last notified")), overflow="fold",
                         min_width=max((len(v.rule_id) for v in shown), default=0) if col == _("rule id") else None)
    style = {"firing": "bold red", "pending": "yellow", "inactive": "dim"}
    for v in shown:
        table.add_row(str(v.id), *(() if one else (app.hotline_name(v.hotline_id),)),
                      _rule_title(app, rules.get(v.rule_id), v.hotline_id) or v.rule_id, t(v.severity),
                      f"[{style.get(v.state, '')}]{t(v.state)}[/]", str(v.held_days), _local_time(v.since, app),
                      _local_time(v.last_notified_at, app),
                      outbox.summary(app.catalogues, v.hotline_id, v.figures, app.lang, v.state), v.rule_id)
    out.print(table)
    if len(shown) < len(views):
        out.print(_("{n} inactive alert(s) not shown (--all)", n=len(views) - len(shown)))
    if owed:
        pending = Table(title=_("undelivered notifications"))
        for col in (_("event"), _("kind"), _("alert"), _("written"), _("attempts"), _("next attempt"), _("gives up"),
                    _("waiting for"), _("last error")):
            pending.add_column(col)
        for o in owed:
            pending.add_row(str(o.event_id), event_kind(o.kind), str(o.alert_id or "—"), _local_time(o.at, app), str(o.attempts),
                            _local_time(o.next_attempt_at, app), _local_time(o.deliver_by, app), ", ".join(o.remaining),
                            _error_text(o.last_error)[:120])
        out.print(pending)
    else:
        out.print(_("no undelivered notifications"))
    if failures:
        failed = Table(title=_("recent delivery failures (not retried)"))
        for col in (_("event"), _("recipient"), _("at"), _("outcome"), _("error")):
            failed.add_column(col)
        for d in failures:
            failed.add_row(str(d.event_id), d.recipient, _local_time(d.at, app), t(d.outcome),
                           _error_text(d.error or "")[:160])
        out.print(failed)
    if rules_problem is not None:
        # What is stored is listed (it is what happened), but alerting cannot run: said last, exit 1.
        raise Failure(rules_problem)


def _rules(app: App):  # noqa: ANN202 - the rules config, imported lazily
    """The rules, and why the rules file cannot be used (missing, or not valid) or None:
    `alerts list` says it rather than show the stored alerts as if alerting worked."""
    from hotline_kpi.alerts.alerting import load_config
    from hotline_kpi.alerts.rules import RulesError

    try:
        return load_config(app.settings, app.catalogues), None
    except RulesError as exc:
        return None, _("the alert rules cannot be used, so no alert is judged and no mail is sent (`serve` refuses "
                       "to start): {problem}", problem=str(exc))


#: A rule's kind as its readable name ends (a plain threshold rule is its indicator and window).
_KINDS: dict[str, Msg] = {
    "behind_pace": M_("behind pace"),
    "at_risk": M_("year-end projection"),
    "missed": M_("final result for the year"),
    "no_data": M_("no file loaded"),
}


def _rule_title(app: App, rule, hotline_id: str) -> str | None:  # noqa: ANN001 - alerts.rules.Rule
    """A rule as people name it, from its fields: 电话接通时长·年累计, 日报·未载入新文件."""
    from hotline_kpi.i18n import source_label

    if rule is None:
        return None
    if rule.indicator is None:
        parts = [str(source_label(rule.source or "")) if rule.source else rule.id]
    else:
        years = app.catalogues.years(hotline_id) if app.catalogues.hotlines() else []
        try:
            name = app.catalogues.for_year(hotline_id, max(years)).indicator(rule.indicator).display_name(app.lang)
        except (KeyError, ValueError):
            name = rule.indicator
        parts = [name] if rule.window is None else [name, t(rule.window.value)]
    if rule.condition.value in _KINDS:
        parts.append(str(_KINDS[rule.condition.value]))
    return "·".join(parts)




@alerts.command("test-email")
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeatable).")
@pass_app
def alerts_test_email(app: App, to: tuple[str, ...]) -> None:
    """Send a test mail now, straight through the SMTP settings; exit status 1 if any
    recipient did not get it."""
    from email.utils import make_msgid

    from hotline_kpi.alerts.content import render_test
    from hotline_kpi.alerts.rules import check_address
    from hotline_kpi.alerts.smtp import SmtpTransport, build_message

    smtp = app.settings.smtp
    if not smtp.host:
        raise Failure(_("SMTP is not configured: set smtp.host (HOTLINE_KPI_SMTP__HOST)"))
    try:
        recipients = [check_address(a) for a in to]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    now = app.clock.now()
    hotline = app.catalogues.hotline(app.settings.default_hotline) if app.catalogues.hotlines() else None
    content = render_test(lang=app.lang, label=hotline.label if hotline else "hotline", at=now,
                          zone=app.settings.zone)
    domain = smtp.from_address.rpartition("@")[2]
    msg = build_message(subject=content.subject, text=content.text, html=content.html, sender=smtp.from_address,
                        to=recipients, message_id=make_msgid("hotline-kpi.test", domain=domain), date=now)
    transport = SmtpTransport(smtp)
    results = transport.send(msg, smtp.from_address, recipients)
    for r in results:
        if r.error:
            why, detail = _network_reason(r.error)
            click.echo(_("{recipient}: {outcome} ({why}: {error})", recipient=r.recipient, outcome=t(r.outcome),
                         why=why, error=q(detail)))
        else:
            click.echo(_("{recipient}: {outcome}", recipient=r.recipient, outcome=t(r.outcome)))
    if any(r.outcome != "sent" for r in results):
        raise Failure(_("not delivered to every recipient via {transport}", transport=_server(smtp)))


@alerts.command("resend")
@click.argument("event_id", type=int)
@pass_app
def alerts_resend(app: App, event_id: int) -> None:
    """Queue a notification again (an event id from `alerts list`), with a new Message-ID."""
    from hotline_kpi.alerts.alerting import event_kind
    from hotline_kpi.alerts.outbox import NotANotification

    app.require_schema()
    alerting = _alerting(app)
    try:
        new_id = alerting.resend(event_id)
    except NotANotification as exc:
        if exc.kind is None:
            raise Failure(_("event {event} does not exist (event numbers: `hotline-kpi alerts list`)",
                            event=event_id)) from None
        raise Failure(_("event {event} ({kind}) sent no mail, so there is nothing to send again",
                        event=event_id, kind=event_kind(exc.kind))) from None
    click.echo(_("event {event} queued again as event {new}; it goes out with the next delivery pass "
                 "(`hotline-kpi alerts dispatch` or the service)", event=event_id, new=new_id))


@alerts.command("dispatch")
@pass_app
def alerts_dispatch(app: App) -> None:
    """Run one delivery pass now: every notification due is claimed, sent and recorded."""
    app.require_schema()
    alerting = _alerting(app)
    if alerting.transport is None:
        raise Failure(_("SMTP is not configured: set smtp.host (HOTLINE_KPI_SMTP__HOST)"))
    report = alerting.dispatch()
    click.echo(_("{processed} notification(s) processed: {sent} delivered, {transient} to retry, {permanent} "
                 "refused for good, {expired} given up", processed=report.processed, sent=report.sent,
                 transient=report.transient, permanent=report.permanent, expired=report.expired))


#: How the connection to the mail server is made (smtp.security), in words.
_SECURITY: dict[str, Msg] = {
    "none": M_("unencrypted"),
    "starttls": M_("STARTTLS encryption"),
    "tls": M_("SSL/TLS encryption"),
}


def _server(smtp) -> str:  # noqa: ANN001 - alert_settings.SmtpSettings
    """The mail server as the office reads it: 127.0.0.1:587（STARTTLS 加密，登录名 kpi）."""
    how = str(_SECURITY[smtp.security]) if smtp.security in _SECURITY else smtp.security
    if smtp.username:
        return _("{host}:{port} ({security}, login {user})", host=smtp.host, port=smtp.effective_port, security=how,
                 user=smtp.username)
    return _("{host}:{port} ({security})", host=smtp.host, port=smtp.effective_port, security=how)
