"""What the installed product prints names nothing a pip user lacks: no docs/… or config/…
file of the checkout in --help (both languages), in the unknown-setting errors or in the
/metrics HELP lines; the example settings file they point at is inside the package."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest

from hotline_kpi import defaults
from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.service.exporter import KpiCollector, MetricsModel

CHECKOUT_ONLY = ("docs/", "config/", "bench/", "tools/")


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    yield path
    for name, sub in group.commands.items():
        if isinstance(sub, click.Group):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_help_page_points_at_a_file_of_the_checkout(cli_env, clock, lang):
    for path in _commands(cli):
        out = CliRunner().invoke(cli, ["--lang", lang, *path, "--help"], obj=App(clock=clock)).output
        assert not [m for m in CHECKOUT_ONLY if m in out], (path, out)


def test_an_unknown_setting_points_at_the_example_file_inside_the_package(cli_env, clock, monkeypatch, tmp_path):
    example = defaults.path(defaults.EXAMPLE_SETTINGS)
    assert example.is_file() and "[alerts]" in example.read_text(encoding="utf-8")
    monkeypatch.setenv("HOTLINE_KPI_LANGAUGE", "en")
    out = CliRunner().invoke(cli, ["targets", "show"], obj=App(clock=clock)).output
    assert f"未知设置项 HOTLINE_KPI_LANGAUGE（全部设置项见 {example}）" in out, out
    monkeypatch.delenv("HOTLINE_KPI_LANGAUGE")
    (tmp_path / "hotline-kpi.toml").write_text('languge = "en"\n')
    out = CliRunner().invoke(cli, ["targets", "show"], obj=App(clock=clock)).output
    assert str(example) in out and not [m for m in CHECKOUT_ONLY if m in out], out


def test_no_metrics_help_line_points_at_a_file_of_the_checkout():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KpiCollector(lambda: MetricsModel(snapshots={}, zones={}, database_up=True)))
    text = generate_latest(registry).decode()
    helps = [line for line in text.splitlines() if line.startswith("# HELP")]
    assert any("hotline_kpi_projection_interval" in h for h in helps), helps
    assert not [h for h in helps if any(m in h for m in CHECKOUT_ONLY)]


def test_the_docs_give_the_content_type_metrics_is_served_with():
    from hotline_kpi.service.exposition import CONTENT_TYPES
    from tests.common import ROOT

    served = [CONTENT_TYPES["openmetrics"], CONTENT_TYPES["text"]]  # what /metrics answers with (negotiated)
    docs = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    stated = re.findall(r"the service answers `([^`]+)`", docs)
    assert stated == served, (stated, served)
