"""Settings of alert delivery: SMTP, the group robots and the alert rules (part of ``settings``)."""

from __future__ import annotations

import json
import re
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from hotline_kpi import defaults
from hotline_kpi.i18n import M_, q

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def check_address(value: str) -> str:
    """A bare e-mail address (no display name, no CR/LF); raises ``ValueError``."""
    value = value.strip()
    name, addr = parseaddr(value)
    if name or addr != value or not _ADDRESS.match(value):
        raise ValueError(M_("{value} is not a plain e-mail address (name@example.org)", value=q(value)))
    return value


def _http_url(v: str) -> str:
    v = v.strip()
    if v and not v.startswith(("http://", "https://")):
        raise ValueError(M_("{value} is not an http(s) URL", value=q(v)))
    return v


class SmtpSettings(BaseModel):
    """Outgoing mail for alerts (HOTLINE_KPI_SMTP__<NAME>). An empty host: mail is not
    configured; alerts are still tracked and their notifications wait, listed as undelivered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("", description="SMTP server; empty: no mail is sent.")
    port: int | None = Field(None, ge=1, le=65535,
                             description="Default by security: 25 (none), 587 (starttls), 465 (tls).")
    security: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="none: plain SMTP; starttls: upgrade with STARTTLS; tls: implicit TLS (SMTPS).")
    username: str = Field("", description="Login name; empty: no login.")
    password: SecretStr = Field(SecretStr(""), description="Login password: set HOTLINE_KPI_SMTP__PASSWORD (or "
                                "the .env file), never the settings file. Never logged.")
    ca_file: Path | None = Field(None, description="CA bundle to verify the server with (a private relay); "
                                 "default: the system's.")
    timeout_seconds: float = Field(30, gt=0, le=600, description="Timeout of each SMTP network operation.")
    from_address: str = Field("hotline-kpi@localhost", description="Sender (From and envelope) of alert mail.")
    retry_for_seconds: float = Field(
        86400, ge=0, le=30 * 86400,
        description="Transient failures (refused, timeout, 4xx, disconnect) are retried for this long after "
        "the notification was written; then the remaining recipients are given up (recorded as expired).")
    backoff_initial_seconds: float = Field(30, gt=0, le=86400, description="First retry delay; doubles each time.")
    backoff_max_seconds: float = Field(1800, gt=0, le=86400, description="Longest delay between two retries.")

    @field_validator("from_address")
    @classmethod
    def _address(cls, v: str) -> str:
        return check_address(v)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"none": 25, "starttls": 587, "tls": 465}[self.security]


class WebhookSettings(BaseModel):
    """A group robot (alerts.webhooks.<name>): rules route to it as ``webhook:<name>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["wecom", "dingtalk"] = Field(description="wecom: 企业微信群机器人; dingtalk: 钉钉自定义机器人.")
    url: SecretStr = Field(description="The robot's webhook URL (it carries the key or access token: set it in "
                           "the environment, HOTLINE_KPI_ALERTS__WEBHOOKS__<NAME>__URL). Never logged.")
    secret: SecretStr = Field(SecretStr(""), description="DingTalk 加签 secret (SEC...); empty: not signed.")
    timeout_seconds: float = Field(
        5, gt=0, le=120, description="Timeout of one post: the robot may show a post it did not answer in time; "
        "the next post to it is marked （可能重复）.")


class AlertSettings(BaseModel):
    """Alert evaluation and mail (HOTLINE_KPI_ALERTS__<NAME>); mails follow ``language``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules_file: Path = Field(default_factory=lambda: defaults.path(defaults.ALERT_RULES),
                             description="The alert rules (docs/alerts.md); default: the rules shipped in the "
                             "package (hotline_kpi/defaults/alerts.yaml). A file named here must exist.")
    status_url: str = Field("", description="Base URL of the status page linked from mails; default: "
                            "service.status_url.")
    grafana_url: str = Field("", description="URL of the Grafana dashboard linked from mails "
                             "(var-hotline is appended).")
    digest_at: str = Field("09:00", pattern=r"^([01]?\d|2[0-3]):[0-5]\d$",
                           description="Daily digest of the alerts still firing, hotline time zone (HH:MM).")
    digest_quiet_hours: float = Field(
        12, ge=0, le=24 * 7,
        description="A digest leaves out alerts that started firing less than this long before it: their "
        "firing notice has just told.")
    dispatch_interval_seconds: float = Field(30, ge=1, le=3600, description="How often owed mail is sent.")
    webhooks: dict[str, WebhookSettings] = Field(
        default_factory=dict, description="Group robots by name ([a-z0-9_-]); docs/alerts.md.")
    recipients: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Who gets the alerts of the rules that name no recipients of their own, in place of the "
        "rules file's default_recipients (the shipped rules' kpi-office@example.org is a placeholder). Addresses or "
        "webhook:<name>; in the environment a JSON list or comma-separated: HOTLINE_KPI_ALERTS__RECIPIENTS="
        "a@office.gov.cn,webhook:office_wecom.")
    claim_timeout_seconds: float = Field(
        600, ge=10, le=86400,
        description="A sender that claimed a notification and vanished (crash) loses the claim after this; "
        "another sends it. Keep it well above a whole SMTP session (several timeouts).")

    @field_validator("status_url", "grafana_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipients(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: a JSON list or comma-separated
            v = json.loads(v) if v.strip().startswith("[") else [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, (list, tuple)):
            return tuple(r.strip() if isinstance(r, str) and re.fullmatch(r"webhook:[a-z0-9][a-z0-9_-]{0,62}", r.strip())
                         else check_address(r) for r in v)
        return v

    @field_validator("webhooks")
    @classmethod
    def _hooks(cls, v: dict[str, WebhookSettings]) -> dict[str, WebhookSettings]:
        for name, hook in v.items():
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
                raise ValueError(M_("webhook name {name}: lower-case letters, digits, _ and - only", name=q(name)))
            if not re.fullmatch(r"https?://\S+", hook.url.get_secret_value()):
                raise ValueError(M_("webhook {name}: url must be an http(s) URL", name=q(name)))
        return v


