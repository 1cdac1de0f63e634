"""The command line: the edge where settings, engine, catalogues and the clock are built.

The root group lives here; each command group is a module of this package (``app`` holds
what they share) and is registered below.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from hotline_kpi import __version__
from hotline_kpi.cli import alerts, db, demo, evaluate, export, ingest, report, serve, targets
from hotline_kpi.cli.app import App, Failure
from hotline_kpi.cli.clicktext import choice_message, in_words, localize_types, localize_usage, settings_file_language, use_context
from hotline_kpi.i18n import LANGUAGES, _, localize_commands, q, set_language, translate_click

__all__ = ["cli", "main"]


class _Root(click.Group):
    """The root group: a database that cannot be reached is an error the office can act on
    (named, in its language), not a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None, *rest: Any, **extra: Any) -> Any:
        """The language is known before Click parses anything: --lang, HOTLINE_KPI_LANGUAGE, the
        settings file's ``language``, else Chinese; --help and usage errors are in it."""
        argv = list(sys.argv[1:] if args is None else args)
        obj = extra.get("obj")
        given = getattr(obj, "lang_override", None) if isinstance(obj, App) else None
        _use_language(given or language_from(argv, os.environ, settings_file=True) or "zh")
        return super().main(args, prog_name, *rest, **extra)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise in_words(exc) from None

    def invoke(self, ctx: click.Context) -> object:
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a subcommand's: in the office's words
            raise in_words(exc) from None
        except KeyboardInterrupt:
            # Ctrl-C: status 130 (128 + SIGINT, as a shell reports it), not 1 (a rejected file),
            # so that a script can tell them apart. (A file being loaded is not stored: loads are
            # all or nothing, and each file loaded before it was told with its ✓ line.)
            click.echo(file=sys.stderr)
            click.echo(_("interrupted (Ctrl-C)"), err=True)
            raise click.exceptions.Exit(130) from None
        except OSError as exc:
            if not exc.filename:
                raise
            from hotline_kpi.files import os_reason
            from hotline_kpi.i18n import localize

            raise Failure(localize(os_reason(exc))) from None
        except DBAPIError as exc:
            if not (exc.connection_invalidated or _is_connect_error(exc)):
                raise
            app = ctx.obj if isinstance(ctx.obj, App) else None
            url = app.settings.database_url if app is not None else "?"
            from sqlalchemy.engine import make_url

            shown = make_url(url).render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else exc.__class__.__name__
            raise Failure(_("cannot reach the database {url} (database_url): {reason}", url=shown,
                            reason=q(reason))) from None


def _is_connect_error(exc: Exception) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="HOTLINE_KPI_CONFIG_FILE",
              help="Settings file (TOML). Default: ./hotline-kpi.toml when present.")
@click.option("--lang", metavar="[" + "|".join(LANGUAGES) + "]", default=None, envvar="HOTLINE_KPI_LANGUAGE",
              is_eager=True, callback=lambda ctx, param, value: _use_language(_language(ctx, value)),
              help="Language of the output (default: the language setting, zh).")
@click.version_option(__version__, prog_name="hotline-kpi")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, lang: str | None) -> None:
    """hotline-kpi: KPI monitoring for government service hotlines."""
    if ctx.obj is None:
        ctx.obj = App()
    # Tests pass an App carrying a fixed clock; the options still apply to it.
    if ctx.get_parameter_source("config_file") == click.core.ParameterSource.COMMANDLINE:
        ctx.obj.config_file = config_file  # from HOTLINE_KPI_CONFIG_FILE: the settings read it (and say so)
    ctx.obj.lang_override = lang or ctx.obj.lang_override
    if ctx.obj.lang_override is None and not ctx.resilient_parsing:
        try:  # the settings file's language; a broken settings file is reported by the command itself
            _use_language(ctx.obj.settings.language)
        except click.ClickException:
            pass
    else:
        _use_language(ctx.obj.lang_override)


def _language(ctx: click.Context, value: str | None) -> str | None:
    """--lang or HOTLINE_KPI_LANGUAGE, checked: a wrong value is blamed on where it was written."""
    if value is None or value in LANGUAGES:
        return value
    choices = ", ".join(LANGUAGES)
    if ctx.get_parameter_source("lang") == click.core.ParameterSource.ENVIRONMENT:
        raise Failure(_("environment variable HOTLINE_KPI_LANGUAGE (value {value}): must be one of {choices}",
                        value=q(value), choices=choices))
    # the sentence Click writes for a choice ('fr' 不是 'zh'、'en' 之一。), in the language known before
    raise click.BadParameter(choice_message(value, list(LANGUAGES)), ctx, param_hint="'--lang'")


def _use_language(lang: str | None) -> str | None:
    """Make ``lang`` the language of everything shown from now on, Click's --help included."""
    if lang is not None:
        set_language(lang)
        localize_commands(cli)
        localize_usage(cli)
    return lang


def language_from(argv: list[str], environ: os._Environ[str] | dict[str, str], settings_file: bool = False) -> str | None:
    """``--lang X`` of the command line, else HOTLINE_KPI_LANGUAGE, else (``settings_file``) the
    settings file's ``language``: known before Click parses, so that its usage errors and
    ``--help`` are in that language too."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        given = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else (
            arg.split("=", 1)[1] if arg.startswith("--lang=") else None)
        if given in LANGUAGES:
            return given
        if given is not None:  # a wrong --lang is refused in the language it would otherwise be
            break
    value = environ.get("HOTLINE_KPI_LANGUAGE")
    if value is None and settings_file:
        value = settings_file_language(argv, environ)
    return value if value in LANGUAGES else None


for _command in (db.db, ingest.ingest, evaluate.evaluate, report.report, export.export, targets.targets,
                 serve.serve, demo.demo, alerts.alerts):
    cli.add_command(_command)


use_context(cli)
localize_types(cli)


translate_click()
_use_language("zh")


def main() -> None:
    cli(prog_name="hotline-kpi")
