"""docker-compose.yml validates with Debian's docker-compose (``config -q``; no engine runs
here) and wires the stack together: the service built from the repo's Dockerfile,
PostgreSQL, Prometheus with config/prometheus, Alertmanager, Grafana with the
provisioning, an SMTP catcher; health checks, named volumes, no password in the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards import grafana

ROOT = grafana.ROOT
COMPOSE = ROOT / "docker-compose.yml"
PASSWORDS = {"POSTGRES_PASSWORD": "test-pg", "GRAFANA_DB_PASSWORD": "test-grafana-db",
             "GRAFANA_ADMIN_PASSWORD": "test-grafana-admin"}


def _compose(*args: str, passwords: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose not found: install Debian's docker-compose package (.ci/install-test-deps)")
    env = {k: v for k, v in os.environ.items() if k not in PASSWORDS}
    if passwords:
        env.update(PASSWORDS)
    return subprocess.run([exe, "--project-directory", str(ROOT), "-f", str(COMPOSE), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    proc = _compose("config")
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def test_docker_compose_config_validates() -> None:
    proc = _compose("config", "-q")
    assert proc.returncode == 0, proc.stderr


def test_the_passwords_come_from_the_environment_only() -> None:
    proc = _compose("config", "-q", passwords=False)
    assert proc.returncode != 0 and "POSTGRES_PASSWORD" in proc.stderr + proc.stdout
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # unresolved: ${...} as written
    secrets = 0
    for name, svc in raw["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if "PASSWORD" in key:
                secrets += 1
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), f"{name} {key}: {value!r}"
            if key.endswith("DATABASE_URL"):
                assert re.match(r"^postgresql\+psycopg://\w+:\$\{\w+:\?[^}]*\}@", value), f"{name} {key}"
    assert secrets >= 4


def test_the_stack_has_its_services_with_health_checks_and_named_volumes(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"postgres", "hotline-kpi-init", "hotline-kpi", "prometheus", "alertmanager", "mailpit",
                             "grafana"}
    for name, svc in services.items():
        if name != "hotline-kpi-init":
            assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
            assert svc.get("restart") == "unless-stopped", name
        for port in svc.get("ports", []):
            published = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
            assert str(published).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    declared = set(resolved["volumes"])
    for name in ("postgres", "hotline-kpi", "prometheus", "alertmanager", "grafana"):
        named = [v for v in services[name]["volumes"] if _volume(v)[0] in declared]
        assert named, f"{name} keeps its data in no named volume"


def _volume(v: Any) -> tuple[str, str]:
    if isinstance(v, dict):
        return str(v.get("source")), str(v.get("target"))
    source, target = v.split(":")[:2]
    return source, target


def _mounts(svc: dict[str, Any]) -> dict[str, str]:
    return {target: source for source, target in map(_volume, svc.get("volumes", []))}


def test_the_service_is_built_from_the_repo_and_initialised_before_it_serves(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in ("hotline-kpi", "hotline-kpi-init"):
        build = services[name]["build"]
        assert os.path.realpath(build["context"]) == str(ROOT)
        assert (ROOT / build.get("dockerfile", "Dockerfile")).is_file()
    init = services["hotline-kpi-init"]
    script = " ".join(init["command"])
    assert "hotline-kpi db upgrade" in script and "hotline-kpi demo" in script
    assert init["environment"]["HOTLINE_KPI_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert services["hotline-kpi-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["hotline-kpi"]["depends_on"]["hotline-kpi-init"]["condition"] == "service_completed_successfully"
    assert services["grafana"]["depends_on"]["hotline-kpi-init"]["condition"] == "service_completed_successfully"
    assert _mounts(init)["/var/lib/hotline-kpi"] == _mounts(services["hotline-kpi"])["/var/lib/hotline-kpi"]


def test_prometheus_gets_the_project_config_and_scrapes_the_service(resolved: dict[str, Any]) -> None:
    prom = resolved["services"]["prometheus"]
    assert os.path.realpath(_mounts(prom)["/etc/prometheus"]) == str(ROOT / "config" / "prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    cfg = yaml.safe_load((ROOT / "config" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [t for job in cfg["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]]
    port = resolved["services"]["hotline-kpi"]["environment"]["HOTLINE_KPI_SERVICE__PORT"]
    assert f"hotline-kpi:{port}" in targets
    am = resolved["services"]["alertmanager"]
    assert os.path.realpath(_mounts(am)["/etc/alertmanager"]) == str(ROOT / "config" / "alertmanager")
    assert (ROOT / "config" / "alertmanager" / "alertmanager.yml").is_file()
    am_cfg = yaml.safe_load((ROOT / "config" / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    assert am_cfg["global"]["smtp_smarthost"] == "mailpit:1025"


def test_grafana_gets_the_provisioning_dashboards_and_every_variable_they_read(resolved: dict[str, Any]) -> None:
    g = resolved["services"]["grafana"]
    mounts = _mounts(g)
    assert os.path.realpath(mounts["/etc/grafana/provisioning"]) == str(ROOT / "config" / "grafana" / "provisioning")
    provider_path = grafana.load_dashboard_providers()[0]["options"]["path"]
    assert os.path.realpath(mounts[provider_path]) == str(ROOT / "dashboards")
    home = g["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider_path + "/") and (ROOT / "dashboards" / home.rsplit("/", 1)[1]).is_file()
    text = "".join(p.read_text(encoding="utf-8")
                   for p in (ROOT / "config" / "grafana" / "provisioning").rglob("*.yaml"))
    wanted = set(re.findall(r"\$__env\{(\w+)\}", text))
    assert wanted and wanted <= set(g["environment"]), f"not set for grafana: {wanted - set(g['environment'])}"
    assert g["environment"]["HOTLINE_KPI_GRAFANA_DB_USER"] == \
        resolved["services"]["hotline-kpi-init"]["environment"]["GRAFANA_DB_USER"]


def test_the_image_runs_unprivileged_with_the_defaults_of_the_wheel() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-\w+$", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "EXPOSE 9105" in text and "HEALTHCHECK" in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", "var", ".env", "tests"):
        assert entry in ignored, entry


def _tag(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    return name, tag


def test_every_image_is_pinned_to_a_release_of_a_supported_line(resolved: dict[str, Any]) -> None:
    """docs/dashboards.md ("Images") says which line and why; a floating tag (latest, a bare
    major) would move under a volume at the next pull."""
    images = {name: svc["image"] for name, svc in resolved["services"].items() if "build" not in svc}
    for name, image in images.items():
        _, tag = _tag(image)
        assert re.fullmatch(r"v?\d+\.\d+\.\d+|\d+\.\d+-[a-z]+", tag), f"{name}: {image} is not pinned to a release"
    # PostgreSQL with its Debian suite in the tag (the C library's collations live there).
    assert re.fullmatch(r"postgres:15\.\d+-(bookworm|trixie)", images["postgres"]), images["postgres"]
    assert re.fullmatch(r"prom/prometheus:v3\.\d+\.\d+", images["prometheus"]), images["prometheus"]
    assert not images["grafana"].startswith(("grafana/grafana:11", "grafana/grafana:12.0"))
    doc = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for image in images.values():
        assert f"`{image}`" in doc, f"docs/dashboards.md does not list {image}"


def test_the_service_mails_through_mailpit_and_the_inbox_gets_every_demo_source(resolved: dict[str, Any],
                                                                               tmp_path: Path) -> None:
    services = resolved["services"]
    env = services["hotline-kpi"]["environment"]
    assert env["HOTLINE_KPI_SMTP__HOST"] == "mailpit" and env["HOTLINE_KPI_SMTP__PORT"] == "1025"
    assert env["HOTLINE_KPI_SMTP__SECURITY"] == "none"
    assert services["hotline-kpi"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    # Every file the demo writes (daily reports, queue_log, exports, ledger), not one kind:
    # the init script's copy lines run by sh on a folder laid out as `hotline-kpi demo` does.
    script = "\n".join(services["hotline-kpi-init"]["command"]).replace("$$", "$")
    lines = [line for line in script.splitlines() if "/inbox" in line and not line.lstrip().startswith("#")]
    demo = tmp_path / "demo" / "2019"
    files = ["daily-report/12345热线日报-2019-01.csv", "systems/queue_log-201912", "systems/工单导出-2019-12.csv",
             "systems/回访导出-2019-12.csv", "项目支出台账-2019.csv"]
    for name in files:
        (demo / name).parent.mkdir(parents=True, exist_ok=True)
        (demo / name).write_text("x", encoding="utf-8")
    subprocess.run(["sh", "-ec", "\n".join(lines)], env={**os.environ, "HOTLINE_KPI_VAR_DIR": str(tmp_path)},
                   check=True, timeout=30)
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == sorted(Path(n).name for n in files)


def test_the_image_labels_say_the_package_version_and_a_licence_the_checkout_holds() -> None:
    import tomllib

    from hotline_kpi import __version__

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    built = compose["services"]["hotline-kpi"]["build"]
    assert built["args"]["VERSION"] == version == __version__
    assert re.findall(r"^ARG VERSION=(\S+)$", text, re.M) == [version]
    assert 'org.opencontainers.image.version="${VERSION}"' in text
    licence = re.search(r'org\.opencontainers\.image\.licenses="([^"]+)"', text).group(1)
    assert licence == "MIT" and "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    # No claim the project cannot back: no source URL is known, so no source label.
    assert "org.opencontainers.image.source" not in text
    docs = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert "name the source" not in docs
