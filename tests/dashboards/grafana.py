"""What Grafana does to a panel query before it reaches a data source, for the tests.

No Grafana runs here (observability.md): the tests read the provisioned dashboards,
interpolate template variables, expand the PostgreSQL data source's macros the way
Grafana's backend does (pkg/tsdb/grafana-postgresql-datasource/macros.go and sqleng's
interpolation) and send the result to a real Prometheus or PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import yaml
from tests.common import ROOT

DASHBOARDS = ROOT / "dashboards"
PROVISIONING = ROOT / "config" / "grafana" / "provisioning"

PROMETHEUS = "prometheus"
POSTGRES_TYPES = ("grafana-postgresql-datasource", "postgres")


def load_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, for every dashboards/*.json."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def load_datasources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((PROVISIONING / "datasources").glob("*.y*ml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.extend(doc.get("datasources") or [])
    return out


def load_dashboard_providers() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((PROVISIONING / "dashboards").glob("*.y*ml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.extend(doc.get("providers") or [])
    return out


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows included; rows themselves excluded."""
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            yield from p.get("panels", [])
        else:
            yield p


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    panel_type: str
    ref_id: str
    datasource: Mapping[str, Any]
    target: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"

    @property
    def text(self) -> str:
        return str(self.target.get("expr") if self.is_prometheus else self.target.get("rawSql"))

    @property
    def is_prometheus(self) -> bool:
        return self.datasource.get("type") == PROMETHEUS

    @property
    def is_sql(self) -> bool:
        return self.datasource.get("type") in POSTGRES_TYPES


def queries(name: str, dashboard: Mapping[str, Any]) -> list[Query]:
    """Every panel target with the data source it resolves to (target's, else panel's)."""
    out = []
    for p in panels(dashboard):
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource") or {}
            out.append(Query(name, p.get("title", ""), p.get("type", ""), t.get("refId", ""), ds, t))
    return out


# --- template variables ---------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]")


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Replace $var, ${var}, ${var:fmt} and [[var]] like Grafana does for a single value.

    Grafana's own ``$__`` macros of the SQL data sources (``$__timeFilter(...)``) are
    left for :func:`expand_sql_macros`; any other unknown variable is an error, so a
    query the test cannot resolve is never sent half-interpolated.
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        if name.startswith("__") and name not in values:
            return m.group(0)
        if name not in values:
            raise KeyError(f"template variable ${name} has no value in the test")
        return values[name]

    return _VARIABLE.sub(sub, text)


# --- the PostgreSQL data source's macros -------------------------------------------------

# Grafana's pattern (macros.go): `\$([_a-zA-Z0-9]+)\(([^\)]*)\)`.
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def _rfc3339nano(t: dt.datetime) -> str:
    """Go's time.RFC3339Nano of a UTC time: fractional seconds without trailing zeros."""
    t = t.astimezone(dt.timezone.utc)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def _interval_seconds(arg: str) -> float:
    m = _INTERVAL.match(arg.strip().strip("'"))
    if not m:
        raise ValueError(f"error parsing interval {arg}")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def expand_sql_macros(sql: str, start: dt.datetime, end: dt.datetime, interval_ms: int = 86_400_000) -> str:
    """Expand Grafana's PostgreSQL macros for the time range ``start``..``end``.

    First sqleng's plain interpolation ($__interval, $__interval_ms, $__unixEpochFrom(),
    $__unixEpochTo()), then the macro engine; an unknown macro raises as Grafana's does.
    """
    sql = sql.replace("$__interval_ms", str(interval_ms))
    sql = sql.replace("$__interval", f"{interval_ms // 1000}s" if interval_ms % 1000 == 0 else f"{interval_ms}ms")
    sql = sql.replace("$__unixEpochFrom()", str(int(start.timestamp())))
    sql = sql.replace("$__unixEpochTo()", str(int(end.timestamp())))

    def macro(m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{_rfc3339nano(start)}' AND '{_rfc3339nano(end)}'"
        if name == "__timeFrom":
            return f"'{_rfc3339nano(start)}'"
        if name == "__timeTo":
            return f"'{_rfc3339nano(end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) < 2:
                raise ValueError(f"macro {name} needs time column and interval")
            s = _num(_interval_seconds(args[1]))
            group = f"floor(extract(epoch from {args[0]})/{s})*{s}"
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
            s = _num(_interval_seconds(args[1]))
            group = f"floor(({args[0]})/{s})*{s}"
            return group + (' AS "time"' if name == "__unixEpochGroupAlias" else "")
        raise ValueError(f"unknown macro {name!r}")

    return _MACRO.sub(macro, sql)


# --- Grafana's built-in variables of PromQL queries --------------------------------------

def prometheus_builtins(range_seconds: int, interval_seconds: int = 1) -> dict[str, str]:
    return {
        "__interval": f"{interval_seconds}s",
        "__interval_ms": str(interval_seconds * 1000),
        "__rate_interval": f"{max(4 * interval_seconds, 15)}s",
        "__range": f"{range_seconds}s",
        "__range_s": str(range_seconds),
        "__range_ms": str(range_seconds * 1000),
    }


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")


def label_values_query(query: str) -> tuple[str | None, str] | None:
    """``label_values(metric, label)`` -> (metric or None, label); None for other queries."""
    m = _LABEL_VALUES.match(query)
    return (m.group(1), m.group(2)) if m else None


_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def query_result_query(query: str) -> str:
    """The PromQL inside ``query_result(...)``."""
    m = _QUERY_RESULT.match(query)
    if not m:
        raise ValueError(f"not a query_result() query: {query}")
    return m.group(1)


def query_result_values(result: list[dict[str, Any]], regex: str) -> list[str]:
    """What Grafana makes of ``query_result()``: one text per series, ``{labels} value
    timestamp_ms``, then the variable's ``/regex/`` (its first group) applied."""
    texts = []
    for s in result:
        labels = ", ".join(f'{k}="{v}"' for k, v in s["metric"].items())
        texts.append(f"{{{labels}}} {s['value'][1]} {int(float(s['value'][0]) * 1000)}")
    if not regex:
        return texts
    pattern = re.compile(regex[1:-1] if regex.startswith("/") else regex)
    out = []
    for t in texts:
        m = pattern.search(t)
        if m:
            out.append(m.group(1) if m.groups() else m.group(0))
    return out


#: A label value that is an identifier, not words: satisfaction_rate, 7d, critical, daily-report.
ID = re.compile(r"^(?=.*[a-z])[a-z0-9]+(?:[_-][a-z0-9]+)*$")


def shown_name(legend: str, labels: dict[str, str], panel: dict[str, Any]) -> str:
    """The series name Grafana shows: the legend with the labels filled in, then the
    panel's renameByRegex transformations (anchored as Grafana anchors them)."""
    name = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), legend)
    for t in panel.get("transformations", []):
        if t.get("id") == "renameByRegex":
            rx = re.compile("^" + t["options"]["regex"] + "$")
            pattern = re.sub(r"\$(\d)", r"\\g<\1>", t["options"]["renamePattern"])
            if rx.match(name):
                name = rx.sub(pattern, name)
    return name
