"""The program's entry point loads no CLI until it is called: a worker process of the
parallel queue_log parse imports the program that started it (multiprocessing's spawn does),
and the CLI there would cost about a second and 50 MB a worker for nothing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from tests.common import ROOT


def test_the_console_script_is_the_light_entry_module():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "hotline-kpi"]
    assert script.value == "hotline_kpi.__main__:main"


def test_importing_the_entry_module_loads_no_cli_and_calling_it_runs_the_cli():
    probe = ("import sys, hotline_kpi.__main__ as m; "
             "print(sorted(x for x in ('hotline_kpi.cli', 'click', 'sqlalchemy') if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    run = subprocess.run([sys.executable, "-c", "import hotline_kpi.__main__ as m; m.main()", "--lang", "en", "--help"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Usage: ") and "ingest" in run.stdout
