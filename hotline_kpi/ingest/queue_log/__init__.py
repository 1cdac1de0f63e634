"""The call platform's Asterisk queue_log (source ``queue-log``), file form and database form.

One event per line (``epoch|callid|queuename|agent|EVENT|data1|...``), or the realtime
table exported as CSV (columns time, callid, queuename, agent, event, data1..data5).
Every line of a call joins one *call state*, keyed by callid:

- ``enter``: its earliest ENTERQUEUE (the call counts on the local date of it);
- ``outcome``: the deciding event: a CONNECT beats any queue exit (a call that reached an
  agent is answered, even after leaving another queue first); among CONNECTs the earliest
  decides, among exits the latest (the call's final fate);
- ``first_seen``: its earliest event of any kind (where a call without ENTERQUEUE sits).

Joining is order-free and idempotent: the state of a call is the same whatever the order
of its lines, their duplicates, or how they were split across files. That is what makes
the log safe to read in pieces: the parse keeps in memory only the calls of the last few
hours of log time and spools the rest; at store time (:func:`.store.store_calls`) the spooled
states join the states kept from earlier pieces, day by day, so a call that entered in
one file and ended in the next is joined, and a line read twice changes nothing.

Counting happens at store time, over the joined states of each touched day, with the
formula settings (short abandons, offered exits, the 15-second threshold) and the log's
watermark (its latest event time): a call that entered but never exited counts as
*unresolved* only once the log has gone on ``unresolved_after_hours`` past it; until then
it is *open* and not counted yet.

The modules, each importing only those listed before it:

- :mod:`.calls`: call states, joining, counting a day, local dates;
- :mod:`.blob`: the stored form of a day's call states (packed columns, compressed);
- :mod:`.spool`: the spool of states between parse and store, :class:`ParsedQueueLog`;
- :mod:`.scan`: the line scan (the per-line state machine);
- :mod:`.reader`: batches of lines of the file form, where its last line ends;
- :mod:`.dbform`: the database form (CSV export of the realtime table);
- :mod:`.columnar`: the vectorised scan of the file form (polars), the line scan for the
  blocks and calls it cannot treat exactly;
- :mod:`.parallel`: a big file read in parts at once (threads, or processes for the line scan);
- :mod:`.ingestor`: :class:`QueueLogIngestor`, the source's ingestor;
- :mod:`.store`: the store step, the only one that touches :mod:`hotline_kpi.store`, called
  by :mod:`hotline_kpi.ingest.storing` (not imported by the package itself).
"""

from hotline_kpi.ingest.queue_log.blob import decode_calls, encode_calls
from hotline_kpi.ingest.queue_log.calls import count_calls, join
from hotline_kpi.ingest.queue_log.ingestor import SOURCE, QueueLogIngestor
from hotline_kpi.ingest.queue_log.spool import ParsedQueueLog, Spool

__all__ = ["SOURCE", "ParsedQueueLog", "QueueLogIngestor", "Spool", "count_calls", "decode_calls", "encode_calls",
           "join"]
