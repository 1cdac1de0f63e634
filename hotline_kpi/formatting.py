"""How values and targets are shown to people (CLI, status page, mails, reports)."""

from __future__ import annotations

from hotline_kpi.catalogue import Indicator
from hotline_kpi.i18n import Lang, t


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
