"""``hotline-kpi serve``: the monitoring service (uvicorn, imported when it runs)."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import sys

import click

from hotline_kpi.i18n import M_, _, q
from hotline_kpi.cli.app import App, Failure, pass_app

#: How often a thread doing Python work hands the interpreter over (CPython's default: 5 ms).
SWITCH_INTERVAL_SECONDS = 0.001


def _uvicorn_server_class():  # noqa: ANN202 - imported lazily with uvicorn
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises a captured SIGTERM after it stops, which would kill the process
        before the scheduler stops and the lease is released; our own handlers (set in
        ``serve``) ask it to exit instead and the clean stop runs."""

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            yield

    return Server


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the service does anything (no lease, no inbox scan,
    no mail) so that a port in use stops it at once; uvicorn serves on this socket."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise Failure(_("could not listen on {host}:{port}: {error}", host=host, port=port, error=_why(exc))) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise Failure(_("could not listen on {host}:{port}: {error}", host=host, port=port, error=_why(exc))) from None
    sock.set_inheritable(True)
    return sock


def _why(exc: OSError) -> str:
    """Why the port cannot be used, in the language (the system's own text quoted otherwise)."""
    known = {errno.EADDRINUSE: M_("the port is in use by another program"),
             errno.EACCES: M_("no permission to use this port"),
             errno.EADDRNOTAVAIL: M_("this machine has no such address")}
    why = known.get(exc.errno or 0)
    said = q(exc.strerror or exc)  # the system's own words too: what a search for the error finds
    return _("{why} ({error})", why=why, error=said) if why is not None else str(said)


@click.command()
@click.option("--host", default=None, help="Bind address (default: the service.host setting, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="HTTP port (default: the service.port setting, 9105).")
@click.option("--log-level", default="INFO", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              help="Least severe log messages written (DEBUG shows the most).")
@pass_app
def serve(app: App, host: str | None, port: int | None, log_level: str) -> None:
    """Run the monitoring service: scheduler, inbox, /metrics, API and status page.

    Stops cleanly on SIGTERM or SIGINT (a running job finishes first).
    """
    import uvicorn

    from hotline_kpi.service import logs

    _Server = _uvicorn_server_class()
    from hotline_kpi.service.runtime import Service, on_ready_message
    from hotline_kpi.service.web import build_app

    settings = app.settings
    from hotline_kpi.service.catalogues import LiveCatalogues

    # Followed while serving: a catalogue added later is loaded when a snapshot names it.
    catalogues = LiveCatalogues(settings.targets_dir, app.catalogues)
    app.require_schema()
    logs.configure(log_level)
    host = host or settings.service.host
    port = port or settings.service.port
    sock = _bind(host, port)
    from hotline_kpi.alerts.rules import RulesError

    try:
        service = Service(settings, catalogues, app.engine, app.clock)
        service.cache.heap_upkeep = True  # collections kept off the request path (service/heap.py)
    except RulesError as exc:
        sock.close()
        raise Failure(str(exc)) from None
    # A thread doing Python work (a refresh, an evaluation) hands the interpreter to a waiting
    # request every 1 ms instead of 5 ms: each of a request's I/O steps waits for it once
    # (docs/performance.md: a round trip beside a busy thread, p99 40-72 ms at 5 ms, 3-18 ms at 1 ms).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    web = build_app(service.cache, settings, catalogues, app.clock.now, service.state,
                    rules=service.alerting.config if service.alerting is not None else None, league=service.league)
    service.coordinate_once()  # lease, scheduler and a first metrics snapshot before the first answer
    service.start()
    server = _Server(uvicorn.Config(web, host=host, port=port, log_config=None, access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=10))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: setattr(server, "should_exit", True))
    click.echo(on_ready_message(host, port)(), err=True)
    click.echo(_("inbox: {inbox} (scanned every {seconds:g} s); database: {url}", inbox=settings.inbox_dir.resolve(),
                 seconds=settings.service.inbox_scan_seconds, url=app.engine.url.render_as_string(hide_password=True)),
               err=True)
    logs.started(host, port)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        logs.stopping()
        service.stop()
        app.engine.dispose()
        logs.stopped()
    if not server.started:
        raise Failure(_("could not listen on {host}:{port} (in use?)", host=host, port=port))
