"""Pydantic's validation errors in the office's words (issue #14).

Pydantic writes its errors in English ("Input should be a valid integer"); the settings, the
target catalogue and the alert rules are validated by pydantic, and their errors reach the
office. :func:`problem` turns one error (an item of ``ValidationError.errors()``) into a
:class:`~hotline_kpi.i18n.Msg` rendered where it is shown; a validator of ours raises
``ValueError(M_(...))`` and its message is kept as it is. An error type not listed here keeps
pydantic's English text (tests/test_messages.py walks the ones the suite produces).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from hotline_kpi.i18n import M_, Msg, join, q

_SIMPLE: dict[str, Msg] = {
    "missing": M_("missing: this key is required"),
    "extra_forbidden": M_("not a known key"),
    "int_parsing": M_("not a whole number"),
    "int_type": M_("not a whole number"),
    "int_from_float": M_("not a whole number"),
    "float_parsing": M_("not a number"),
    "float_type": M_("not a number"),
    "bool_parsing": M_("not true or false"),
    "bool_type": M_("not true or false"),
    "string_type": M_("not text: write it in quotes"),
    "dict_type": M_("not a table of keys and values"),
    "model_type": M_("not a table of keys and values"),
    "model_attributes_type": M_("not a table of keys and values"),
    "list_type": M_("not a list"),
    "tuple_type": M_("not a list"),
    "date_parsing": M_("not a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": M_("not a date (YYYY-MM-DD)"),
    "date_type": M_("not a date (YYYY-MM-DD)"),
    "path_type": M_("not a file or folder name"),
    "none_required": M_("must be left out"),
}

_BOUNDS: dict[str, tuple[str, Msg]] = {
    "greater_than_equal": ("ge", M_("must be at least {limit}")),
    "greater_than": ("gt", M_("must be more than {limit}")),
    "less_than_equal": ("le", M_("must be at most {limit}")),
    "less_than": ("lt", M_("must be less than {limit}")),
}


#: The forms our pydantic ``pattern`` constraints take, in words (the regular expression is for
#: the code, not the office). A pattern not listed is "not of the expected form", never shown.
PATTERNS: dict[str, Msg] = {
    r"^([01]?\d|2[0-3]):[0-5]\d$": M_("not a time of day written HH:MM (00:00 to 23:59, e.g. 08:30)"),
    r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$": M_("not a day of the year written MM-DD (e.g. 01-05)"),
    r"^[a-z][a-z0-9_]{0,62}$": M_("not an id: a lower-case letter, then lower-case letters, digits or _, "
                                  "at most 63 characters (e.g. connection_rate)"),
    r"^[a-z0-9][a-z0-9-]{0,62}$": M_("not an id: lower-case letters, digits or -, starting with a letter or a "
                                     "digit, at most 63 characters (e.g. shanghai-12345)"),
}


def problem(error: Mapping[str, Any]) -> Msg:
    """What is wrong, in words, of one pydantic error (without its place or value)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and ctx.get("error") is not None:
        cause = ctx["error"]
        arg = cause.args[0] if getattr(cause, "args", None) else cause
        return arg if isinstance(arg, Msg) else M_("{error}", error=str(arg))
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in _BOUNDS:
        key, text = _BOUNDS[kind]
        return M_(text.msgid, limit=ctx.get(key))
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").split(", ")
        return M_("must be one of {choices}", choices=join(expected))
    if kind == "enum":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").split(", ")
        return M_("must be one of {choices}", choices=join(expected))
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(str(ctx.get("pattern")), M_("not of the expected form"))
    if kind in ("string_too_short", "too_short"):
        return M_("too short: at least {n}", n=ctx.get("min_length"))
    if kind in ("string_too_long", "too_long"):
        return M_("too long: at most {n}", n=ctx.get("max_length"))
    return M_("{error}", error=str(error.get("msg", kind)))


def shown_value(error: Mapping[str, Any], hide: tuple[str, ...] = ("password", "token")) -> Msg | str:
    """The rejected value as written (" (value '99999')"), unless it is a whole group
    (a model validator's input is every field of it) or may hold a secret."""
    if "input" not in error or error.get("type") == "missing":
        return ""
    value = error["input"]
    if isinstance(value, (dict, list, tuple)) or any(str(p).lower() in hide for p in error.get("loc", ())):
        return ""
    if isinstance(value, str) and "://" in value:  # a URL's password is not shown
        value = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", value)
    return M_(" (value {value})", value=q(value))


#: What the TOML parser (tomllib) says, by the start of its English text, in the office's words.
_TOML_REASONS: tuple[tuple[str, Msg], ...] = (
    ("Expected '=' after a key", M_("a key must be followed by =")),
    ("Invalid statement", M_("this line is neither key = value nor a [table] heading")),
    ("Invalid value", M_("the value is not written as TOML writes values (text goes in double quotes)")),
    ("Unterminated string", M_("a quotation mark is not closed")),
    ("Unclosed array", M_("a list [ … ] is not closed")),
    ("Unclosed inline table", M_("a table { … } is not closed")),
    ("Cannot declare", M_("a table or key is written twice")),
    ("Cannot overwrite a value", M_("a table or key is written twice")),
    ("Duplicate inline table key", M_("a table or key is written twice")),
    ("Expected newline or end of document", M_("something follows the value on the same line")),
    ("Invalid initial character for a key part", M_("a key starts with a character a key cannot start with")),
    ("Illegal character", M_("a character that is not allowed here")),
    ("Found invalid character", M_("a character that is not allowed here")),
    ("Expected ']", M_("a [table] heading is not closed with ]")),
    ("Invalid date or datetime", M_("a date or time that is not valid")),
    ("Unescaped '\\'", M_("a backslash \\ inside double quotes: write \\\\ or use single quotes")),
)

#: What the YAML parser says, by the start of its English text, in the office's words.
_YAML_REASONS: tuple[tuple[str, Msg], ...] = (
    ("mapping values are not allowed here",
     M_("key: value cannot stand here (the indentation is off, or a colon in a value is not in quotes)")),
    ("found character", M_("a character that cannot begin anything here (often a Tab used to indent)")),
    ("could not find expected ':'", M_("a colon : is missing")),
    ("expected <block end>", M_("the indentation is not consistent")),
    ("found unexpected end of stream", M_("the file ends before a quotation mark or bracket is closed")),
    ("found unknown escape character", M_("an unknown escape \\ inside double quotes (use single quotes)")),
    ("expected ',' or ']'", M_("a list [ … ] lacks a comma or its closing ]")),
    ("expected ',' or '}'", M_("a table { … } lacks a comma or its closing }")),
)


def _parser_problem(reasons: tuple[tuple[str, Msg], ...], detail: str) -> Msg:
    what = next((msg for start, msg in reasons if detail.startswith(start)), M_("not written as expected"))
    return M_("{what} (detail: {detail})", what=what, detail=q(detail))


def toml_problem(detail: str) -> Msg:
    """A tomllib error (without its place) in words, the parser's own text kept after it."""
    return _parser_problem(_TOML_REASONS, detail)


def yaml_problem(detail: str) -> Msg:
    """A YAML parser's problem (without its place) in words, the parser's own text kept after it."""
    return _parser_problem(_YAML_REASONS, detail)
