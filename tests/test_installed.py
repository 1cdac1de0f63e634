"""The installed package works where it runs (issue #17): built as a wheel, installed with
the locked versions into a fresh venv, and run from an empty folder with the image's
environment, where no file of the checkout can be reached.

- every file of the package (defaults, templates, migrations) is inside the wheel, and
  every file the settings read by default lies inside the package;
- the Dockerfile installs what WeasyPrint and the charts need, takes the defaults from
  the wheel and mounts the wheels at build time (no engine runs here: read as text);
- ``system``: the fresh venv runs ``demo``, ``serve`` with the shipped alert rules loaded
  (the alerts of the demo year in /metrics) and the PDF report with Noto CJK embedded.

The wheel is built with uv (its cache makes the isolated build and the fresh venv take
seconds after the first run); the dependencies are those of requirements.lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.common import ROOT
from tests.processes import ServeProcess, start_process

DOCKERFILE = ROOT / "Dockerfile"
UV = Path(sys.executable).with_name("uv")


def _uv() -> str:
    exe = str(UV) if UV.exists() else shutil.which("uv")
    if exe is None:
        pytest.fail("uv not found: it is a test extra (pip install -e '.[test]', make setup)")
    return exe


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built the way a release is: sdist first, the wheel from it."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([_uv(), "build", "--quiet", "--out-dir", str(out), str(ROOT)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("hotline_kpi-*.whl")
    return whl


def _package_files() -> set[str]:
    """The files of hotline_kpi/ under version control, as paths inside the wheel."""
    listed = subprocess.run(["git", "ls-files", "hotline_kpi"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {line for line in listed.stdout.splitlines() if line}


def test_every_file_of_the_package_and_every_default_the_settings_read_is_in_the_wheel(wheel: Path) -> None:
    from hotline_kpi.settings import Settings

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    missing = sorted(_package_files() - names)
    assert not missing, f"not in the wheel: {missing}"
    s = Settings(_env_file=None)
    package = ROOT / "hotline_kpi"
    defaults = {"targets_dir": s.targets_dir, "alerts.rules_file": s.alerts.rules_file,
                "report.benchmark_file": s.report.benchmark_file}
    for name, path in defaults.items():
        assert path is not None and path.resolve().is_relative_to(package), (name, path)
        inside = path.resolve().relative_to(ROOT).as_posix()
        found = [n for n in names if n == inside or n.startswith(inside + "/")]
        assert found, f"{name}: {inside} is not in the wheel"
    assert any(n.startswith("hotline_kpi/defaults/targets/") and n.endswith(".yaml") for n in names)


def _dockerfile_env() -> dict[str, str]:
    """The ENV of the image's final stage."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def test_the_dockerfile_installs_what_the_pdf_and_the_charts_need_and_keeps_no_wheel() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    joined = text.replace("\\\n", " ")
    # Pinned Python on a named Debian suite (a rebuild never moves to another Debian).
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", text, re.M)
    assert bases and re.fullmatch(r"python:3\.1\d(\.\d+)?-slim-(bookworm|trixie|forky)", bases[0]), bases
    assert re.findall(r"^FROM (\S+)", text, re.M)[-1] == "${PYTHON_IMAGE}"
    # WeasyPrint's Pango and the CJK fonts of the PDF and the charts, from Debian.
    install = " ".join(re.findall(r"apt-get install ([^&\n]+)", joined))
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-noto-cjk"):
        assert package in install.split(), f"the image does not install {package}: {install}"
    # The locked versions; the wheels mounted for the install step only, never copied.
    assert "-r requirements.lock" in joined and "COPY --from=build" not in text
    assert re.search(r"RUN --mount=type=bind,from=build,source=/wheels", joined)
    # The defaults come from the wheel: nothing of config/ is copied or named.
    code = "\n".join(line for line in joined.splitlines() if not line.lstrip().startswith("#"))
    assert "COPY config" not in code and "TARGETS_DIR" not in code and "RULES_FILE" not in code
    for label in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{label}=" in joined, label
    env = _dockerfile_env()
    assert env["HOTLINE_KPI_VAR_DIR"] == "/var/lib/hotline-kpi" and env["TZ"] == "Asia/Shanghai"
    assert not any(v.startswith(("/src", "./config")) for v in env.values()), env


