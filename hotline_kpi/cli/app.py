"""What every command shares: the ``App`` (settings, engine, catalogues, clock, built on first
use), ``Failure``, ``pass_app`` and the small helpers."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from sqlalchemy import Engine

from hotline_kpi.catalogue import CatalogueError, CatalogueSet
from hotline_kpi.clock import Clock, SystemClock, local_today
from hotline_kpi.i18n import Lang, _, localize
from hotline_kpi.settings import Settings, load_settings, settings_environ, settings_file_in_use
from hotline_kpi.settings_file import describe_settings_error, describe_source_error
from hotline_kpi.store import migrate
from hotline_kpi.store.db import make_engine


class Failure(click.ClickException):
    """An error the user can act on: printed without a traceback, exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(_("error: {message}", message=self.format_message()), err=True)


@dataclass
class App:
    config_file: str | None = None
    lang_override: str | None = None
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def settings(self) -> Settings:
        try:
            return load_settings(config_file=self.config_file)
        except ValidationError as exc:
            # Where the office wrote it: the settings file and its key, or the environment variable.
            found = settings_file_in_use(self.config_file)
            lines = [localize(describe_settings_error(e, found, settings_environ())) for e in exc.errors()]
            raise Failure(_("invalid settings:") + "\n  " + "\n  ".join(lines)) from None
        except SettingsError as exc:  # a list or group in the environment that is not JSON
            shown = describe_source_error(exc, settings_environ(), Settings.model_fields)
            raise Failure(_("invalid settings:") + "\n  " + localize(shown)) from None
        except (FileNotFoundError, ValueError) as exc:
            raise Failure(_("invalid settings: {error}", error=str(exc))) from None

    @property
    def lang(self) -> Lang:
        return (self.lang_override or self.settings.language)  # type: ignore[return-value]

    @cached_property
    def engine(self) -> Engine:
        try:
            return make_engine(self.settings.database_url, busy_timeout_seconds=self.settings.sqlite_busy_timeout_seconds)
        except OSError as exc:  # the SQLite file's folder cannot be made
            from hotline_kpi.files import os_reason

            from sqlalchemy.engine import make_url

            shown = make_url(self.settings.database_url).render_as_string(hide_password=True)
            raise Failure(_("cannot open the database {url} (database_url): {reason}", url=shown,
                            reason=localize(os_reason(exc)))) from None

    @cached_property
    def catalogues(self) -> CatalogueSet:
        try:
            return CatalogueSet.from_dir(self.settings.targets_dir)
        except CatalogueError as exc:
            raise Failure(str(exc)) from None

    def hotline_id(self, given: str | None) -> str:
        hid = given or self.settings.default_hotline
        try:
            self.catalogues.hotline(hid)
        except KeyError as exc:
            raise Failure(exc.args[0]) from None
        return hid

    def hotline_name(self, hotline_id: str, with_id: bool = False) -> str:
        """A hotline as the office reads it: its display name (with its id, what ``--hotline``
        takes, when ``with_id``); the id alone when no catalogue knows it."""
        try:
            name = self.catalogues.hotline(hotline_id).display_name(self.lang)
        except KeyError:
            return hotline_id
        return _("{name} ({id})", name=name, id=hotline_id) if with_id else name

    def require_schema(self) -> None:
        try:
            migrate.require_current(self.engine)
        except migrate.SchemaNotCurrent as exc:
            raise Failure(str(exc)) from None

    def today(self, hotline_id: str) -> dt.date:
        return local_today(self.clock, self.catalogues.hotline(hotline_id).zone)


def _console(err: bool = False) -> Console:
    stream = sys.stderr if err else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 160, highlight=False)


pass_app = click.make_pass_decorator(App)


class Date(click.ParamType):
    """A local date written YYYY-MM-DD; a wrong one is a usage error naming its option
    ('--as-of' 的值无效：'2019-13-01' 不是日期（YYYY-MM-DD）。)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(_("{value} is not a date (YYYY-MM-DD)", value=repr(value)), param, ctx)


DATE = Date()


def _date(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return DATE.convert(value, None, None)


def bad_option(name: str, message: str) -> click.BadParameter:
    """A usage error of the running command's option ``name`` (its parameter name), named as
    Click names it: '--to' 的值无效：…。"""
    ctx = click.get_current_context()
    param = next((p for p in ctx.command.params if p.name == name), None)
    return click.BadParameter(message, ctx, param)
