"""How each indicator is computed from the daily counters, and the choices behind it.

Practice disagrees on several definitions (see docs/kpi-definitions.md); each choice is
a field of :class:`FormulaSettings` with a documented default, and a formula is built
from those settings as a plain value. Nothing here reads the settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QUEUE_EXITS = ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY")


class FormulaSettings(BaseModel):
    """Formula choices where practice disagrees (docs/kpi-definitions.md).

    Some are applied when raw sources are read (which exits are offered calls, the
    short-abandon threshold, whether 基本满意 counts as satisfied): changing them needs
    the raw files ingested again. The others are applied at evaluation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    short_abandon_seconds: int = Field(
        5, ge=0, le=60,
        description="A caller hanging up in the queue within this many seconds (a wait of at most "
        "this many seconds, the same rule as answer_within_seconds) is a short abandon "
        "(5 s is the common choice; Cisco ICM uses 10 s; 0: only hang-ups at once).",
    )
    exclude_short_abandons: bool = Field(
        True,
        description="Short abandons are taken out of the offered calls in the connection, "
        "abandon and 15-second rates.",
    )
    offered_exits: tuple[Literal["ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"], ...] = Field(
        QUEUE_EXITS,
        description="Queue exits that count as offered calls (4PS: agent requests include queue "
        "hang-ups, queue time-outs and calls that could not be served).",
    )
    basic_satisfied_is_satisfied: bool = Field(
        True,
        description="Whether a 基本满意 (basically satisfied) callback answer counts as satisfied.",
    )
    within_15s_denominator: Literal["offered", "answered"] = Field(
        "offered",
        description="Denominator of the 15-second answer rate: offered calls (4PS, GB/T 33358 "
        "reading) or answered calls (Hangzhou's reports).",
    )
    answer_within_seconds: int = Field(
        15, ge=1, le=600,
        description="The answer-time threshold of the service-level counter (GB/T 33358-2016: 15 s): "
        "answered after a wait of at most this many seconds.",
    )


@dataclass(frozen=True)
class Term:
    """``coef * counter`` in a sum. A term that is not ``required`` counts as 0 when unknown."""

    counter: str
    coef: float = 1.0
    required: bool = True


@dataclass(frozen=True)
class Formula:
    """``sum(numerator) / sum(denominator)`` over the days that have every required counter.

    A ``total`` formula has no denominator: its value is the plain sum. Sums are taken
    over the same days for numerator and denominator, so a day missing one counter of
    the pair drops out of both rather than skewing the ratio.
    """

    id: str
    kind: Literal["total", "ratio"]
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...] = ()
    #: Formula settings this formula depends on (printed with results and in reports).
    uses: tuple[str, ...] = ()

    @property
    def required_counters(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for term in self.numerator + self.denominator:
            if term.required:
                seen[term.counter] = None
        return tuple(seen)

    @property
    def counters(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for term in self.numerator + self.denominator:
            seen[term.counter] = None
        return tuple(seen)


def _offered(s: FormulaSettings) -> tuple[Term, ...]:
    terms: tuple[Term, ...] = (Term("calls_offered"),)
    if s.exclude_short_abandons:
        # A day whose source does not count short abandons (a typed daily report)
        # contributes its offered calls as reported.
        terms += (Term("calls_abandoned_short", -1.0, required=False),)
    return terms


def build_formula(formula_id: str, s: FormulaSettings) -> Formula:
    """The formula ``formula_id`` under the choices ``s``; raises KeyError if unknown."""
    offered_uses = ("exclude_short_abandons", "short_abandon_seconds", "offered_exits")
    if formula_id == "requests_accepted":
        return Formula(formula_id, "total", (Term("requests_accepted"),))
    if formula_id == "connection_rate":
        return Formula(formula_id, "ratio", (Term("calls_answered"),), _offered(s), offered_uses)
    if formula_id == "abandon_rate":
        num = _offered(s) + (Term("calls_answered", -1.0),)
        return Formula(formula_id, "ratio", num, _offered(s), offered_uses)
    if formula_id == "answered_within_15s_rate":
        den = _offered(s) if s.within_15s_denominator == "offered" else (Term("calls_answered"),)
        uses = ("within_15s_denominator", "answer_within_seconds")
        if s.within_15s_denominator == "offered":
            uses += offered_uses
        return Formula(formula_id, "ratio", (Term("calls_answered_within_15s"),), den, uses)
    if formula_id == "average_answer_seconds":
        return Formula(formula_id, "ratio", (Term("answer_wait_seconds_sum"),), (Term("calls_answered"),))
    if formula_id == "first_contact_resolution_rate":
        return Formula(formula_id, "ratio", (Term("first_contact_resolved"),), (Term("first_contact_eligible"),))
    if formula_id == "operator_fault_return_rate":
        return Formula(
            formula_id, "ratio", (Term("tickets_returned_operator_fault"),), (Term("tickets_dispatched"),)
        )
    if formula_id == "satisfaction_rate":
        return Formula(
            formula_id, "ratio", (Term("survey_satisfied"),), (Term("survey_responses"),),
            ("basic_satisfied_is_satisfied",),
        )
    raise KeyError(formula_id)


FORMULA_IDS: tuple[str, ...] = (
    "requests_accepted",
    "connection_rate",
    "abandon_rate",
    "answered_within_15s_rate",
    "average_answer_seconds",
    "first_contact_resolution_rate",
    "operator_fault_return_rate",
    "satisfaction_rate",
)
