"""Messages in Chinese (the default) and English, through gettext message catalogues.

The catalogues are standard gettext ``.po`` files under ``hotline_kpi/locale`` (one per
language, ``zh_CN`` and ``en``), extracted from the code with Babel and compiled to ``.mo``
when the wheel is built (``setup.py``); a source checkout without ``.mo`` files compiles the
``.po`` in memory on first use. Why gettext: it is the format translators' tools read, Click's
own messages (usage errors, ``--help``) already go through it, and Babel's extraction lets a
test find a message that was used but never put in the catalogue.

Three ways to say something:

* ``_("text {name}", name=...)`` -- translate now, into the current language;
* ``M_("text {name}", name=...)`` -- a :class:`Msg`: a ``str`` whose value is the English
  text (so code and logs that treat it as text keep working), rendered in any language by
  :func:`localize` or :meth:`Msg.render`. Problems carry these, because the language is known
  only where they are shown;
* ``t(key, lang)`` -- the older labels by key; each key is a message with the key as its
  context (``msgctxt``). Keys still in ``_TEXT`` (added on other branches) keep working;
  moving one means writing it into ``_LABELS`` with ``pL_`` and running ``tools/i18n.py update`` (docs/i18n.md).

The current language is process-wide (:func:`set_language`): the CLI sets it from
``--lang``/``HOTLINE_KPI_LANGUAGE``/settings before Click parses anything.
"""

from __future__ import annotations

import gettext as _gettext
import io
import sys
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Literal

Lang = Literal["zh", "en"]
LANGUAGES: tuple[Lang, ...] = ("zh", "en")
DOMAIN = "hotline_kpi"
#: Click's own messages, translated in a catalogue of their own.
CLICK_DOMAIN = "click"
LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES: dict[str, str] = {"zh": "zh_CN", "en": "en"}

_language: Lang = "zh"


def set_language(lang: str | None) -> Lang:
    """Make ``lang`` ("zh" or "en"; None keeps the current one) the process's language."""
    global _language
    if lang is not None:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGUAGES)}")
        _language = lang  # type: ignore[assignment]
    return _language


def current_language() -> Lang:
    return _language


def _mo_or_po(locale: str, domain: str) -> _gettext.NullTranslations:
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    mo, po = folder / f"{domain}.mo", folder / f"{domain}.po"
    if po.exists() and (not mo.exists() or po.stat().st_mtime > mo.stat().st_mtime):
        # A source checkout: compile the catalogue in memory (the wheel ships the .mo).
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po.open("rb") as f:
            catalog = read_po(f, locale=locale, domain=domain)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        return _gettext.GNUTranslations(buf)
    if mo.exists():
        with mo.open("rb") as f:
            return _gettext.GNUTranslations(f)
    return _gettext.NullTranslations()


@cache
def translations(lang: Lang, domain: str = DOMAIN) -> _gettext.NullTranslations:
    """The catalogue of ``lang`` (cached for the life of the process)."""
    return _mo_or_po(LOCALES[lang], domain)


def _format(text: str, kwargs: dict[str, Any], lang: Lang) -> str:
    if not kwargs:
        return text
    return text.format(**{k: localize(v, lang) if isinstance(v, Msg) else v for k, v in kwargs.items()})


def gettext(msgid: str, lang: Lang | None = None) -> str:
    return translations(lang or _language).gettext(msgid)


def _(msgid: str, /, lang: Lang | None = None, **kwargs: Any) -> str:
    """``msgid`` in ``lang`` (default: the current language), formatted with ``kwargs``."""
    lang = lang or _language
    return _format(gettext(msgid, lang), kwargs, lang)


class Msg(str):
    """A message whose language is chosen where it is shown.

    Its ``str`` value is the English text (the msgid, formatted): comparisons, ``in`` and
    hashing use it. ``str()``, ``print`` and f-strings render it in the current language;
    :meth:`render` in any language, arguments that are themselves messages rendered in the
    same language.
    """

    msgid: str
    kwargs: dict[str, Any]
    #: The message context (msgctxt), or None.
    context: str | None = None

    def __new__(cls, msgid: str, /, **kwargs: Any) -> "Msg":
        self = super().__new__(cls, _format(msgid, kwargs, "en"))
        self.msgid = msgid
        self.kwargs = kwargs
        return self

    def render(self, lang: Lang | None = None) -> str:
        lang = lang or _language
        if self.context is not None:
            return _format(translations(lang).pgettext(self.context, self.msgid), self.kwargs, lang)
        return _format(gettext(self.msgid, lang), self.kwargs, lang)

    def __str__(self) -> str:
        """In the current language: ``str()``, ``print`` and f-strings show the message as the office reads it."""
        return self.render()

    def __format__(self, spec: str) -> str:
        return format(self.render(), spec)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.msgid, self.kwargs, self.context))


def _rebuild(msgid: str, kwargs: dict[str, Any], context: str | None = None) -> Msg:
    msg = Msg(msgid, **kwargs)
    msg.context = context
    return msg


