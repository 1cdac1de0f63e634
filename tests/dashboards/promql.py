"""A small PromQL evaluator over the exporter's own samples, for the panel tests.

The dashboards' queries are checked for *meaning*: the value a panel shows for a label
set must be what the exporter exported for that label set, combined the way the query
says. Prometheus answers the query; this module computes the expected answer
independently, in Python, from the raw samples the exporter exported (as Prometheus
scraped them). It covers the subset of PromQL the dashboards and the recording rules
use: selectors with ``=``, ``!=``, ``=~``, ``!~``; ``sum``/``max``/``min``/``avg``/``count``
with ``by (...)`` (before or after the argument); ``+ - * /`` and comparisons (filter
semantics) between vectors (one-to-one on all labels) and scalars; ``time()``; number
literals; ``increase(sel[d])`` of a counter that did not move during the test (0); and
recording-rule names, expanded from the project's rule files. Anything else raises
:class:`Unsupported`, so a new panel cannot slip past the test unchecked.

It also checks a query's labels: an aggregation that groups ``by`` a label none of its
input series carries raises :class:`LabelError` (``max by (exported_job)`` over series
labelled ``job_id`` collapses every job into one unlabelled series).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]


class Unsupported(Exception):
    pass


class LabelError(AssertionError):
    pass


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w])
  | (?P<dur>\[\d+[smhdwy]\])
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/(){},=<>])
  | (?P<name>[A-Za-z_:][\w:]*)
)""", re.VERBOSE)

_AGGS = {"sum", "max", "min", "avg", "count"}
_CMP = {">", "<", ">=", "<=", "==", "!="}


def tokenize(expr: str) -> list[str]:
    out, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"cannot read {expr[pos:pos + 20]!r} in {expr!r}")
        out.append(m.group(0).strip())
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return out


@dataclass
class Context:
    """What the evaluator reads: ``raw(name)`` -> the exported samples of a metric as
    Prometheus holds them (with job and instance), ``now`` for ``time()``, the recording
    rules (name -> expr) and the counters that moved during the test."""

    raw: Callable[[str], Vector]
    now: float
    rules: Mapping[str, str] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)  # names read, for the caller


def _cmp(op: str, a: float, b: float) -> bool:
    return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b}[op]


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return math.copysign(math.inf, a) if a else math.nan
    return a / b


def _drop_name(v: Vector) -> Vector:
    return {frozenset((k, x) for k, x in ls if k != "__name__"): val for ls, val in v.items()}


