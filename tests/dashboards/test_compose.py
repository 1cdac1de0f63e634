"""docker-compose.yml validates with Debian's docker-compose (``config -q``; no engine runs
here) and wires the stack together: the service built from the repo's Dockerfile,
PostgreSQL, Prometheus with config/prometheus, Alertmanager, Grafana with the
provisioning, an SMTP catcher; health checks, named volumes, no password in the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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
