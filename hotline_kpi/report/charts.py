"""Monthly trend charts per indicator against its target (matplotlib, Agg, Noto CJK)."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from hotline_kpi.report.build import IndicatorRow, Report

#: fonts-noto-cjk (Debian); the first found is used so Chinese labels render.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


@lru_cache(maxsize=1)
def _font_family() -> str | None:
    from matplotlib import font_manager

    for path in CJK_FONTS:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    return None


def trend_chart(row: IndicatorRow, year: int) -> bytes:
    """A PNG: the indicator's value per month, the target as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    family = _font_family()
    ind = row.indicator
    scale = 100 if ind.unit == "ratio" else 1
    months = list(range(1, 13))
    values = [None if row.monthly.get(m) is None else row.monthly[m] * scale for m in months]  # type: ignore[operator]
    fig = Figure(figsize=(6.4, 2.6), dpi=110)
    ax = fig.add_subplot()
    font = {"family": family} if family else {}
    ax.plot(months, [v if v is not None else float("nan") for v in values], marker="o", color="#1f5fa8",
            label="实际")
    if ind.threshold is not None:
        target = ind.threshold * scale
        if ind.aggregation == "annual_total":
            target = ind.threshold / 12
        ax.axhline(target, color="#c0392b", linestyle="--", label="目标" + ("（月均）" if ind.aggregation == "annual_total" else ""))
    ax.set_xticks(months, [f"{m}月" for m in months], fontdict=font)
    unit = "%" if ind.unit == "ratio" else ("秒" if ind.unit == "seconds" else "件")
    ax.set_title(f"{year}年 {ind.display_name_zh}（{unit}）", fontdict=font)
    ax.grid(alpha=0.3)
    ax.legend(prop={"family": family} if family else None, loc="best", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def charts(report: Report) -> dict[str, bytes]:
    """indicator id -> PNG, for every scored quantitative indicator."""
    return {r.indicator.id: trend_chart(r, report.year) for r in report.rows
            if r.indicator.kind == "quantitative" and r.monthly}
