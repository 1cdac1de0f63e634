"""The TOML settings file: read (a Notepad BOM accepted), checked key by key against the
settings (a misspelt key is an error naming the file and the key, with a close match), and
its relative paths resolved from the file's own folder.

``settings.py`` builds the settings from what :func:`read_settings_file` returns.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel

from hotline_kpi import defaults
from hotline_kpi.i18n import M_, Msg, _, q
from hotline_kpi.validation import problem, shown_value, toml_problem


class SettingsFileError(ValueError):
    """The settings file cannot be used; the message names the file (and line, column or key)."""


def _close(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word.replace("-", "_").lower(), choices, n=1, cutoff=0.6)
    return _(" (did you mean {key}?)", key=match[0]) if match else ""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def unknown_file_keys(data: dict[str, Any], model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, close-match hint) of every key of ``data`` that names no field of ``model``,
    tables included; below a plain mapping (queue_log.queues) nothing is checked."""
    bad: list[tuple[str, str]] = []
    fields = model.model_fields
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            bad.append((prefix + key, _close(key, sorted(fields))))
            continue
        sub = _model_of(field.annotation)
        if sub is not None and isinstance(value, dict):
            bad.extend(unknown_file_keys(value, sub, prefix + key + "."))
    return bad


#: Settings that name a file or folder: relative in the file means relative to the file.
PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("var_dir",), ("targets_dir",), ("alerts", "rules_file"), ("report", "output_dir"), ("report", "inputs_dir"),
    ("report", "benchmark_file"), ("smtp", "ca_file"),
)


def _resolve_paths(data: dict[str, Any], folder: Path) -> None:
    for keys in PATH_KEYS:
        table = data
        for key in keys[:-1]:
            table = table.get(key) if isinstance(table.get(key), dict) else {}
        value = table.get(keys[-1])
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            table[keys[-1]] = str(folder / value)
    url = data.get("database_url")
    prefix = "sqlite:///"
    if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:"):
            data["database_url"] = prefix + str(folder / rest)


def read_settings_file(path: Path, model: type[BaseModel], given_by: str) -> dict[str, Any]:
    """The settings of the TOML file ``path``, checked and with its relative paths made
    absolute from the file's folder. ``given_by``: how the file was named (shown when missing)."""
    if not path.is_file():
        raise SettingsFileError(_("settings file {path} (given by {given_by}) not found", path=path,
                                  given_by=given_by))
    try:
        text = path.read_bytes().decode("utf-8-sig")  # Notepad writes a BOM
    except UnicodeDecodeError as exc:
        raise SettingsFileError(_("settings file {path}: not UTF-8 text (byte {offset})", path=path,
                                  offset=exc.start)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(exc), re.S)
        if m:  # the place in words of the language; the parser's own reason quoted as it says it
            raise SettingsFileError(_("settings file {path}: not valid TOML: line {line}, column {column}: {problem}",
                                      path=path, line=m.group(2), column=m.group(3),
                                      problem=toml_problem(m.group(1)))) from None
        raise SettingsFileError(_("settings file {path}: not valid TOML: {error}", path=path, error=q(exc))) from None
    bad = unknown_file_keys(data, model)
    if bad:
        raise SettingsFileError(_("settings file {path}: unknown setting(s) {keys} (every setting: {example})",
                                  path=path, keys=", ".join(key + hint for key, hint in bad),
                                  example=defaults.path(defaults.EXAMPLE_SETTINGS)))
    _resolve_paths(data, path.resolve().parent)
    return data


def _has(data: Any, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def describe_settings_error(error: Mapping[str, Any], file: Path | None, environ: Mapping[str, str]) -> Msg:
    """One pydantic error of the settings where the office wrote the value: the environment
    variable (or .env) that set it, else the settings file and its key, with the value as written."""
    loc = tuple(str(p) for p in error.get("loc", ()))
    key = ".".join(loc)
    variable = "HOTLINE_KPI_" + "__".join(p.upper() for p in loc)
    data: Any = None
    if file is not None and file.is_file():
        try:
            data = tomllib.loads(file.read_bytes().decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = None
    in_env = any(k.upper() == variable or (variable.startswith(k.upper() + "__") and k.upper().startswith("HOTLINE_KPI_"))
                 for k in environ)
    value = shown_value(error)
    if not in_env and data is not None and loc and _has(data, loc):
        where = M_("settings file {file}, key {key}", file=str(file), key=key)
    elif in_env:
        where = M_("environment variable {variable}", variable=variable)
    else:
        where = M_("setting {key} ({variable})", key=key or "-", variable=variable)
    return M_("{where}{value}: {problem}", where=where, value=value, problem=problem(error))


def describe_source_error(exc: ValueError, environ: Mapping[str, str], fields: Mapping[str, Any]) -> Msg:
    """pydantic-settings' "error parsing value for field ..." (a list or group given in the
    environment or .env that is not JSON) where the office wrote it: the variable and its value,
    and the form expected."""
    found = re.search(r'field "([^"]+)"', str(exc))
    if found is None:
        return M_("{error}", error=str(exc))
    name = found.group(1)
    variable = "HOTLINE_KPI_" + name.upper()
    value = next((v for k, v in environ.items() if k.upper() == variable), None)
    annotation = getattr(fields.get(name), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        key = next(iter(annotation.model_fields), "key")
        expected = M_("a JSON object, e.g. {example}, or one variable per key ({variable}__{key})",
                      example='{"' + key + '": …}', variable=variable, key=key.upper())
    else:
        default = getattr(fields.get(name), "default", None)
        example = json.dumps(list(default), ensure_ascii=False) if isinstance(default, (list, tuple)) else '["…", "…"]'
        expected = M_("a JSON list, e.g. {example}", example=example)
    shown = M_(" (value {value})", value=q(value)) if value is not None else ""
    return M_("{where}{value}: {problem}", where=M_("environment variable {variable}", variable=variable),
              value=shown, problem=expected)
