"""Structured logs: one JSON object a line on standard error.

Nothing secret is logged: database URLs are rendered with the password hidden, settings
marked secret are never formatted into messages, and exceptions are logged by class and
message (no locals).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

from hotline_kpi.i18n import _


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every run at INFO; our own job log says the same with its outcome.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # uvicorn's lifecycle lines ("Started server process [N]", "Shutting down", ...) are
    # English; the service says its own start and stop in the language (started/stopped).
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


log = logging.getLogger("hotline_kpi.service")


def started(host: str, port: int) -> None:
    """The service's start-up line in the office's language."""
    log.info("%s", _("service started (process {pid}), listening on {host}:{port}", pid=os.getpid(),
                     host=host, port=port))


def stopping() -> None:
    log.info("%s", _("service stopping: the running jobs finish first"))


def stopped() -> None:
    log.info("%s", _("service stopped (process {pid})", pid=os.getpid()))
