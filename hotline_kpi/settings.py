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

from pydantic import Field, field_validator
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
