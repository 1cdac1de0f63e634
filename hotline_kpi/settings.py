"""Settings: defaults < config file < .env file < environment (HOTLINE_KPI_*) < arguments.

Nested groups use ``__`` in the environment: ``HOTLINE_KPI_FORMULAS__SHORT_ABANDON_SECONDS=10``.
The config file is TOML; its path is ``HOTLINE_KPI_CONFIG_FILE`` (or ``--config``),
default ``./hotline-kpi.toml`` when that file exists.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Mapping
from zoneinfo import ZoneInfo

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hotline_kpi import defaults
from hotline_kpi.alert_settings import AlertSettings, SmtpSettings, WebhookSettings, check_address
from hotline_kpi.clock import ZoneName
from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.i18n import M_, _
from hotline_kpi.scoring_rules import ScoringRules
from hotline_kpi.settings_file import SettingsFileError, read_settings_file


__all__ = ["AlertSettings", "Settings", "SettingsFileError", "SmtpSettings", "WebhookSettings", "check_address", "load_settings"]

DEFAULT_CONFIG_FILE = "hotline-kpi.toml"

#: Which source supplies a counter when several supply it for one day: first wins.
#: Raw systems beat the typed daily report.
DEFAULT_SOURCE_PRIORITY = ("queue-log", "tickets", "callbacks", "daily-report")
#: Largest relative difference between two sources' values of one counter for one day.
DEFAULT_SOURCE_TOLERANCE = 0.05
#: A difference of at most this many units between two sources is never a disagreement.
DEFAULT_SOURCE_TOLERANCE_UNITS = 10.0


class ServiceSettings(BaseModel):
    """``hotline-kpi serve``: HTTP, scheduler and inbox (HOTLINE_KPI_SERVICE__<NAME>)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Bind address of the HTTP port (0.0.0.0 to expose it).")
    port: int = Field(9105, ge=1, le=65535, description="One port for /metrics, the API and the status page.")
    inbox_scan_seconds: float = Field(30, ge=1, le=86400, description="How often the inbox is scanned.")
    inbox_settle_seconds: float = Field(
        5, ge=0, le=3600, description="A file modified more recently than this is still being written: left for a later scan."
    )
    inbox_done_marker: bool = Field(
        False, description="Load an inbox file only once NAME.done stands beside it (archived with it); for "
        "uploaders that write the marker last."
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


class QueueLogSettings(BaseModel):
    """How the call platform's queue_log is read (applied when logs are ingested)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queues: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Hotline id -> the queue names (shell patterns: 12345-*) that belong to it. A hotline "
        "without an entry takes every queue of the log.",
    )
    unresolved_after_hours: float = Field(
        4.0, gt=0, le=24,
        description="An ENTERQUEUE without any exit counts as unresolved once the log has gone on this many "
        "hours past it (log time, not the clock).",
    )
    unresolved_offered: bool = Field(
        True,
        description="Whether an unresolved call (entered, never exited) counts as an offered, unanswered call.",
    )
    db_time_zone: ZoneName | None = Field(
        None,
        description="Zone of text times (2019-01-01 08:00:00) in the database/CSV form of the queue_log; "
        "default: the hotline's zone. UNIX epochs are UTC whatever this says.",
    )
    read_chunk_bytes: int = Field(
        5 << 20, ge=4 << 10, le=256 << 20,
        description="The file form is read in blocks of this many bytes (a batch of lines each). Only speed "
        "and memory depend on it.",
    )
    spool_every_calls: int = Field(
        50_000, ge=100, le=10_000_000,
        description="Call states moved out of memory are written to the parse's temporary spool file once "
        "this many have piled up. Only speed and memory depend on it.",
    )
    vectorised: bool = Field(
        True,
        description="A big file form (parallel_min_bytes) is parsed in blocks by a vectorised reader (polars, "
        "in threads of the ingesting process), and only the calls it cannot treat exactly line by line; false, or "
        "a smaller file: every line by the line scan. The counters are the same.",
    )
    parallel_min_bytes: int = Field(
        64 << 20, ge=1, le=1 << 40,
        description="A file form whose part still to read is at least this big is read in several parts at "
        "once (at most 4, one per CPU; threads, or processes for the line scan); the counters are the same. Above "
        "the largest file: in one part.",
    )
    parallel_part_min_bytes: int = Field(
        32 << 20, ge=1, le=1 << 40,
        description="Each part of a parallel read is at least this many bytes of the file.",
    )

    def queue_patterns(self, hotline_id: str) -> tuple[str, ...] | None:
        """The queue-name patterns of a hotline; None: every queue belongs to it."""
        return self.queues.get(hotline_id)


class TicketSettings(BaseModel):
    """How ticket (工单) exports become counters (applied when exports are ingested)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator_channels: tuple[str, ...] = Field(
        ("电话",),
        description="Channels (受理渠道) whose tickets operators take: the base of the first-contact "
        "resolution rate (话务员受理量).",
    )


class HttpAuthSettings(BaseModel):
    """Optional authentication of the status page and the API (HOTLINE_KPI_HTTP_AUTH__<NAME>).

    Off by default: the service binds to loopback. Turn it on before exposing the port
    (docs/reliability.md). /metrics, /healthz and /readyz stay open unless ``protect_probes``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["none", "bearer", "basic"] = Field(
        "none", description="none: no authentication; bearer: 'Authorization: Bearer <token>'; basic: HTTP basic.")
    token: SecretStr = Field(SecretStr(""), description="The bearer token (mode bearer): set "
                             "HOTLINE_KPI_HTTP_AUTH__TOKEN, never the settings file. Never logged.")
    username: str = Field("", description="User name (mode basic).")
    password: SecretStr = Field(SecretStr(""), description="Password (mode basic): set "
                                "HOTLINE_KPI_HTTP_AUTH__PASSWORD. Never logged.")
    protect_probes: bool = Field(
        False, description="Also require the credentials on /metrics, /healthz and /readyz (then Prometheus and "
        "the orchestrator's probes must send them).")

    @model_validator(mode="after")
    def _complete(self) -> "HttpAuthSettings":
        if self.mode == "bearer" and len(self.token.get_secret_value()) < 16:
            raise ValueError(M_("mode bearer needs a token of at least 16 characters (HOTLINE_KPI_HTTP_AUTH__TOKEN)"))
        if self.mode == "basic" and (not self.username or not self.password.get_secret_value()):
            raise ValueError(M_("mode basic needs a username and a password (HOTLINE_KPI_HTTP_AUTH__PASSWORD)"))
        return self


class ReportSettings(BaseModel):
    """The year-end self-evaluation report (HOTLINE_KPI_REPORT__<NAME>, docs/report.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    draft_date: str = Field("01-05", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
                            description="MM-DD on which serve drafts and mails the previous year's report.")
    draft_at: str = Field("07:00", pattern=r"^([01]?\d|2[0-3]):[0-5]\d$",
                          description="Time of day of the draft, hotline time zone (HH:MM).")
    recipients: tuple[str, ...] = Field((), description="Who gets the drafted report by mail (needs smtp.host).")
    output_dir: Path = Field(Path("./var/reports"), description="Where serve writes the drafted reports; "
                             "default: reports/ in var_dir.")
    inputs_dir: Path = Field(Path("./config/report"), description="The office's input files "
                             "(<hotline>-<year>.yaml or .xlsx, written empty by `hotline-kpi report template`); "
                             "default: report-inputs/ in var_dir (./config/report while that folder exists and "
                             "the new one does not, as before).")
    benchmark_file: Path | None = Field(default_factory=lambda: defaults.path(defaults.BENCHMARK),
                                        description="The peer figures of the 影响力目标 comparison; default: Beijing "
                                        "2019, shipped in the package; none: no comparison.")
    formats: tuple[Literal["docx", "xlsx", "pdf", "html", "md"], ...] = Field(("docx", "xlsx", "pdf", "html", "md"),
                                                                       description="Formats the service drafts (docx: the written report).")
    scoring: ScoringRules = Field(default_factory=ScoringRules)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_address(a) for a in v)


#: The settings file given to ``load_settings`` (``--config``), for the duration of that call:
#: pydantic calls ``settings_customise_sources`` on the class, with no way to pass it an argument.
_given_config_file: ContextVar[tuple[str | Path, str] | None] = ContextVar("hotline_kpi_config_file", default=None)


def _config_file() -> tuple[Path, str] | None:
    """The settings file and how it was named (--config, HOTLINE_KPI_CONFIG_FILE, the default)."""
    given = _given_config_file.get()
    if given is not None:
        return Path(given[0]), given[1]
    if os.environ.get("HOTLINE_KPI_CONFIG_FILE"):
        return Path(os.environ["HOTLINE_KPI_CONFIG_FILE"]), "HOTLINE_KPI_CONFIG_FILE"
    default = Path(DEFAULT_CONFIG_FILE)
    return (default, DEFAULT_CONFIG_FILE) if default.is_file() else None


def settings_file_in_use(config_file: str | Path | None) -> Path | None:
    """The settings file that ``load_settings(config_file)`` reads, if any (for messages)."""
    token = _given_config_file.set(None if config_file is None else (config_file, "--config"))
    try:
        found = _config_file()
    finally:
        _given_config_file.reset(token)
    return found[0] if found else None


def settings_environ(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """The HOTLINE_KPI_* variables of the environment and the .env file (for messages)."""
    keys = {k: v for k, v in os.environ.items() if k.upper().startswith("HOTLINE_KPI_")}
    if env_file is not None and env_file.is_file():
        keys.update({k: v or "" for k, v in dotenv_values(env_file).items() if k.upper().startswith("HOTLINE_KPI_")})
    return keys


#: The database drivers the product ships (psycopg 3 for PostgreSQL, the standard library's sqlite3).
#: Written with placeholders in the reader's language (路径, 用户…).
SUPPORTED_DATABASES = M_("sqlite:///PATH, postgresql+psycopg://USER:PASSWORD@HOST/DBNAME")


def check_database_url(value: str) -> str:
    """A database URL the product can open; ``postgres://`` and ``postgresql://`` (as libpq and
    most hosting panels write them) mean the psycopg driver the product ships."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    for alias in ("postgres://", "postgresql://"):
        if value.startswith(alias):
            value = "postgresql+psycopg://" + value[len(alias):]
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(M_("not a database URL; supported forms: {forms}", forms=SUPPORTED_DATABASES)) from None
    if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ValueError(M_("database {kind} is not supported; supported forms: {forms}",
                            kind=url.drivername, forms=SUPPORTED_DATABASES))
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_KPI_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        # A .env file is often shared with docker compose (POSTGRES_PASSWORD, ...): keys
        # without our prefix are not ours. Misspelt HOTLINE_KPI_* keys are caught by
        # unknown_keys() instead, in the environment as well as in .env.
        extra="ignore",
    )

    database_url: str = Field(
        "sqlite:///./var/hotline-kpi.db",
        description="SQLAlchemy URL. Embedded default: SQLite under ./var/. Production: "
        "postgresql+psycopg://user:password@host/dbname.",
    )
    var_dir: Path = Field(Path("./var"), description="Where originals, the inbox and other state live.")
    targets_dir: Path = Field(default_factory=lambda: defaults.path(defaults.TARGETS),
                              description="Folder of target catalogues (*.yaml); default: the catalogue shipped in "
                              "the package (hotline_kpi/defaults/targets).")
    default_hotline: str = Field("shanghai-12345", description="Hotline used when a command names none.")
    timezone: ZoneName = Field(
        "Asia/Shanghai",
        description="The hotlines' time zone: local dates, 'yesterday' and schedules are computed in it, "
        "never in the machine's zone.",
    )
    language: Literal["zh", "en"] = Field("zh", description="Language of the UI, mails and reports.")
    formulas: FormulaSettings = Field(default_factory=FormulaSettings)
    queue_log: QueueLogSettings = Field(default_factory=QueueLogSettings)
    tickets: TicketSettings = Field(default_factory=TicketSettings)
    source_priority: tuple[str, ...] = Field(
        DEFAULT_SOURCE_PRIORITY,
        description="When several sources supply the same counter for a day, the first listed wins.",
    )
    source_tolerance: float = Field(
        DEFAULT_SOURCE_TOLERANCE, ge=0, le=1,
        description="Largest relative difference |a - b| / max(a, b) allowed between a file's counter for a "
        "day and another source's stored value of that counter for that day; a file beyond it is rejected "
        "whole. Within it, source_priority decides. 0: the sources must agree exactly; 1: no check (counts are "
        "never negative, so two values are never more than 100% apart).",
    )
    source_tolerance_units: float = Field(
        DEFAULT_SOURCE_TOLERANCE_UNITS, ge=0,
        description="A difference of at most this many units (calls, tickets, seconds) is never a disagreement, "
        "whatever source_tolerance says: 3 operator-fault returns against 4 are 25% apart but agree. 0: only "
        "source_tolerance counts.",
    )
    sqlite_busy_timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_file_bytes: int = Field(
        2 * 1024**3, ge=1,
        description="A file bigger than this is rejected before it is read (checked by size, nothing parsed).")
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    http_auth: HttpAuthSettings = Field(default_factory=HttpAuthSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("source_priority")
    @classmethod
    def _known_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Every name a source of the product: a misspelt one would silently rank nothing."""
        from hotline_kpi.i18n import SOURCE_NAMES, join, q

        unknown = [v for v in value if v not in SOURCE_NAMES]
        if unknown:
            known = join(M_("{id} ({name})", id=k, name=n) for k, n in SOURCE_NAMES.items())
            raise ValueError(M_("unknown source(s) {unknown}; the sources are {known}",
                                unknown=join(q(u) for u in unknown), known=known))
        return value

    @model_validator(mode="after")
    def _state_under_var_dir(self) -> "Settings":
        """What is not set lives in the state folder: the SQLite database, the drafted reports
        and the report inputs. With the default var_dir (./var) these are the paths of before."""
        if "database_url" not in self.model_fields_set and "var_dir" in self.model_fields_set:
            self.database_url = f"sqlite:///{self.var_dir / 'hotline-kpi.db'}"
        update: dict[str, Path] = {}
        if "output_dir" not in self.report.model_fields_set:
            update["output_dir"] = self.var_dir / "reports"
        if "inputs_dir" not in self.report.model_fields_set:
            new, legacy = self.var_dir / "report-inputs", Path("./config/report")
            update["inputs_dir"] = legacy if legacy.is_dir() and not new.exists() else new
        if update:
            self.report = self.report.model_copy(update=update)
        return self

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
        found = _config_file()
        if found is not None:
            data = read_settings_file(found[0], settings_cls, given_by=found[1])
            sources.append(InitSettingsSource(settings_cls, init_kwargs=data))
        sources.append(file_secret_settings)
        return tuple(sources)


#: HOTLINE_KPI_* variables that are not settings.
_NOT_SETTINGS = ("CONFIG_FILE", "TEST_")


def unknown_keys(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> list[str]:
    """HOTLINE_KPI_* keys in the environment or the .env file that name no setting
    (a misspelt variable would otherwise be ignored silently)."""
    keys = dict(os.environ if environ is None else environ)
    if env_file is not None and env_file.is_file():
        keys.update({k: v or "" for k, v in dotenv_values(env_file).items()})
    bad = []
    for key in sorted(keys):
        if not key.upper().startswith("HOTLINE_KPI_"):
            continue
        rest = key[len("HOTLINE_KPI_"):]
        if rest.upper().startswith(_NOT_SETTINGS):
            continue
        path = rest.lower().split("__")
        fields: Any = Settings.model_fields
        for part in path:
            if fields is None:  # below a plain mapping (e.g. queue_log.queues): not checked
                break
            field = fields.get(part)
            if field is None:
                bad.append(key)
                break
            ann = field.annotation
            fields = ann.model_fields if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return bad


def load_settings(config_file: str | Path | None = None, *, config_given_by: str = "--config",
                  **overrides: Any) -> Settings:
    """Build the settings once, at the edge; unknown HOTLINE_KPI_* keys are an error.

    ``config_file`` (``--config``) names the settings file in place of HOTLINE_KPI_CONFIG_FILE
    and ./hotline-kpi.toml; the environment is read, never written."""
    bad = unknown_keys()
    if bad:
        raise ValueError(_("unknown setting(s) {keys} (every setting: {example})", keys=", ".join(bad),
                           example=defaults.path(defaults.EXAMPLE_SETTINGS)))
    token = _given_config_file.set(None if config_file is None else (config_file, config_given_by))
    try:
        return Settings(**overrides)
    finally:
        _given_config_file.reset(token)
