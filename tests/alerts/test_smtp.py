"""The SMTP transport against real servers on loopback: TLS, login, timeouts, refusals.

STARTTLS and implicit TLS use a throwaway self-signed certificate made with the openssl
command line for 127.0.0.1; the client trusts it through ``smtp.ca_file`` exactly as it
would trust a private relay's CA.
"""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from hotline_kpi.alerts.smtp import SmtpTransport, build_message
from hotline_kpi.settings import SmtpSettings
from tests.alerts.conftest import DIRECTOR, OFFICE, SmtpServer, local
from tests.processes import free_port

SECRET = "pä$$-wörd-never-logged"  # non-ASCII: sent as UTF-8 AUTH PLAIN (smtplib itself cannot)
ASCII_SECRET = "plain-ascii-secret"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return ctx


def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"kpi" and \
        auth_data.password in (SECRET.encode(), ASCII_SECRET.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535 itself


def message():  # noqa: ANN201
    return build_message(subject="[12345 KPI][测试] 测试", text="正文", html="<p>正文</p>",
                         sender="kpi@hotline.example", to=[OFFICE, DIRECTOR], message_id="<t.1@hotline.example>",
                         date=local(2019, 6, 10))


def transport(port: int, **kw) -> SmtpTransport:  # noqa: ANN003
    return SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, timeout_seconds=5,
                                      from_address="kpi@hotline.example", **kw))


# The implicit-TLS server requires AUTH without STARTTLS: aiosmtpd warns, not knowing the
# whole session is TLS from the first byte.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture
def tls_servers(certificate: tuple[Path, Path]) -> Iterator[tuple[SmtpServer, SmtpServer]]:
    ctx = server_context(certificate)
    starttls = SmtpServer(free_port(), tls_context=ctx, require_starttls=True, authenticator=authenticator,
                          auth_required=True).start()
    implicit = SmtpServer(free_port(), ssl_context=ctx, authenticator=authenticator, auth_required=True,
                          auth_require_tls=False).start()
    try:
        yield starttls, implicit
    finally:
        starttls.stop()
        implicit.stop()


def test_starttls_and_implicit_tls_with_login_deliver_and_never_show_the_password(
        tls_servers, certificate, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    starttls, implicit = tls_servers
    for server, security in ((starttls, "starttls"), (implicit, "tls")):
        t = transport(server.port, security=security, username="kpi", password=SECRET, ca_file=certificate[0])
        results = t.send(message(), "kpi@hotline.example", [OFFICE, DIRECTOR])
        assert [r.outcome for r in results] == ["sent", "sent"], results
        assert len(server.messages) == 1
        assert SECRET not in repr(t.settings) and SECRET not in t.describe()
    ascii_only = transport(starttls.port, security="starttls", username="kpi", password=ASCII_SECRET,
                           ca_file=certificate[0])  # smtplib's own login
    assert [r.outcome for r in ascii_only.send(message(), "kpi@hotline.example", [OFFICE])] == ["sent"]
    assert len(starttls.messages) == 2
    wrong = transport(starttls.port, security="starttls", username="kpi", password="nope", ca_file=certificate[0])
    results = wrong.send(message(), "kpi@hotline.example", [OFFICE])
    assert results[0].outcome == "transient" and results[0].code == 535  # fixed by the operator, then retried
    assert len(starttls.messages) == 2
    for secret in (SECRET, ASCII_SECRET, "nope"):
        assert secret not in caplog.text


def test_an_untrusted_certificate_is_a_transient_failure(tls_servers):
    starttls, _ = tls_servers
    [r] = transport(starttls.port, security="starttls").send(message(), "kpi@hotline.example", [OFFICE])
    assert r.outcome == "transient" and "CERTIFICATE_VERIFY_FAILED" in r.error
    assert starttls.messages == []


class SilentServer:
    """Accepts TCP connections and then says nothing (or hangs up): a stuck relay."""

    def __init__(self, hang_up: bool):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang_up:
                conn.sendall(b"220 hello\r\n")
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.mark.parametrize("hang_up", [False, True], ids=["timeout", "disconnect"])
def test_timeouts_and_disconnects_are_transient(hang_up: bool):
    server = SilentServer(hang_up)
    try:
        t = SmtpTransport(SmtpSettings(host="127.0.0.1", port=server.port, security="none", timeout_seconds=0.5))
        [r] = t.send(message(), "kpi@hotline.example", [OFFICE])
        assert r.outcome == "transient"
        assert ("timed out" in r.error) if not hang_up else ("Disconnected" in r.error or "closed" in r.error)
    finally:
        server.close()


def test_replies_to_rcpt_and_data_are_classified_by_code(smtp_server: SmtpServer):
    t = transport(smtp_server.port, security="none")
    smtp_server.handler.rcpt_replies[OFFICE] = "550 5.1.1 unknown"
    smtp_server.handler.rcpt_replies[DIRECTOR] = "452 4.2.2 mailbox full"
    results = t.send(message(), "kpi@hotline.example", [OFFICE, DIRECTOR])
    assert [(r.outcome, r.code) for r in results] == [("permanent", 550), ("transient", 452)]
    assert smtp_server.messages == []

    async def refuse_data(server, session, envelope):  # noqa: ANN001, ANN202
        return "554 5.7.1 message refused"

    smtp_server.handler.rcpt_replies.clear()
    smtp_server.handler.handle_DATA = refuse_data  # type: ignore[method-assign]
    results = t.send(message(), "kpi@hotline.example", [OFFICE, DIRECTOR])
    assert {(r.outcome, r.code) for r in results} == {("permanent", 554)}

    async def busy(server, session, envelope):  # noqa: ANN001, ANN202
        return "451 4.3.0 try again later"

    smtp_server.handler.handle_DATA = busy  # type: ignore[method-assign]
    results = t.send(message(), "kpi@hotline.example", [OFFICE])
    assert [(r.outcome, r.code) for r in results] == [("transient", 451)]


def test_a_refused_connection_is_transient():
    port = free_port()  # nothing listens there
    [r] = transport(port, security="none").send(message(), "kpi@hotline.example", [OFFICE])
    assert r.outcome == "transient" and "refused" in r.error.lower()
