"""The store step of the raw sources, inside the pipeline's write transaction.

The parsers (:mod:`~hotline_kpi.ingest.tickets`, ``callbacks``, ``spending``,
``queue_log``) never touch the store; this module and the queue_log's own store step are
the only doors from ingest into :mod:`hotline_kpi.store`, called by the pipeline. Each
step takes the source's lock first, so two loads of one source merge one after the other,
records the load, merges its records with the stored ones (a record seen again updates,
never counts twice) and revises the counters of the days they touch.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from hotline_kpi.i18n import M_
from hotline_kpi.domain import DayRecord
from hotline_kpi.ingest.base import ParsedRecords
from hotline_kpi.ingest.callbacks import RESPONSES, ParsedCallbacks, satisfied_results
from hotline_kpi.ingest.queue_log import ParsedQueueLog
from hotline_kpi.ingest.queue_log.store import store_calls
from hotline_kpi.ingest.spending import ParsedSpending
from hotline_kpi.ingest.tickets import ParsedTickets
from hotline_kpi.store import provenance, records
from hotline_kpi.store.provenance import StoreRequest, StoreResult

#: (session, hotline id, {identity: stored columns}, load id) -> (days touched, new, updated)
Merge = Callable[[Session, str, Mapping[str, dict[str, object]], int], tuple[set, int, int]]
#: (session, request, days) -> the days' recounted counters
Recount = Callable[[Session, StoreRequest, Sequence], list[DayRecord]]


def _merge_and_recount(session: Session, parsed: ParsedRecords, request: StoreRequest,
                       fields: Mapping[str, dict[str, object]], merge: Merge, recount: Recount,
                       summary: Callable[[int, int, int], str]) -> StoreResult:
    """Lock the source, record the load, merge the records, recount the touched days."""
    records.lock_source_state(session, request.hotline_id, parsed.source, request.at)
    ingest = provenance.new_ingest(session, request.hotline_id, parsed.source, request)
    touched, new, updated = merge(session, request.hotline_id, fields, ingest.id)
    days = recount(session, request, sorted(touched))
    notes = [*parsed.notes, summary(new, updated, len(fields) - new - updated)]
    return provenance.store_days(session, ingest, parsed.source, days, request, notes)


def store_tickets(session: Session, parsed: ParsedTickets, request: StoreRequest) -> StoreResult:
    return _merge_and_recount(
        session, parsed, request, {n: tk.fields() for n, tk in parsed.tickets.items()}, records.merge_tickets,
        lambda s, r, days: records.ticket_day_records(s, r.hotline_id, days, r.tickets.operator_channels),
        lambda new, updated, kept: M_("{new:,} new ticket(s), {updated:,} updated, {kept:,} unchanged or older "
                                      "than stored", new=new, updated=updated, kept=kept))


def store_callbacks(session: Session, parsed: ParsedCallbacks, request: StoreRequest) -> StoreResult:
    return _merge_and_recount(
        session, parsed, request, {k: cb.fields() for k, cb in parsed.callbacks.items()}, records.merge_callbacks,
        lambda s, r, days: records.callback_day_records(s, r.hotline_id, days, satisfied_results(r.formulas),
                                                        RESPONSES),
        lambda new, updated, kept: M_("{new:,} new callback(s), {updated:,} updated, {kept:,} unchanged",
                                      new=new, updated=updated, kept=kept))


def store_spending(session: Session, parsed: ParsedSpending, request: StoreRequest) -> StoreResult:
    """The ledger's months replace what was stored for them (a ledger is re-exported whole)."""
    records.lock_source_state(session, request.hotline_id, parsed.source, request.at)
    ingest = provenance.new_ingest(session, request.hotline_id, parsed.source, request)
    days = sorted({k[0] for k in parsed.amounts})
    ingest.first_day, ingest.last_day, ingest.days = days[0], days[-1], len(days)
    removed, written = records.replace_spending(session, request.hotline_id, ingest.id, parsed.amounts)
    notes = [*parsed.notes, M_("{written} spending row(s) stored, {removed} earlier row(s) of those months replaced",
                                written=written, removed=removed)]
    ingest.notes = "\n".join(notes)
    return StoreResult("loaded", ingest.id, days_new=written, first_day=days[0], last_day=days[-1],
                       notes=tuple(notes))


_STEPS: dict[type, Callable[..., StoreResult]] = {
    ParsedTickets: store_tickets,
    ParsedCallbacks: store_callbacks,
    ParsedSpending: store_spending,
    ParsedQueueLog: store_calls,
}


def store_records(session: Session, parsed: ParsedRecords, request: StoreRequest) -> StoreResult:
    """Store the parsed records of any raw source (dispatched on their type)."""
    return _STEPS[type(parsed)](session, parsed, request)
