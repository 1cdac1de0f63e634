"""Settings: defaults < config file < .env file < environment (HOTLINE_KPI_*) < arguments.

Nested groups use ``__`` in the environment: ``HOTLINE_KPI_FORMULAS__SHORT_ABANDON_SECONDS=10``.
The config file is TOML; its path is ``HOTLINE_KPI_CONFIG_FILE`` (or ``--config``),
default ``./hotline-kpi.toml`` when that file exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hotline_kpi.formulas import FormulaSettings

DEFAULT_CONFIG_FILE = "hotline-kpi.toml"

#: Which source supplies a counter when several supply it for one day: first wins.
#: Raw systems beat the typed daily report.
DEFAULT_SOURCE_PRIORITY = ("queue-log", "tickets", "callbacks", "daily-report")


class ServiceSettings(BaseModel):
    """``hotline-kpi serve``: HTTP, scheduler and inbox (HOTLINE_KPI_SERVICE__<NAME>)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Bind address of the HTTP port (0.0.0.0 to expose it).")
    port: int = Field(9105, ge=1, le=65535, description="One port for /metrics, the API and the status page.")
    inbox_scan_seconds: float = Field(30, ge=1, le=86400, description="How often the inbox is scanned.")
    inbox_settle_seconds: float = Field(
        5, ge=0, le=3600, description="A file modified more recently than this is still being written: left for a later scan."
    )
    evaluate_at: str = Field("08:30", pattern=r"^([01]?\d|2[0-3]):[0-5]\d$",
                             description="Daily evaluation time, hotline time zone (HH:MM).")
    misfire_grace_seconds: int = Field(
        6 * 3600, ge=1, description="A scheduled run that starts this much late still runs (APScheduler misfire grace)."
    )
    readiness_max_age_seconds: int = Field(
        26 * 3600, ge=60, description="/readyz fails when the last evaluation is older than this."
    )
    metrics_refresh_seconds: float = Field(
        10, gt=0, le=3600, description="How often the exporter's cached snapshot is re-read from the database."
    )
    lease_seconds: float = Field(
        30, ge=2, le=3600, description="Scheduler leadership lease; a standby takes over after it expires."
    )
    status_url: str = Field("", description="Public base URL of the status page (used in mails and reports).")


def _config_file() -> Path | None:
    explicit = os.environ.get("HOTLINE_KPI_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_KPI_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
    )

    database_url: str = Field(
        "sqlite:///./var/hotline-kpi.db",
        description="SQLAlchemy URL. Embedded default: SQLite under ./var/. Production: "
        "postgresql+psycopg://user:password@host/dbname.",
    )
    var_dir: Path = Field(Path("./var"), description="Where originals, the inbox and other state live.")
    targets_dir: Path = Field(Path("./config/targets"), description="Folder of target catalogues (*.yaml).")
    default_hotline: str = Field("shanghai-12345", description="Hotline used when a command names none.")
    timezone: str = Field(
        "Asia/Shanghai",
        description="The hotlines' time zone: local dates, 'yesterday' and schedules are computed in it, "
        "never in the machine's zone.",
    )
    language: Literal["zh", "en"] = Field("zh", description="Language of the UI, mails and reports.")
    formulas: FormulaSettings = Field(default_factory=FormulaSettings)
    source_priority: tuple[str, ...] = Field(
        DEFAULT_SOURCE_PRIORITY,
        description="When several sources supply the same counter for a day, the first listed wins.",
    )
    sqlite_busy_timeout_seconds: float = Field(30.0, gt=0, le=600)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def originals_dir(self) -> Path:
        return self.var_dir / "originals"

    @property
    def inbox_dir(self) -> Path:
        return self.var_dir / "inbox"

    @property
    def archive_dir(self) -> Path:
        return self.var_dir / "archive"

    @property
    def quarantine_dir(self) -> Path:
        return self.var_dir / "quarantine"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        path = _config_file()
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"settings file {path} (HOTLINE_KPI_CONFIG_FILE) not found")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        sources.append(file_secret_settings)
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once, at the edge."""
    return Settings(**overrides)
