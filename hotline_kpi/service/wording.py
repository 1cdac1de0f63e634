"""The status page's sentences, in the office's words; pure.

Kept apart from :mod:`hotline_kpi.service.page` (which builds the page) so that what the
page says can change without touching how it is built: a trend's title, a data source's
line (its last file, the files waiting in quarantine), an overdue source.
"""

from __future__ import annotations

from hotline_kpi.formatting import duration
from hotline_kpi.i18n import M_, Lang, Msg, _, localize

#: The per-source line of files the registry recognised as no source (their hotline's
#: quarantine holds them, with the reason in ``NAME.error.txt`` beside each).
UNKNOWN_SOURCE = "unknown"

#: The Grafana dashboards the product provisions (dashboards/*.json): uid and title, the
#: title as the dashboard itself shows it (tests/service/test_page_wording.py checks both).
GRAFANA_DASHBOARDS: tuple[tuple[str, Msg], ...] = (
    ("hotline-kpi-overview", M_("12345 hotline KPI overview")),
    ("hotline-kpi-trends", M_("12345 hotline KPI trends")),
    ("hotline-kpi-operations", M_("12345 hotline KPI operations")),
)


def grafana_links(grafana_url: str, lang: Lang) -> list[tuple[str, str]]:
    """(title, address) of each provisioned dashboard under ``grafana_url`` (``/d/UID``);
    a ``grafana_url`` that already names one dashboard (``.../d/...``) is linked alone, as
    Grafana 看板; nothing without a ``grafana_url``."""
    if not grafana_url:
        return []
    base = grafana_url.rstrip("/")
    if "/d/" in base:
        return [(_("Grafana dashboards", lang=lang), grafana_url)]
    return [(localize(title, lang), f"{base}/d/{uid}") for uid, title in GRAFANA_DASHBOARDS]


def trend_label(indicator: str, days: int, target: str | None, value: str | None, day: str, lang: Lang) -> str:
    """The title of an indicator's trend: what it draws, against what, and its latest value.
    ``target`` None: the indicator has no target; ``value`` None: no day has a value."""
    if target is None and value is None:
        return _("{indicator}: daily values of the last {n} days (no target); no data on these days", lang=lang,
                 indicator=indicator, n=days)
    if target is None:
        return _("{indicator}: daily values of the last {n} days (no target); latest {value} ({day})", lang=lang,
                 indicator=indicator, n=days, value=value, day=day)
    if value is None:
        return _("{indicator}: daily values of the last {n} days against the target {target}; no data on these days",
                 lang=lang, indicator=indicator, n=days, target=target)
    return _("{indicator}: daily values of the last {n} days against the target {target}; latest {value} ({day})",
             lang=lang, indicator=indicator, n=days, target=target, value=value, day=day)


def source_title(source: str, shown: str, lang: Lang) -> str:
    """A source's name on its line; files the registry recognised as no source: 无法识别的文件."""
    return _("unrecognised files", lang=lang) if source == UNKNOWN_SOURCE else shown


def last_file_text(source: str, file: str | None, at: str, lang: Lang) -> str:
    """The first half of a source's line: its last file; empty for files of no known source
    (nothing of theirs is ever loaded)."""
    if source == UNKNOWN_SOURCE:
        return ""
    if file is None:
        return _("no file loaded yet", lang=lang)
    return _("last file {file}, loaded {at}", lang=lang, file=file, at=at)


def waiting_text(source: str, n: int, lang: Lang) -> str:
    """The second half: the files of this source waiting in quarantine, and where to read why."""
    if n == 0:
        return _("no file waiting in quarantine", lang=lang)
    if source == UNKNOWN_SOURCE:
        return (_("1 waiting in quarantine (the reason is in its .error.txt)", lang=lang) if n == 1 else
                _("{n} waiting in quarantine (the reason is in each one's .error.txt)", lang=lang, n=n))
    return (_("1 file waiting in quarantine (the reason is in its .error.txt)", lang=lang) if n == 1 else
            _("{n} files waiting in quarantine (the reason is in each one's .error.txt)", lang=lang, n=n))


def overdue_text(source: str, days: float, limit_days: float, lang: Lang) -> str:
    """A source whose last file is older than its no_data rule allows."""
    return _("{source}: no file loaded for {age} (its alert rule allows {limit})", lang=lang, source=source,
             age=duration(days * 86400), limit=duration(limit_days * 86400))

