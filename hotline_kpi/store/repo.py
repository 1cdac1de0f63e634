"""Transitional: the names of the former repository module, now in provenance, records,
sums and runs. Removed once every caller imports those."""

from hotline_kpi.store.provenance import *  # noqa: F401,F403
from hotline_kpi.store.records import *  # noqa: F401,F403
from hotline_kpi.store.runs import *  # noqa: F401,F403
from hotline_kpi.store.sums import *  # noqa: F401,F403