def C_(context: str, msgid: str) -> Msg:  # noqa: N802 - extraction keyword
    """A message with a context: the same English word that reads differently in Chinese."""
    return _rebuild(msgid, {}, context)


def M_(msgid: str, /, **kwargs: Any) -> Msg:  # noqa: N802 - the gettext convention
    """A message rendered later, in the language of wherever it is shown."""
    return Msg(msgid, **kwargs)


def localize(value: object, lang: Lang | None = None) -> str:
    """Any text in ``lang``: a :class:`Msg` is rendered, anything else is ``str()``."""
    if isinstance(value, Msg):
        return value.render(lang)
    return str(value)


def q(text: object) -> Msg:
    """A name or value as written, quoted: 'x' in English, “x” in Chinese."""
    return M_("'{text}'", text=text)


class _Joined(Msg):
    """Texts joined by a separator, each rendered in the language shown."""

    items: list[object]
    sep: object

    def __new__(cls, items: list[object], sep: object) -> "_Joined":  # type: ignore[misc]
        self = str.__new__(cls, localize(sep, "en").join(localize(i, "en") for i in items))
        self.msgid, self.kwargs, self.items, self.sep = "", {}, items, sep
        return self

    def render(self, lang: Lang | None = None) -> str:
        return localize(self.sep, lang).join(localize(i, lang) for i in self.items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Joined, (self.items, self.sep))


def join(items: Iterable[object], sep: object = None) -> Msg:
    """Texts (messages among them) joined by ``sep`` (default: a list separator, 、 in Chinese)."""
    return _Joined(list(items), M_(", ") if sep is None else sep)


#: The sources' display names: how the status page, the mails, `alerts list` and the CLI
#: name a source in the office's language (the id, daily-report, is for --source and config).
SOURCE_NAMES: dict[str, Msg] = {
    "daily-report": C_("source", "daily report"),
    "queue-log": C_("source", "queue log"),
    "tickets": C_("source", "ticket export"),
    "callbacks": C_("source", "callback export"),
    "spending": C_("source", "spending ledger"),
}


def source_label(source: str) -> Msg | str:
    """The display name of a source (rendered where shown); an unknown id as it is."""
    return SOURCE_NAMES.get(source, source)


def pL_(context: str, msgid: str) -> str:  # noqa: N802 - extraction keyword
    """Marks a label (a key and its English text) for extraction; returns the English text."""
    return msgid


#: The labels by key (the key is the message context). Data and config texts are never translated.
_LABELS: dict[str, str] = {
    # windows
    "day": pL_("day", "Day"),
    "trailing_7d": pL_("trailing_7d", "7 days"),
    "trailing_30d": pL_("trailing_30d", "30 days"),
    "month_to_date": pL_("month_to_date", "Month to date"),
    "quarter_to_date": pL_("quarter_to_date", "Quarter to date"),
    "year_to_date": pL_("year_to_date", "Year to date"),
    # statuses
    "met": pL_("met", "met"),
    "breached": pL_("breached", "breached"),
    "no_data": pL_("no_data", "no data"),
    "tracked": pL_("tracked", "tracked"),
    # table
    "indicator": pL_("indicator", "Indicator"),
    "target": pL_("target", "Target"),
    "status": pL_("status", "Status"),
    "completeness": pL_("completeness", "Completeness"),
    "scoreboard_title": pL_("scoreboard_title", "{hotline} KPIs as of {as_of}"),
    "data_date": pL_("data_date", "Data date"),
    "pace": pL_("pace", "pace"),
    "shortfall": pL_("shortfall", "shortfall"),
    "days_with_data": pL_("days_with_data", "days with data"),
    "missing": pL_("missing", "missing"),
    "per_year": pL_("per_year", "/year"),
    "seconds": pL_("seconds", "s"),
    "no_target": pL_("no_target", "no target"),
    # year-end projection (docs/forecast.md)
    "projection_title": pL_("projection_title", "{year} year-end projection"),
    "projected": pL_("projected", "Projected"),
    "interval": pL_("interval", "80% interval"),
    "pace_status": pL_("pace_status", "Outlook"),
    "required": pL_("required", "Required pace"),
    "miss_probability": pL_("miss_probability", "Chance of missing"),
    "budget": pL_("budget", "Budget left"),
    "burn_7d": pL_("burn_7d", "Burn 7d"),
    "burn_30d": pL_("burn_30d", "Burn 30d"),
    "per_day": pL_("per_day", "/day"),
    "on_track": pL_("on_track", "on track"),
    "at_risk": pL_("at_risk", "at risk"),
    "cannot_be_met": pL_("cannot_be_met", "cannot be met"),
    "secured": pL_("secured", "secured"),
    "insufficient_data": pL_("insufficient_data", "too little data"),
    "unit_requests_needed": pL_("unit_requests_needed", "requests needed"),
    "unit_unanswered_calls": pL_("unit_unanswered_calls", "unanswered calls"),
    "unit_unresolved_requests": pL_("unit_unresolved_requests", "unresolved requests"),
    "unit_operator_fault_returns": pL_("unit_operator_fault_returns", "operator-fault returns"),
    "unit_wait_seconds": pL_("unit_wait_seconds", "wait seconds"),
    "unit_dissatisfied_responses": pL_("unit_dissatisfied_responses", "dissatisfied responses"),
    # alerts: states, severities, delivery outcomes
    "firing": pL_("firing", "firing"),
    "pending": pL_("pending", "pending"),
    "inactive": pL_("inactive", "inactive"),
    "critical": pL_("critical", "critical"),
    "warning": pL_("warning", "warning"),
    "info": pL_("info", "info"),
    "sent": pL_("sent", "sent"),
    "partial": pL_("partial", "partial"),
    "transient": pL_("transient", "transient"),
    "permanent": pL_("permanent", "permanent"),
    "expired": pL_("expired", "expired"),
    # year-end report (docs/report.md)
    "report_not_final": pL_("report_not_final",
                            "The report is still a draft and cannot be made final. Still missing (ratings, "
                            "evidence, ranking source, the reasons of every row that lost points, texts left to the "
                            "office):\n{items}\nFill them in the input file and run again."),
    "report_draft_missing": pL_("report_draft_missing",
                                "Draft: {n} item(s) still missing; see the list in the report."),
    # alerts: a group robot's message cut to the robot's limit
    "webhook_clipped": pL_("webhook_clipped", "… (the full text is in the mail and on the status page)"),
    # alerts: first words of a robot message sent again by `alerts resend`
    "webhook_resend": pL_("webhook_resend", "[Resent]"),
    # alerts: first words of a robot message whose first send's outcome is unknown (the
    # sender died mid-post): the group may already have it
    "webhook_possible_duplicate": pL_("webhook_possible_duplicate", "(possible duplicate)"),
}

