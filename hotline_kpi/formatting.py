"""How values and targets are shown to people (CLI, status page, mails, reports)."""

from __future__ import annotations

from hotline_kpi.catalogue import Indicator
from hotline_kpi.i18n import M_, Lang, Msg, current_language, localize, t


def _trim(number: float, decimals: int) -> str:
    text = f"{number:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_value(value: float | None, unit: str, lang: Lang = "zh") -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{100 * value:.2f}%"
    if unit == "seconds":
        return f"{value:.2f} {t('seconds', lang)}"
    return f"{value:,.0f}"


def fmt_threshold(value: float, unit: str, lang: Lang = "zh") -> str:
    """A target as written by people: 90%, 8 秒, 4,000,000."""
    if unit == "ratio":
        return f"{_trim(100 * value, 2)}%"
    if unit == "seconds":
        return f"{_trim(value, 2)} {t('seconds', lang)}"
    return _trim(value, 2)


#: Comparators as Chinese text writes them (not ASCII >=).
_ZH_COMPARATOR = {">=": "≥", "<=": "≤", ">": "＞", "<": "＜"}


def fmt_comparator(cmp: str, lang: Lang = "zh") -> str:
    """A comparator as the text around it writes it: ≥ in Chinese, >= in English."""
    return _ZH_COMPARATOR.get(cmp, cmp) if lang == "zh" else cmp


def fmt_target(ind: Indicator, lang: Lang = "zh") -> str:
    if not ind.targeted or ind.comparator is None or ind.threshold is None:
        return t("no_target", lang)
    cmp = ind.comparator.value if lang != "zh" else _ZH_COMPARATOR.get(ind.comparator.value, ind.comparator.value)
    text = f"{cmp} {fmt_threshold(ind.threshold, ind.unit, lang)}"
    if ind.aggregation == "annual_total":
        text += t("per_year", lang)
    return text


def fmt_required(value: float | None, required_unit: str | None, unit: str, lang: Lang = "zh") -> str | None:
    """The pace the rest of the year must hold: requests a day for an annual volume, the
    indicator's own unit otherwise; None when there is none to show."""
    if value is None:
        return None
    if required_unit == "requests_per_day":
        return f"{value:,.0f}{t('per_day', lang)}"
    return fmt_value(value, unit, lang)


# --- durations and brackets in the office's words -------------------------------------------------


class _Worded(Msg):
    """A text given in each language (a hotline's name), rendered where it is shown."""

    texts: dict[str, str]

    def __new__(cls, zh: str, en: str) -> "_Worded":  # type: ignore[misc]
        self = str.__new__(cls, en or zh)
        self.msgid, self.kwargs, self.texts = "", {}, {"zh": zh, "en": en or zh}
        return self

    def render(self, lang: Lang | None = None) -> str:
        return self.texts["en" if (lang or current_language()) == "en" else "zh"]

    def __reduce__(self) -> tuple[object, ...]:
        return (_Worded, (self.texts["zh"], self.texts["en"]))


def worded(zh: str, en: str) -> Msg:
    """A name written in both languages (the Chinese and English names of a hotline)."""
    return _Worded(zh, en)


def _amount(x: float) -> float:
    """Whole numbers from 10 on, one decimal below (1.5 小时, 26 小时)."""
    return float(round(x)) if x >= 10 else round(x, 1)


def duration(seconds: float) -> Msg:
    """A length of time as people say it: 45 秒, 5 分钟, 1.5 小时, 3 天 (45 seconds, 1 minute,
    26 hours, 3 days); seconds below 2 minutes, minutes below 2 hours, hours below 2 days."""
    s = max(0.0, seconds)
    if s < 120:
        n = float(round(s))
        return M_("{n:g} second", n=n) if n == 1 else M_("{n:g} seconds", n=n)
    if s < 7200:
        return M_("{n:g} minutes", n=float(round(s / 60)))
    if s < 2 * 86400:
        return M_("{n:g} hours", n=_amount(s / 3600))
    return M_("{n:g} days", n=_amount(s / 86400))


def paren(text: object, lang: Lang) -> str:
    """A remark in brackets after a text: full-width （…） in Chinese, `` (…)`` in English."""
    shown = localize(text, lang)
    return f"（{shown}）" if lang == "zh" else f" ({shown})"