def _image_env(home: Path, venv: Path, port: int | None = None) -> dict[str, str]:
    """The image's environment, with its state folder at ``home`` and the venv first on PATH;
    nothing of the developer's (no HOTLINE_KPI_*, PYTHONPATH or virtualenv) leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HOTLINE_KPI_", "PYTHON", "VIRTUAL_ENV", "UV_")) and k not in ("PWD", "OLDPWD")}
    for key, value in _dockerfile_env().items():
        env[key] = value.replace("/var/lib/hotline-kpi", str(home))
    env["HOTLINE_KPI_SERVICE__HOST"] = "127.0.0.1"  # the image binds 0.0.0.0; a test stays on loopback
    if port is not None:
        env["HOTLINE_KPI_SERVICE__PORT"] = str(port)
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    env["HOME"] = str(home)
    return env


def _run(env: dict[str, str], cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.system
def test_the_wheel_in_a_fresh_venv_runs_demo_serve_with_alerts_and_the_cjk_pdf_from_an_empty_folder(
        wheel: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    venv, home = tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    install = subprocess.run([_uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                              "-r", str(ROOT / "requirements.lock"), str(wheel)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr
    env = _image_env(home, venv)
    exe = str(venv / "bin" / "hotline-kpi")

    # The package is the wheel's, in the venv; nothing of the checkout is on its path.
    where = _run(env, home, str(venv / "bin" / "python"), "-c",
                 "import hotline_kpi, sys; print(hotline_kpi.__file__); print('\\n'.join(sys.path))").stdout
    assert str(ROOT) not in where and where.splitlines()[0].startswith(str(venv)), where
    assert list(home.iterdir()) == [], "the working folder is not empty"

    demo = _run(env, home, exe, "demo")
    assert "shanghai-12345" in demo.stdout or "上海" in demo.stdout, demo.stdout[-2000:]
    shipped = _run(env, home, exe, "targets", "show").stdout
    # the installed package's own catalogue (hotline_kpi is imported from the venv, above): 内置目录
    assert "上海市12345市民服务热线 2019（内置目录）" in shipped, shipped[:500]
    assert str(venv) in shipped.replace("\n", ""), shipped[-500:]  # the file to copy, under the table

    def command(port: int) -> list[str]:
        return [exe, "serve", "--port", str(port)]

    def judged(served: ServeProcess) -> str | None:
        """None once the serve's evaluation stored the alerts of the rules and /metrics shows them
        (it re-reads the store every metrics_refresh_seconds)."""
        status, body = served.get("/metrics")
        counts = [float(v) for v in re.findall(r'^hotline_kpi_alerts\{.*?\} (\S+)$', body.decode(), re.M)]
        return None if status == 200 and sum(counts) > 0 else f"/metrics {status}: alerts {counts}"

    served = start_process(command, log_dir=tmp_path, name="serve", addfinalizer=request.addfinalizer,
                           ready=judged, env=_image_env(home, venv), cwd=home, ready_timeout=180,
                           make=ServeProcess)
    log = served.log()
    assert "alerting is off" not in log and "not found" not in log, log[-2000:]
    # The shipped rules judged the demo year: the alerts of its breaches are in /metrics
    # and in the alert list, named by the rules of hotline_kpi/defaults/alerts.yaml.
    listed = _run(env, home, exe, "alerts", "list", "--all").stdout
    assert re.search(r"告警规则：\S*defaults/alerts\.yaml", listed.replace("\n", "")), listed[:500]  # Chinese by default
    rule_ids = set(re.findall(r"^\s*- id: (\S+)", (ROOT / "hotline_kpi/defaults/alerts.yaml").read_text("utf-8"),
                              re.M))
    assert any(rule in listed for rule in rule_ids), listed[-2000:]
    with urllib.request.urlopen(served.url("/api/v1/scoreboard/shanghai-12345"), timeout=10) as r:
        assert json.load(r)["as_of"].startswith("2019-12")
    served.stop()

    # The year-end PDF: WeasyPrint with Pango, the CJK glyphs embedded from Noto CJK.
    out = home / "report"
    _run(env, home, exe, "report", "--year", "2019", "--format", "pdf", "--out", str(out))
    (pdf,) = out.glob("*.pdf")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^\w{6}\+Noto-?(Sans|Serif)-?CJK\S* .* yes +yes", fonts, re.M), fonts  # embedded, subset
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "接通率" in text, text[:500]


def _pins(lock: Path) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if m:
            pins[canonicalize_name(m.group(1).split("[")[0])] = m.group(2)
    return pins


def test_every_dependency_of_pyproject_is_pinned_in_the_locks_within_its_range() -> None:
    """`make setup` installs the lock and the project with --no-deps: a dependency added to
    pyproject.toml without `make lock`, or a range the pin no longer meets, fails here."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    test = [Requirement(r) for r in project["optional-dependencies"]["test"]]
    for lock, wanted in ((ROOT / "requirements.lock", runtime), (ROOT / "requirements-test.lock", runtime + test)):
        pins = _pins(lock)
        for req in wanted:
            name = canonicalize_name(req.name)
            assert name in pins, f"{req} is not in {lock.name}: run `make lock`"
            assert req.specifier.contains(pins[name], prereleases=True), f"{lock.name} pins {name}=={pins[name]}, outside {req}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-r requirements-test.lock" in makefile and "--no-deps -e ." in makefile and "pip check" in makefile
    assert "-c requirements-test.lock" not in makefile
