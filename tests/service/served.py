"""The status page of an in-process ``Service``, served by uvicorn in a thread on a free
loopback port, for the Chromium layout tests (tests/service/test_*_layouts.py)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import uvicorn

from hotline_kpi.service.web import build_app
from tests.processes import free_port


@contextmanager
def serving(svc: Any, settings: Any, catalogues: Any, engine: Any, **app: Any) -> Iterator[str]:
    """Yields the page's URL once the server answers; then stops the server, the service
    and the engine. ``app`` goes to ``build_app`` (e.g. ``league=svc.league``)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(svc.cache, settings, catalogues, svc.clock.now, svc.state, **app),
                                           host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the in-process server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        svc.stop()
        engine.dispose()