#: Labels whose text in one language is deliberately empty (gettext cannot say "empty").
_EMPTY: dict[str, tuple[str, str]] = {
    "unit_errors": ("", "errors"),
}

#: Labels added on other branches as (zh, en) pairs: they still work; move them into
#: ``_LABELS`` (``pL_``) and the catalogues with ``python tools/i18n.py update`` (docs/i18n.md).
_TEXT: dict[str, tuple[str, str]] = {}


def t(key: str, lang: Lang | None = None, **kwargs: object) -> str:
    """The label ``key`` in ``lang`` (default: the current language), formatted with ``kwargs``."""
    lang = lang or _language
    if key in _TEXT or key in _EMPTY:
        zh, en = _TEXT.get(key) or _EMPTY[key]
        text = zh if lang == "zh" else en
    elif key in _LABELS:
        text = translations(lang).pgettext(key, _LABELS[key])
    else:
        text = key
    return text.format(**kwargs) if kwargs else text


# --- Click's own messages ------------------------------------------------------------------


def _click_gettext(message: str) -> str:
    return translations(_language, CLICK_DOMAIN).gettext(message)


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language, CLICK_DOMAIN).ngettext(singular, plural, n)


def translate_click() -> None:
    """Send Click's messages (usage errors, ``--help``) through the current language.

    Click calls ``gettext.gettext`` bound at import in each of its modules, in the process's
    global gettext domain; rebinding those names to our catalogue keeps the process's global
    domain (and any other library's) untouched.
    """
    import click  # noqa: F401 - loads its modules

    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if getattr(module, "_", None) is _gettext.gettext:
                module._ = _click_gettext  # type: ignore[attr-defined]
            if getattr(module, "ngettext", None) is _gettext.ngettext:
                module.ngettext = _click_ngettext  # type: ignore[attr-defined]


#: The message context of command-line help texts (collected by tools/i18n.py from the commands).
CLI_CONTEXT = "cli"


def localize_commands(command: Any, lang: Lang | None = None) -> None:
    """Put the help texts of a Click command tree into ``lang`` (default: the current language).

    The English texts stay in the code (docstrings, ``help=``); the first call keeps them
    aside, and every call sets the translation (context ``cli``) in their place.
    """
    catalogue = translations(lang or _language)

    def tr(obj: Any, attr: str) -> None:
        keep = f"_i18n_{attr}"
        if not hasattr(obj, keep):
            setattr(obj, keep, getattr(obj, attr, None))
        english = getattr(obj, keep)
        if isinstance(english, str) and english:
            setattr(obj, attr, catalogue.pgettext(CLI_CONTEXT, english))

    tr(command, "help")
    tr(command, "short_help")
    for param in getattr(command, "params", ()):
        tr(param, "help")
    helper = getattr(command, "_help_option", None)  # Click makes --help once per command and keeps it
    if helper is not None:
        helper.help = translations(lang or _language, CLICK_DOMAIN).gettext("Show this message and exit.")
    for sub in getattr(command, "commands", {}).values():
        localize_commands(sub, lang)
