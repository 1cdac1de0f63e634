"""Click's own words in the office's language, beyond what its catalogue (``click.po``) covers.

Click translates its messages through gettext (``i18n.translate_click``), but a few of its
texts are not messages: a parameter type's name (``'abc' is not a valid integer``, the
``INTEGER`` metavar), the usage line's ``[OPTIONS]`` and ``COMMAND [ARGS]...``, an argument's
``FILES...``, and the ``.`` it writes between and after sentences
(``Missing option '--from'.``). Rather than patching Click, the command tree is given:

* parameter types whose ``name`` is rendered in the language shown (:func:`localize_types`,
  done once: a copy of each type, Click's shared ``click.INT`` left alone);
* metavars set for the language (:func:`localize_usage`, whenever the language changes);
* a context whose formatter writes the headings' and the usage's colon as the language does;
* usage errors re-raised with their text in words of the language (:func:`in_words`): Chinese
  sentences end in 。, not in an ASCII full stop.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from functools import cache
from typing import Any

import click

from hotline_kpi.i18n import C_, CLICK_DOMAIN, M_, Msg, _, current_language, localize, translations

#: Click's parameter types by their English name (context ``click-type``): the metavar (整数)
#: and the error (“abc” 不是有效的整数) read them.
TYPE_NAMES: dict[str, Msg] = {
    "integer": C_("click-type", "integer"),
    "integer range": C_("click-type", "integer"),
    "float": C_("click-type", "number"),
    "float range": C_("click-type", "number"),
    "text": C_("click-type", "text"),
    "boolean": C_("click-type", "yes or no"),
    "choice": C_("click-type", "option value"),
    "datetime": C_("click-type", "date"),
    "file": C_("click-type", "file"),
    "directory": C_("click-type", "folder"),
    "path": C_("click-type", "path"),
}

#: The usage line's words for options and subcommands, by Click's English text.
USAGE_WORDS: dict[str, Msg] = {
    "[OPTIONS]": M_("[OPTIONS]"),
    "COMMAND [ARGS]...": M_("COMMAND [ARGS]..."),
    "[COMMAND] [ARGS]...": M_("[COMMAND] [ARGS]..."),
}

#: The commands' positional arguments, by name (Click shows NAME.upper()).
ARGUMENT_NAMES: dict[str, Msg] = {
    "files": C_("metavar", "FILES"),
    "file": C_("metavar", "FILE"),
    "event_id": C_("metavar", "EVENT_ID"),
}

#: The metavars the commands' options name themselves (--sheet NAME, --from DATE).
OPTION_METAVARS: dict[str, Msg] = {
    "NAME": C_("metavar", "NAME"),
    "DATE": C_("metavar", "DATE"),
}


class _Localized:
    """A Click parameter type whose name is said in the language shown."""

    _english: str = "text"

    @property  # type: ignore[misc]
    def name(self) -> str:
        msg = TYPE_NAMES.get(self._english)
        return localize(msg) if msg is not None else self._english

    @name.setter
    def name(self, value: str) -> None:
        """click.Path names itself in ``__init__``; the English name is kept in ``_english``."""


@cache
def _localized_class(cls: type) -> type:
    return type(cls.__name__, (_Localized, cls), {})


def _english_name(ptype: click.ParamType) -> str:
    if isinstance(ptype, click.Path):  # its name was translated when it was made, if at all
        return "file" if not ptype.dir_okay else "directory" if not ptype.file_okay else "path"
    return str(getattr(type(ptype), "name", None) or ptype.name)


def localize_types(command: click.Command) -> None:
    """Give every parameter of the tree a type (a copy) whose name is in the language shown."""
    for param in command.params:
        if not isinstance(param.type, _Localized) and _english_name(param.type) in TYPE_NAMES:
            english = _english_name(param.type)
            ptype = object.__new__(_localized_class(type(param.type)))
            ptype.__dict__.update(copy.copy(param.type.__dict__))
            ptype._english = english  # type: ignore[attr-defined]
            param.type = ptype
    for sub in getattr(command, "commands", {}).values():
        localize_types(sub)


def localize_usage(command: click.Command) -> None:
    """The usage line's metavars of the tree in the current language (English: Click's own)."""
    keep = "_i18n_options_metavar"
    if not hasattr(command, keep):
        setattr(command, keep, command.options_metavar)
    english = getattr(command, keep)
    command.options_metavar = localize(USAGE_WORDS[english]) if english in USAGE_WORDS else english
    if isinstance(command, click.Group):
        if not hasattr(command, "_i18n_subcommand_metavar"):
            command._i18n_subcommand_metavar = command.subcommand_metavar  # type: ignore[attr-defined]
        english = command._i18n_subcommand_metavar  # type: ignore[attr-defined]
        command.subcommand_metavar = localize(USAGE_WORDS[english]) if english in USAGE_WORDS else english
        for sub in command.commands.values():
            localize_usage(sub)
    for param in command.params:
        if isinstance(param, click.Argument) and param.name in ARGUMENT_NAMES:
            param.metavar = None if current_language() == "en" else _argument_metavar(param)
        elif isinstance(param, click.Option):
            if not hasattr(param, "_i18n_metavar"):
                param._i18n_metavar = param.metavar  # type: ignore[attr-defined]
            english = param._i18n_metavar  # type: ignore[attr-defined]
            param.metavar = localize(OPTION_METAVARS[english]) if english in OPTION_METAVARS else english


def _argument_metavar(param: click.Argument) -> str:
    text = localize(ARGUMENT_NAMES[str(param.name)])
    if not param.required:
        text = f"[{text}]"
    return text + ("…" if param.nargs != 1 else "")


class Formatter(click.HelpFormatter):
    """Click's help with the headings' colon in the language (选项：) and, in Chinese, no space
    after the usage's full-width colon."""

    def write_heading(self, heading: str) -> None:
        colon = _(":")
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None and current_language() == "zh":
            usage = "Usage:"  # Click's own message, from its catalogue: 用法：, then the program at once
            prefix = translations(current_language(), CLICK_DOMAIN).gettext(usage)
        super().write_usage(prog, args, prefix)


    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        """Click's definition list, the first column padded by display width: 文件 is four
        columns wide on a terminal, not two, so the help texts line up under Chinese metavars."""
        rows = [(first, second) for first, second in rows]
        first_col = min(max((_width(first) for first, _second in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if _width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - _width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = click.formatting.wrap_text(second, max(self.width - first_col - 2, 10),
                                               preserve_paragraphs=True).splitlines()
            self.write(f"{lines[0]}\n" if lines else "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class Context(click.Context):
    formatter_class = Formatter


def use_context(command: click.Command) -> None:
    command.context_class = Context
    for sub in getattr(command, "commands", {}).values():
        use_context(sub)


_FULL_STOP = re.compile(r"(?<=[^\s.])\.(?: |(?=\n)|$)")


def full_stops(text: str) -> str:
    """In Chinese, the ASCII full stops Click writes after and between sentences as 。
    (a value's dot, 'a.csv', and an ellipsis ... are left as they are)."""
    return _FULL_STOP.sub("。", text) if current_language() == "zh" else text


class UsageInWords(click.UsageError):
    """A usage error of Click's, its text in words of the language shown."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(full_stops(original.format_message()), original.ctx)
        self.exit_code = original.exit_code  # type: ignore[misc]


def in_words(exc: click.UsageError) -> click.UsageError:
    """``exc`` as the office reads it (the help shown for a bare group is left as it is)."""
    if isinstance(exc, (UsageInWords, click.exceptions.NoArgsIsHelpError)):
        return exc
    return UsageInWords(exc)


def settings_file_language(argv: list[str], environ: Any) -> str | None:
    """``language`` of the settings file the command line would read (--config, else
    HOTLINE_KPI_CONFIG_FILE, else ./hotline-kpi.toml), read leniently: a broken file is
    reported by the command itself, in the default language."""
    import tomllib
    from pathlib import Path

    from hotline_kpi.settings import DEFAULT_CONFIG_FILE

    path: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
            break
        if arg.startswith("--config="):
            path = arg.split("=", 1)[1]
            break
    if path is None:
        path = environ.get("HOTLINE_KPI_CONFIG_FILE") or DEFAULT_CONFIG_FILE
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    value = data.get("language")
    return value if isinstance(value, str) else None
