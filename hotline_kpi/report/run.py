"""The edges of the report: build it from the store with the settings, and the serve job
that drafts the previous year's report on the configured date and mails it once."""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from apscheduler.triggers.cron import CronTrigger

from hotline_kpi.report.build import Benchmark, Report, ReportInputs, load_benchmark, load_report
from hotline_kpi.i18n import M_
from hotline_kpi.report.inputs import InputsError
from hotline_kpi.report.inputs_xlsx import load_inputs
from hotline_kpi.scoring_rules import ScoringError
from hotline_kpi.report.writer import write_report

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hotline_kpi.alerts.smtp import Transport
    from hotline_kpi.catalogue import CatalogueSet
    from hotline_kpi.clock import Clock
    from hotline_kpi.schedule import JobSpec
    from hotline_kpi.settings import Settings

log = logging.getLogger(__name__)

REPORT_DRAFT = "report_draft"


def inputs_path(settings: "Settings", hotline_id: str, year: int) -> Path:
    return settings.report.inputs_dir / f"{hotline_id}-{year}.yaml"


def load_for(settings: "Settings", catalogues: "CatalogueSet", session, hotline_id: str, year: int,  # noqa: ANN001
             inputs_file: Path | None = None) -> Report:
    path = inputs_file or inputs_path(settings, hotline_id, year)
    if inputs_file is None and not path.is_file() and path.with_suffix(".xlsx").is_file():
        path = path.with_suffix(".xlsx")
    inputs: ReportInputs | None = load_inputs(path) if path.is_file() else None
    if inputs is not None:
        problems = [str(M_("{key}: the file is for {given}, the report for {wanted}", key=key, given=given,
                           wanted=wanted))
                    for key, given, wanted in (("hotline", inputs.hotline, hotline_id), ("year", inputs.year, year))
                    if given not in ("", None) and given != wanted]
        known = {i.id for i in catalogues.for_year(hotline_id, year).indicators}
        unknown = sorted(set(inputs.indicators) - known)
        problems += [str(M_("indicators.{code}: not an indicator of the {year} catalogue", code=u, year=year))
                     for u in unknown]
        if problems:
            raise InputsError(path, problems)
    bench: Benchmark | None = None
    if settings.report.benchmark_file is not None and settings.report.benchmark_file.is_file():
        bench = load_benchmark(settings.report.benchmark_file)
    try:
        return load_report(session, catalogues, settings.formulas, hotline_id, year, inputs, bench,
                           settings.report.scoring)
    except ScoringError as exc:
        raise InputsError(path, getattr(exc, "problems", None) or [str(exc)]) from None


def draft_trigger(settings: "Settings") -> CronTrigger:
    month, day = (int(x) for x in settings.report.draft_date.split("-"))
    hour, minute = (int(x) for x in settings.report.draft_at.split(":"))
    return CronTrigger(month=month, day=day, hour=hour, minute=minute, timezone=settings.zone)


def report_message(report: Report, files: Sequence[Path], sender: str, to: Sequence[str], at: dt.datetime):  # noqa: ANN201
    from hotline_kpi.alerts.smtp import build_message

    t = report.total
    text = (f"{report.project_name} {report.year}年度项目支出绩效自评（初稿）\n\n"
            f"总分{t.total:.2f}分，等级{t.grade}；预算执行率得分{report.budget_score:.2f}分。\n"
            "偏差原因分析为系统草稿，请办公室核对并在输入文件中补充后重新生成。\n")
    if report.to_do:
        text += "尚缺：" + "；".join(f"{m.indicator}（{m.what}）" for m in report.to_do) + "。\n"
    html = "<p>" + text.replace("\n", "<br>") + "</p>"
    msg = build_message(subject=f"{report.catalogue.hotline.name} {report.year}年度绩效自评初稿", text=text,
                        html=html, sender=sender, to=to, message_id=make_msgid(domain="hotline-kpi"), date=at)
    for path in files:
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return msg


def draft_previous_year(engine: "Engine", settings: "Settings", catalogues: "CatalogueSet", clock: "Clock",
                        transport: "Transport | None" = None) -> list[str]:
    """Draft and mail last year's report of every hotline that has a catalogue for it, once.

    The ``report_run`` row is claimed before anything is written, in its own
    transaction: a restart or a second process finds it and does not resend. A failure
    to mail is logged and leaves ``mailed_at`` empty (visible), without a retry loop:
    the files are on disk for the office.
    """
    from hotline_kpi.store import provenance, runs
    from hotline_kpi.store.db import read_session, write_session

    done: list[str] = []
    for hotline in catalogues.hotlines():
        year = clock.now().astimezone(hotline.zone).year - 1
        if catalogues.get(hotline.id, year) is None:
            continue
        with write_session(engine) as s:
            provenance.ensure_hotline(s, hotline)
            if not runs.claim_report_run(s, hotline.id, year, clock.now()):
                log.info("report %s %s was drafted before: not again", hotline.id, year)
                continue
        with read_session(engine) as s:
            report = load_for(settings, catalogues, s, hotline.id, year)
        out = settings.report.output_dir / hotline.id / str(year)
        files = write_report(report, settings.report.formats, out)
        mailed = None
        if settings.report.recipients:
            if transport is None and settings.smtp.host:
                from hotline_kpi.alerts.smtp import SmtpTransport

                transport = SmtpTransport(settings.smtp)
            if transport is None:
                log.warning("report %s %s: recipients set but smtp.host is empty: not mailed", hotline.id, year)
            else:
                msg = report_message(report, files, settings.smtp.from_address, settings.report.recipients,
                                     clock.now())
                results = transport.send(msg, settings.smtp.from_address, settings.report.recipients)
                failed = [r for r in results if r.outcome != "sent"]
                for r in failed:
                    log.warning("report %s %s to %s: %s %s", hotline.id, year, r.recipient, r.outcome, r.error)
                if len(failed) < len(results):
                    mailed = clock.now()
        with write_session(engine) as s:
            row = runs.report_run(s, hotline.id, year)
            row.files = "\n".join(str(p) for p in files)
            row.mailed_at = mailed
        done.append(hotline.id)
        log.info("report %s %s drafted: %s", hotline.id, year, ", ".join(p.name for p in files))
    return done


def report_job(engine: "Engine", settings: "Settings", catalogues: "CatalogueSet", clock: "Clock") -> "JobSpec":
    from hotline_kpi.schedule import JobSpec

    return JobSpec(REPORT_DRAFT, lambda: draft_previous_year(engine, settings, catalogues, clock),
                   draft_trigger(settings), catch_up=True)
