"""Compiles the message catalogues (hotline_kpi/locale/*/LC_MESSAGES/*.po) into the .mo files
the wheel ships, when the package is built: `pip install .` from any folder gets them.
Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        root = Path(__file__).resolve().parent / "hotline_kpi" / "locale"
        for po in sorted(root.glob("*/LC_MESSAGES/*.po")):
            locale, domain = po.parent.parent.name, po.stem
            with po.open("rb") as f:
                catalog = read_po(f, locale=locale, domain=domain)
            mo = Path(self.build_lib) / "hotline_kpi" / "locale" / locale / "LC_MESSAGES" / f"{domain}.mo"
            mo.parent.mkdir(parents=True, exist_ok=True)
            with mo.open("wb") as f:
                write_mo(f, catalog)


setup(cmdclass={"build_py": BuildWithCatalogues})
