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

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        """Click's sentence for a value not among a Choice's, the choices listed as the language
        lists them ('table'、'json' in Chinese)."""
        choices = list(self._normalized_mapping(ctx=ctx).values())  # type: ignore[attr-defined]
        return choice_message(value, choices)

    def _describe_range(self) -> str:
        """An IntRange's bounds in words of the language (1 至 13), Click's 1<=x<=13 in English."""
        english = super()._describe_range()  # type: ignore[misc]
        if current_language() != "zh":
            return english
        lo, hi = getattr(self, "min", None), getattr(self, "max", None)
        if lo is None:
            return localize(M_("below {max}", max=hi) if self.max_open else M_("at most {max}", max=hi))  # type: ignore[attr-defined]
        if hi is None:
            return localize(M_("above {min}", min=lo) if self.min_open else M_("at least {min}", min=lo))  # type: ignore[attr-defined]
        if not (self.min_open or self.max_open):  # type: ignore[attr-defined]
            return localize(M_("{min} to {max}", min=lo, max=hi))
        return english


def choice_message(value: Any, choices: list[Any]) -> str:
    """Click's "'x' is not one of 'a', 'b'." in the language shown: in Chinese the choices are
    joined by 、, the sentence ends in 。."""
    shown = [repr(c) for c in choices]
    joined = ("、" if current_language() == "zh" else ", ").join(shown)
    clicks = translations(current_language(), CLICK_DOMAIN).ngettext  # Click's own msgids, in click.po
    text = clicks("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", len(shown))
    return text.format(value=value, choice=joined, choices=joined)


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
            if current_language() == "zh":  # Click's "[default: 12; 1<=x<=13]", its ; full-width
                second = _HELP_EXTRA.sub(lambda m: m.group(0).replace("; ", "；"), second)
            lines = wrap_text(second, max(self.width - first_col - 2, 10)).splitlines()
            self.write(f"{lines[0]}\n" if lines else "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


    def write_text(self, text: str) -> None:
        """A command's help text, wrapped by display width (see :func:`wrap_text`)."""
        indent = " " * self.current_indent
        self.write(wrap_text(text, self.width, indent, indent))
        self.write("\n")


def short_help(command: click.Command, limit: int) -> str | None:
    """A command's line in its group's list, for Chinese help: its first sentence, up to 。
    (Click ends it at an ASCII full stop and cuts it by characters, '…供 `promtool tsdb...');
    cut by display width with … only when longer than two lines. None: Click's own."""
    if current_language() != "zh" or command.short_help or not command.help or command.deprecated:
        return None
    text = " ".join(command.help.split("\n\n")[0].split())
    if "。" in text:
        text = text[:text.index("。") + 1]
    if _width(text) <= 2 * limit:
        return text
    while _width(text) > 2 * limit - 2:
        text = text[:-1]
    return text.rstrip("，、；：（ ") + "…"


_HELP_EXTRA = re.compile(r"\[[^\[\]]*\]$")

#: Marks that never begin a line in Chinese text (and opening ones that never end it).
NO_LINE_START = frozenset("。，、；：！？）》」』】〉”’…·" ")]}>,.;:!?")
NO_LINE_END = frozenset("（《「『【〈“‘" "([{<")


def wrap_text(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """Click's ``wrap_text(..., preserve_paragraphs=True)``, by display width for Chinese text:
    Click counts characters, so a line of 汉字 ran twice as wide as the terminal, and it broke
    only at spaces, leaving a 。 alone on a line. A line breaks between any two CJK characters
    (or at a space), never before 。，、；：） nor after （, and a CJK character takes two columns.
    Text without wide characters is left to Click."""
    if not any(_width(ch) == 2 for ch in text):
        return click.formatting.wrap_text(text, width, initial_indent, subsequent_indent, preserve_paragraphs=True)
    paragraphs: list[tuple[str, bool, list[str]]] = []
    for block in re.split(r"\n\s*\n", text.expandtabs()):
        lines = block.splitlines()
        if not lines:
            continue
        raw = lines[0].strip() == "\b"
        indent = " " * (len(lines[0]) - len(lines[0].lstrip())) if not raw else ""
        paragraphs.append((indent, raw, lines[1:] if raw else lines))
    out = []
    for indent, raw, lines in paragraphs:
        if raw:
            out.append("\n".join(subsequent_indent + line for line in lines))
        else:
            out.append(_fill(" ".join(line.strip() for line in lines), width,
                             initial_indent + indent, subsequent_indent + indent))
            initial_indent = subsequent_indent
    return "\n\n".join(out)


def _fill(text: str, width: int, first: str, rest: str) -> str:
    # atoms: a wide character, or a run of narrow non-space characters; with the spaces before it
    atoms = [(m.group(2), m.group(1)) for m in re.finditer(r"(\s*)([^\s\u1100-\uffff]+|\S)", text)]

    def span(line: list[tuple[str, str]]) -> int:
        return sum(_width(a) + (len(sp) if i else 0) for i, (a, sp) in enumerate(line))

    lines: list[list[tuple[str, str]]] = [[]]
    for atom, space in atoms:
        line = lines[-1]
        indent = first if len(lines) == 1 else rest
        if not line or _width(indent) + span([*line, (atom, space)]) <= width:
            line.append((atom, space))
            continue
        carried = [(atom, space)]
        while len(line) > 1 and (carried[0][0][0] in NO_LINE_START or line[-1][0][-1] in NO_LINE_END):
            carried.insert(0, line.pop())  # 名称）。 go down together: no line begins with ）。
        if carried[0][0][0] in NO_LINE_START:  # a word alone on its line: the marks hang after it
            line.extend(carried)
        else:
            lines.append(carried)
    return "\n".join((first if i == 0 else rest) + "".join((sp if j else "") + a for j, (a, sp) in enumerate(line))
                     for i, line in enumerate(lines))


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class Context(click.Context):
    formatter_class = Formatter


def use_context(command: click.Command) -> None:
    """The tree's commands make a :class:`Context`, and the usage errors their parsing raises
    know it: Click's "Option '--as-of' requires an argument" has none, so it was shown without
    the usage line and the help hint every other usage error has."""
    command.context_class = Context
    if not hasattr(command, "_i18n_parse_args"):
        command._i18n_parse_args = command.parse_args  # type: ignore[attr-defined]

        def parse_args(ctx: click.Context, args: list[str], _parse: Any = command.parse_args) -> list[str]:
            try:
                return _parse(ctx, args)
            except click.UsageError as exc:
                if exc.ctx is None:
                    exc.ctx, exc.cmd = ctx, ctx.command
                raise

        command.parse_args = parse_args  # type: ignore[method-assign]

        def get_short_help_str(limit: int = 45, _short: Any = command.get_short_help_str,
                               _command: click.Command = command) -> str:
            return short_help(_command, limit) or _short(limit)

        command.get_short_help_str = get_short_help_str  # type: ignore[method-assign]
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
        super().__init__(sentence(full_stops(original.format_message())), original.ctx)
        self.exit_code = original.exit_code  # type: ignore[misc]


def sentence(text: str) -> str:
    """``text`` ending as a sentence does: the project's own usage errors ("--to 2019-01-01 is
    before --from 2019-02-01") end like Click's, in 。 in Chinese and . in English."""
    if not text or text.endswith((".", "。", "!", "！", "?", "？", "…")):
        return text
    return text + ("。" if current_language() == "zh" else ".")


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
