"""A small inline SVG of an indicator's daily values against its target; pure.

Drawn on the server (no script): a line of the daily values (a gap where a day has no
data), a dashed line at the target, a dot on the last day. The picture carries its
meaning in words too (``<title>`` and ``aria-label``), so a screen reader, a mail client
without images or a clerk hovering over it reads the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 180.0, 40.0, 3.0


@dataclass(frozen=True)
class TrendPoint:
    day: dt.date
    value: float | None


def _scale(lo: float, hi: float) -> tuple[float, float]:
    if hi - lo < 1e-12:
        span = abs(hi) * 0.05 or 1.0
        return lo - span, hi + span
    margin = (hi - lo) * 0.08
    return lo - margin, hi + margin


def svg(points: Sequence[TrendPoint], target: float | None, label: str, met_above: bool | None = None) -> Markup:
    """The trend as an ``<svg>`` element; ``label`` is its title and aria-label.
    ``met_above``: True when a value above the target meets it, False below, None: no target."""
    values = [p.value for p in points if p.value is not None]
    head = (f'<svg class="trend" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" preserveAspectRatio="none" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>')
    if not values or len(points) < 2:
        return Markup(head + "</svg>")
    lo, hi = _scale(min(values + ([target] if target is not None else [])),
                    max(values + ([target] if target is not None else [])))
    step = (WIDTH - 2 * PAD) / (len(points) - 1)

    def y(v: float) -> float:
        return round(HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2 * PAD), 2)

    parts, run = [], []
    for i, p in enumerate(points):
        if p.value is None:
            if run:
                parts.append(run)
            run = []
            continue
        run.append(f"{round(PAD + i * step, 2):g},{y(p.value):g}")
    if run:
        parts.append(run)
    body = []
    if target is not None:
        ty = y(target)
        body.append(f'<line class="target" x1="0" y1="{ty:g}" x2="{WIDTH:g}" y2="{ty:g}" stroke="#8c959f" '
                    'stroke-width="1" stroke-dasharray="3 2" vector-effect="non-scaling-stroke"/>')
    for run in parts:
        if len(run) == 1:
            x, yy = run[0].split(",")
            body.append(f'<circle cx="{x}" cy="{yy}" r="1.2" fill="#0969da"/>')
        else:
            body.append(f'<polyline class="values" points="{" ".join(run)}" fill="none" stroke="#0969da" '
                        'stroke-width="1.5" vector-effect="non-scaling-stroke"/>')
    last = next((i, p) for i, p in reversed(list(enumerate(points))) if p.value is not None)
    colour = "#0969da"
    if target is not None and met_above is not None and last[1].value is not None:
        meets = last[1].value >= target if met_above else last[1].value <= target
        colour = "#1a7f37" if meets else "#cf222e"
    body.append(f'<circle class="last" cx="{round(PAD + last[0] * step, 2):g}" cy="{y(last[1].value):g}" r="2.2" '
                f'fill="{colour}"/>')
    return Markup(head + "".join(body) + "</svg>")
