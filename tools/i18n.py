"""The message catalogues: extract, update, check and compile (Babel).

    python tools/i18n.py extract    # msgids from the code and templates -> hotline_kpi/locale/hotline_kpi.pot
    python tools/i18n.py update     # merge the .pot into every .po (en: msgstr = msgid where empty)
    python tools/i18n.py check      # exit 1 if a used msgid is missing from a .po or lacks its translation
    python tools/i18n.py compile    # .po -> .mo next to it (setup.py does this when a wheel is built)

Translators edit hotline_kpi/locale/zh_CN/LC_MESSAGES/hotline_kpi.po (any .po editor works).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hotline_kpi"
LOCALE_DIR = PACKAGE / "locale"
DOMAIN = "hotline_kpi"
POT = LOCALE_DIR / f"{DOMAIN}.pot"
LOCALES = ("zh_CN", "en")
#: gettext's defaults plus M_ (a message rendered later) and pL_ (a label: context, text).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "M_": None, "C_": ((1, "c"), 2),
            "pL_": ((1, "c"), 2)}
METHODS = [("hotline_kpi/**.py", "python"), ("hotline_kpi/**/templates/**.html", "jinja2")]
OPTIONS = {"hotline_kpi/**/templates/**.html": {"encoding": "utf-8", "extensions": "jinja2.ext.i18n"}}


def extracted() -> Catalog:
    """Every msgid used in the package (code and templates)."""
    catalog = _catalog(None)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS, options_map=OPTIONS, comment_tags=("TRANSLATORS:",)):
        if str(Path(filename).parts[0]) != "hotline_kpi" or not message:
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for text in cli_texts():
        catalog.add(text, None, [], context="cli")
    return catalog


def cli_texts() -> list[str]:
    """The help texts of every command and option (docstrings and ``help=``), in English."""
    sys.path.insert(0, str(ROOT))
    from hotline_kpi.cli import cli

    found: list[str] = []

    def walk(command: object) -> None:
        for attr in ("help", "short_help"):
            text = getattr(command, f"_i18n_{attr}", getattr(command, attr, None))
            if isinstance(text, str) and text:
                found.append(text)
        for param in getattr(command, "params", ()):
            text = getattr(param, "_i18n_help", getattr(param, "help", None))
            if isinstance(text, str) and text:
                found.append(text)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(cli)
    return found


def _catalog(locale: str | None) -> Catalog:
    return Catalog(locale=locale, domain=DOMAIN, project="hotline-kpi", version="", charset="utf-8",
                   copyright_holder="hotline-kpi", fuzzy=False)


def po_path(locale: str, domain: str = DOMAIN) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def read(locale: str, domain: str = DOMAIN) -> Catalog:
    with po_path(locale, domain).open("rb") as f:
        return read_po(f, locale=locale, domain=domain)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, no_location=True, omit_header=False, sort_output=True,
             include_previous=False, ignore_obsolete=True)
    path.write_bytes(buf.getvalue())


def extract() -> None:
    write(extracted(), POT)


def update() -> None:
    template = extracted()
    for locale in LOCALES:
        path = po_path(locale)
        catalog = read(locale) if path.exists() else _catalog(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project, catalog.version, catalog.fuzzy = "hotline-kpi", "", False
        for message in catalog:
            if message.id and locale == "en" and not message.string:
                message.string = message.id
        write(catalog, path)


def missing(locale: str) -> list[str]:
    """The msgids used in the code that ``locale``'s .po lacks, or leaves untranslated or fuzzy."""
    catalog = read(locale)
    found: list[str] = []
    for message in extracted():
        if not message.id:
            continue
        have = catalog.get(message.id, message.context)
        if have is None:
            found.append(f"not in the .po: {message.id!r}")
        elif not have.string or have.fuzzy:
            found.append(f"no translation: {message.id!r}")
    return found


def check() -> int:
    problems = [f"{locale}: {m}" for locale in LOCALES for m in missing(locale)]
    print("\n".join(problems) or "every msgid has its translation")
    return 1 if problems else 0


#: Click's msgids built at run time (``_(extra["required"])`` in Option.get_help_record), which
#: extraction cannot see.
CLICK_DYNAMIC = ("required",)


def click_catalog() -> Catalog:
    """Click's own msgids (usage errors, --help headings), from the installed Click."""
    import click

    catalog = _catalog(None)
    catalog.domain = "click"
    folder = Path(click.__file__).parent
    for filename, lineno, message, comments, context in extract_from_dir(
            str(folder), [("*.py", "python")], keywords=KEYWORDS):
        if message:
            catalog.add(message, None, [], context=context)
    for message in CLICK_DYNAMIC:
        catalog.add(message, None, [])
    return catalog


def update_click() -> None:
    """Merge Click's msgids into the click.po of each language (run after upgrading Click)."""
    template = click_catalog()
    for locale in LOCALES:
        path = po_path(locale, "click")
        catalog = read(locale, "click") if path.exists() else _catalog(locale)
        catalog.domain = "click"
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project, catalog.version, catalog.fuzzy = "hotline-kpi", "", False
        for message in catalog:
            if message.id and locale == "en" and not message.string:
                message.string = message.id
        write(catalog, path)


def compile_all(target: Path = PACKAGE) -> list[Path]:
    """Compile every .po under the package's locale folder into ``target``'s (the build folder)."""
    written = []
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        locale, domain = po.parent.parent.name, po.stem
        with po.open("rb") as f:
            catalog = read_po(f, locale=locale, domain=domain)
        mo = target / "locale" / locale / "LC_MESSAGES" / f"{domain}.mo"
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as f:
            write_mo(f, catalog)
        written.append(mo)
    return written


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "extract":
        extract()
    elif command == "update":
        update()
        update_click()
    elif command == "check":
        sys.exit(check())
    elif command == "compile":
        print("\n".join(map(str, compile_all())))
    else:
        sys.exit(__doc__)
