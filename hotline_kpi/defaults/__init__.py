"""The defaults shipped inside the package: the target catalogue (``targets/``), the alert
rules (``alerts.yaml``) and the benchmark of the 影响力目标 comparison (``benchmarks/``).

Settings point at these files unless they name others (``targets_dir``,
``alerts.rules_file``, ``report.benchmark_file``): an installed package works from any
folder, and a file of one's own only overrides. Read through :mod:`importlib.resources`,
so they are found wherever the package is installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The shipped files, relative to this package.
TARGETS = "targets"
ALERT_RULES = "alerts.yaml"
BENCHMARK = "benchmarks/beijing-12345-2019.yaml"
#: Every setting with its default, commented: a start for a settings file of one's own.
EXAMPLE_SETTINGS = "hotline-kpi.example.toml"


def path(name: str) -> Path:
    """The file system path of a shipped default (``TARGETS``, ``ALERT_RULES``, ``BENCHMARK``).

    The package is installed as files (a wheel, an editable install, the image): the
    resource is a real path, which catalogue inheritance (``inherits:`` relative to a
    file) needs. A package imported from a zip archive is not supported and says so."""
    resource = files(__name__).joinpath(name)
    if not isinstance(resource, Path):
        raise RuntimeError(f"hotline_kpi is not installed as files ({resource!r}): its defaults cannot be read")
    return resource
