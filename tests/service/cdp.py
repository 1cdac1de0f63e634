"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ended by NUL on file descriptors 3 and 4), with the standard library only.

What ``--dump-dom`` and ``--screenshot`` cannot do: set the viewport to a phone's width,
then ask the page itself (``document.scrollingElement.scrollWidth``) whether it scrolls
sideways, read the DOM Chromium built, and take the screenshot of that same load.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

TIMEOUT = 60  # seconds for one protocol answer (usually well under a second)


class Browser:
    def __init__(self, chromium: Path, flags: list[str], workdir: Path):
        self.profile = tempfile.mkdtemp(prefix="chromium-cdp-", dir=workdir)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # in the child: the protocol's pipes at 3 (commands) and 4 (answers)
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [str(chromium), *flags, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=fds, close_fds=False,  # 3 and 4 made inheritable by dup2; the rest close on exec
            env={**os.environ, "HOME": self.profile}, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.session: str | None = None

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._id

    def _next(self, deadline: float) -> dict[str, Any]:
        sel = selectors.DefaultSelector()
        sel.register(self._from_child, selectors.EVENT_READ)
        try:
            while b"\0" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise AssertionError(f"chromium did not answer within {TIMEOUT} s")
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise AssertionError(f"chromium closed the pipe: {self.proc.stderr.read()[-2000:]!r}")  # type: ignore[union-attr]
                self._buf += chunk
        finally:
            sel.close()
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = "page") -> dict[str, Any]:
        sid = self.session if session == "page" else session
        want = self._send(method, params, sid)
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self._next(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self._next(deadline)
            if msg.get("method") == method:
                return msg.get("params", {})

    def open(self, url: str, width: int, height: int) -> None:
        """A new tab of ``width`` x ``height`` CSS pixels showing ``url``, loaded."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=None)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=None)[
            "sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            w, h = self.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": max(w, self.evaluate("window.innerWidth")), "height": h,
                              "scale": 1}
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", params)["data"]))

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # this run's processes only
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
