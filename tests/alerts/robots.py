"""A local HTTP server that STANDS IN FOR the WeCom and DingTalk group-robot APIs.

qyapi.weixin.qq.com and oapi.dingtalk.com cannot be reached from the test machines. This
server answers as their published APIs do: HTTP 200 with ``{"errcode": 0, "errmsg":
"ok"}``; ``errcode`` 93000 for a wrong WeCom ``key``; 310000 for a wrong DingTalk
``access_token``, a ``timestamp`` more than an hour off or a ``sign`` that is not
base64(HMAC-SHA256(secret, "timestamp\\nsecret")); 40008 for a message that is not
``text``. ``script`` queues other answers (45009 / 130101 rate limits, 5xx); ``stop()``
closes the port (connections refused) and ``start()`` reopens it on the same port.
``delay`` (seconds) holds each answer back AFTER the message was taken (a slow robot: the
group already shows it while the sender waits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY, TOKEN, SECRET = "wecom-key-1", "ding-token-1", "SEC0123456789abcdef"
WECOM_PATH, DINGTALK_PATH = "/cgi-bin/webhook/send", "/robot/send"


class RobotServer:
    """Stands in for the WeCom and DingTalk robot APIs (see the module doc)."""

    def __init__(self, now_ms: Any) -> None:
        self.now_ms = now_ms
        self.received: list[tuple[str, dict[str, Any]]] = []  # (robot, JSON body)
        self.script: list[tuple[int, dict[str, Any]]] = []  # answers to give before the normal one
        self.lock = threading.Lock()
        self.delay = 0.0
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    def start(self) -> None:
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = robot.answer(url.path, q, body)
                time.sleep(robot.delay)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def answer(self, path: str, q: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.script:
                return self.script.pop(0)
            if path == WECOM_PATH:
                if q.get("key") != KEY:
                    return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
                robot = "wecom"
            elif path == DINGTALK_PATH:
                ts = int(q.get("timestamp", "0"))
                want = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(),
                                                 hashlib.sha256).digest()).decode()
                if q.get("access_token") != TOKEN or q.get("sign") != want or abs(self.now_ms() - ts) > 3_600_000:
                    return 200, {"errcode": 310000, "errmsg": "sign not match"}
                robot = "dingtalk"
            else:
                return 404, {"errcode": 404, "errmsg": "not found"}
            if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
                return 200, {"errcode": 40008, "errmsg": "invalid message type"}
            self.received.append((robot, body))
            return 200, {"errcode": 0, "errmsg": "ok"}

    def to(self, robot: str) -> list[str]:
        with self.lock:
            return [b["text"]["content"] for r, b in self.received if r == robot]