class _Parser:
    def __init__(self, tokens: list[str], ctx: Context) -> None:
        self.t, self.i, self.ctx = tokens, 0, ctx

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise Unsupported(f"expected {want!r}, got {tok!r} in {' '.join(self.t)}")
        self.i += 1
        return tok

    # expr := add (cmp add)* ; add := mul (+|- mul)* ; mul := unary (*|/ unary)*
    def expr(self) -> float | Vector:
        left = self.add()
        while self.peek() in _CMP:
            op = self.take()
            right = self.add()
            left = self.binary(op, left, right)
        if self.peek() in ("and", "or", "unless", "on", "ignoring", "bool"):
            raise Unsupported(f"{self.peek()} in {' '.join(self.t)}")
        return left

    def add(self) -> float | Vector:
        left = self.mul()
        while self.peek() in ("+", "-"):
            op = self.take()
            left = self.binary(op, left, self.mul())
        return left

    def mul(self) -> float | Vector:
        left = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            left = self.binary(op, left, self.unary())
        return left

    def binary(self, op: str, a: float | Vector, b: float | Vector) -> float | Vector:
        if isinstance(a, float) and isinstance(b, float):
            return float(_cmp(op, a, b)) if op in _CMP else _arith(op, a, b)
        if isinstance(a, dict) and isinstance(b, dict):
            a, b = _drop_name(a), _drop_name(b)
            if op in _CMP:
                return {ls: v for ls, v in a.items() if ls in b and _cmp(op, v, b[ls])}
            return {ls: _arith(op, v, b[ls]) for ls, v in a.items() if ls in b}
        if isinstance(a, dict):
            assert isinstance(b, float)
            if op in _CMP:
                return {ls: v for ls, v in a.items() if _cmp(op, v, b)}
            return {ls: _arith(op, v, b) for ls, v in _drop_name(a).items()}
        assert isinstance(b, dict)
        if op in _CMP:
            return {ls: v for ls, v in b.items() if _cmp(op, a, v)}
        return {ls: _arith(op, a, v) for ls, v in _drop_name(b).items()}

    def unary(self) -> float | Vector:
        tok = self.peek()
        if tok == "-":
            self.take()
            return self.binary("*", -1.0, self.unary())
        if tok == "(":
            self.take()
            v = self.expr()
            self.take(")")
            return v
        if tok is None:
            raise Unsupported("unexpected end")
        if re.fullmatch(r"\d.*", tok):
            self.take()
            return float(tok)
        if tok == "time":
            self.take()
            self.take("(")
            self.take(")")
            return float(self.ctx.now)
        if tok in _AGGS:
            return self.aggregation()
        if tok == "clamp_min":
            self.take()
            self.take("(")
            v = self.expr()
            self.take(",")
            low = self.expr()
            self.take(")")
            if not isinstance(v, dict) or not isinstance(low, float):
                raise Unsupported("clamp_min of a scalar, or by a vector")
            return {ls: max(x, low) for ls, x in _drop_name(v).items()}
        if tok == "increase":
            self.take()
            self.take("(")
            name = self.peek() or ""
            v = self.selector()
            tok2 = self.take()
            if not re.fullmatch(r"\[\d+[smhdwy]\]", tok2):
                raise Unsupported(f"increase without a range: {tok2}")
            self.take(")")
            if name in self.ctx.moved:
                raise Unsupported(f"the counter {name} moved during the test: increase() is not predictable")
            return {ls: 0.0 for ls in _drop_name(v)}
        if re.fullmatch(r"[A-Za-z_:][\w:]*", tok):
            return self.selector()
        raise Unsupported(f"{tok!r} in {' '.join(self.t)}")

    def labels_list(self) -> list[str]:
        self.take("(")
        out = []
        while self.peek() != ")":
            out.append(self.take())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return out

    def aggregation(self) -> Vector:
        op = self.take()
        by: list[str] | None = None
        if self.peek() in ("by", "without"):
            if self.take() == "without":
                raise Unsupported("without()")
            by = self.labels_list()
        self.take("(")
        arg = self.expr()
        self.take(")")
        if self.peek() in ("by", "without"):
            if self.take() == "without":
                raise Unsupported("without()")
            by = self.labels_list()
        if not isinstance(arg, dict):
            raise Unsupported(f"{op} of a scalar")
        keys = by or []
        present = {k for ls in arg for k, _ in ls}
        missing = [k for k in keys if k not in present]
        if arg and missing:
            raise LabelError(f"{op} by ({', '.join(keys)}): no input series carries {missing} "
                             f"(they carry {sorted(present - {'__name__'})})")
        groups: dict[Labels, list[float]] = {}
        for ls, v in arg.items():
            d = dict(ls)
            key = frozenset((k, d[k]) for k in keys if k in d)
            groups.setdefault(key, []).append(v)
        fn: dict[str, Callable[[list[float]], float]] = {
            "sum": lambda xs: math.fsum(xs), "max": max, "min": min,
            "avg": lambda xs: math.fsum(xs) / len(xs), "count": lambda xs: float(len(xs))}
        return {k: fn[op](xs) for k, xs in groups.items()}

    def selector(self) -> Vector:
        name = self.take()
        matchers: list[tuple[str, str, str]] = []
        if self.peek() == "{":
            self.take()
            while self.peek() != "}":
                label, op, value = self.take(), self.take(), self.take()
                if op not in ("=", "!=", "=~", "!~") or not value.startswith('"'):
                    raise Unsupported(f"matcher {label}{op}{value}")
                matchers.append((label, op, value[1:-1].replace('\\"', '"').replace("\\\\", "\\")))
                if self.peek() == ",":
                    self.take()
            self.take("}")
        if name in self.ctx.rules:
            inner = evaluate(self.ctx.rules[name], self.ctx)
            if not isinstance(inner, dict):
                raise Unsupported(f"recording rule {name} is a scalar")
            series = {frozenset({*ls, ("__name__", name)}): v for ls, v in _drop_name(inner).items()}
        else:
            self.ctx.metrics.add(name)
            series = self.ctx.raw(name)
        out: Vector = {}
        for ls, v in series.items():
            d = dict(ls)
            ok = True
            for label, op, value in matchers:
                got = d.get(label, "")
                full = re.fullmatch(value, got) is not None if op in ("=~", "!~") else got == value
                if (op in ("=", "=~")) != full:
                    ok = False
            if ok:
                out[ls] = v
        return out


def evaluate(expr: str, ctx: Context) -> float | Vector:
    p = _Parser(tokenize(expr), ctx)
    v = p.expr()
    if p.peek() is not None:
        raise Unsupported(f"left over {p.t[p.i:]} in {expr!r}")
    return v


def by_labels(expr: str) -> set[str]:
    """Every label an aggregation of ``expr`` groups by."""
    out: set[str] = set()
    for m in re.finditer(r"\b(?:by)\s*\(([^)]*)\)", expr):
        out |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    return out
