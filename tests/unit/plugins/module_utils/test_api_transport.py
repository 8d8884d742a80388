# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's requests against a tiny misbehaving HTTP server on 127.0.0.1 (issue 22): a wall-clock deadline on
every reply (its status line and headers, its TLS handshake and its body), listing_timeout over a request in flight,
the 16 MiB reply cap, an empty 200 retried, a connection broken mid-body. Each case runs with urllib3's read1 and, for
urllib3 1.26 (which has none), without it."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.response

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.transport import MAX_REPLY_BYTES
from ansible_collections.vobiz.sip.tests.harness import hang_guard

TOKEN = "transport-token-41c7e2"
PAGE = json.dumps({"meta": {"total_count": 1, "limit": 100, "offset": 0}, "objects": [{"endpoint_id": "1"}]}).encode()


class Server:
    """A ThreadingHTTPServer whose GET answers are `self.answer(handler, request number)`."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # pylint: disable=invalid-name
                outer.requests += 1
                try:
                    outer.answer(self, outer.requests)
                except OSError:
                    self.close_connection = True  # the client hung up, as it should

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["read1", "urllib3-1.26"])
def serve(request, monkeypatch):
    if request.param != "read1":
        monkeypatch.delattr(urllib3.response.HTTPResponse, "read1")  # what urllib3 1.26 offers
        monkeypatch.delattr(urllib3.response.BaseHTTPResponse, "read1")
    servers = []

    def start(answer):
        servers.append(Server(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def headers(handler, status=200, length=None, extra=()):
    """The status line and headers; a reply that will not be sent whole says Connection: close (the server then hangs up)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    if length is not None:
        handler.send_header("Content-Length", str(length))
    for name, value in extra:
        handler.send_header(name, value)
    handler.end_headers()


def trickle(server):
    def answer(handler, _number):
        headers(handler, length=10000000, extra=[("Connection", "close")])  # below the cap: only time can end it
        while not server[0].stop.is_set():  # a byte every 0.2 s: no socket read ever waits for timeout
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)
    return answer


def trickled_headers(server, honest_from=None):
    """A status line and headers sent a byte every 0.2 s (at most 600 bytes, 2 minutes), ending when the client hangs up;
    from request number `honest_from` on, a whole page at once."""
    def answer(handler, number):
        if honest_from is not None and number >= honest_from:
            headers(handler, length=len(PAGE))
            handler.wfile.write(PAGE)
            return
        handler.close_connection = True
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 500
        for byte in head[:600]:
            if server[0].stop.is_set():
                return
            handler.wfile.write(bytes([byte]))  # an OSError once the client has hung up ends the handler
            handler.wfile.flush()
            time.sleep(0.2)
    return answer


def bounded(call, expected_seconds):
    """call() in a thread; its outcome (VobizError or result), or a failure when it outlives the hang guard."""
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_outcome(call)), daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(hang_guard(expected_seconds))
    assert outcome, "still reading a trickling reply after %.0f s" % (time.monotonic() - started)
    return outcome[0]


def _outcome(call):
    try:
        return call()
    except VobizError as error:
        return error


def client(server, **options):
    options.setdefault("backoff_base", 0)
    return VobizClient("MA_WIRE", TOKEN, api_url=server.url, **options)


TRICKLES = pytest.mark.parametrize("trickling", [trickle, trickled_headers], ids=["body", "status-line-and-headers"])


@TRICKLES
def test_listing_timeout_ends_a_listing_while_a_reply_trickles_in(serve, trickling):
    box = []
    server = serve(trickling(box))
    box.append(server)
    error = bounded(lambda: client(server, timeout=30, listing_timeout=2).list_endpoints(), 2)
    assert isinstance(error, VobizError), error
    assert str(error).startswith("listing GET /api/v1/Account/MA_WIRE/Endpoint/ did not finish within listing_timeout=2s "
                                 "(VOBIZ_LISTING_TIMEOUT)"), error


@TRICKLES
def test_a_single_request_that_trickles_ends_at_its_timeout(serve, trickling):
    box = []
    server = serve(trickling(box))
    box.append(server)
    error = bounded(lambda: client(server, timeout=1, retries=1).get_endpoint("1"), 2 * 1)
    assert isinstance(error, VobizError), error
    assert "GET /api/v1/Account/MA_WIRE/Endpoint/1/ failed after 2 tries: no answer within timeout=1s" in str(error), error
    assert server.requests == 2


def test_a_reply_announced_larger_than_the_cap_is_an_error_naming_the_size_and_is_not_retried(serve):
    def answer(handler, _number):
        headers(handler, length=MAX_REPLY_BYTES + 1, extra=[("Connection", "close")])
        handler.wfile.write(b"[")
    server = serve(answer)
    error = bounded(lambda: client(server, retries=3).list_endpoints(), 1)
    assert isinstance(error, VobizError), error
    assert str(error) == ("GET /api/v1/Account/MA_WIRE/Endpoint/?limit=100&offset=0 failed: the reply is larger than 16 MiB "
                          "(Content-Length: %d). Check api_url points at the Vobiz API; narrow the listing with filters "
                          "if it does" % (MAX_REPLY_BYTES + 1))
    assert server.requests == 1


def test_a_reply_without_length_is_counted_while_read_and_stopped_at_the_cap(serve):
    def answer(handler, _number):
        headers(handler, extra=[("Connection", "close")])  # no length: the body ends when the connection does
        piece = b" " * (1024 * 1024)
        for _megabyte in range(40):
            handler.wfile.write(piece)
    server = serve(answer)
    error = bounded(lambda: client(server, retries=3).list_endpoints(), 2)
    assert isinstance(error, VobizError), error
    assert "failed: the reply is larger than 16 MiB. Check api_url" in str(error), error
    assert server.requests == 1


def test_an_empty_200_is_retried(serve):
    def answer(handler, number):
        body = PAGE if number > 2 else b""
        headers(handler, length=len(body))
        handler.wfile.write(body)
    server = serve(answer)
    records = bounded(lambda: client(server, retries=3).list_endpoints(), 1)
    assert [record["endpoint_id"] for record in records] == ["1"]
    assert server.requests == 3


def test_an_empty_200_after_every_retry_is_the_malformed_reply_error(serve):
    def answer(handler, _number):
        headers(handler, length=0)
    server = serve(answer)
    error = bounded(lambda: client(server, retries=2).list_endpoints(), 1)
    assert isinstance(error, VobizError), error
    assert str(error).startswith("malformed reply from GET /api/v1/Account/MA_WIRE/Endpoint/?limit=100&offset=0 (HTTP 200): "
                                 "empty body, after 3 tries"), error


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_connection_broken_mid_body_is_the_documented_message_after_the_retries(serve, chunked):
    def answer(handler, _number):
        if chunked:
            headers(handler, extra=[("Transfer-Encoding", "chunked"), ("Connection", "close")])
            handler.wfile.write(b"10\r\n" + PAGE[:16] + b"\r\n")
        else:
            headers(handler, length=len(PAGE), extra=[("Connection", "close")])
            handler.wfile.write(PAGE[:20])
        handler.wfile.flush()
    server = serve(answer)
    error = bounded(lambda: client(server, retries=2).list_endpoints(), 1)
    assert isinstance(error, VobizError), error
    assert str(error).startswith("GET /api/v1/Account/MA_WIRE/Endpoint/?limit=100&offset=0 failed after 3 tries: the "
                                 "connection to %s broke before the answer came" % server.url), error
    assert server.requests == 3 and TOKEN not in str(error)


def test_replies_read_whole_keep_the_connection_for_the_next_request(serve):
    ports = []

    def answer(handler, _number):
        ports.append(handler.client_address[1])
        headers(handler, length=len(PAGE))
        handler.wfile.write(PAGE)
    server = serve(answer)
    with client(server, max_concurrency=1) as api:
        for _call in range(3):
            assert api.request("GET", "Endpoint/", params={"limit": 100, "offset": 0}) == json.loads(PAGE)
    assert server.requests == 3 and len(set(ports)) == 1, ports


def test_a_connection_cut_at_the_deadline_is_not_reused(serve):
    box, ports = [], []
    honest = trickled_headers(box, honest_from=2)

    def answer(handler, number):
        ports.append(handler.client_address[1])
        honest(handler, number)
    server = serve(answer)
    box.append(server)
    with client(server, timeout=1, retries=0, max_concurrency=1) as api:
        error = bounded(lambda: api.get_endpoint("1"), 1)
        assert isinstance(error, VobizError) and "no answer within timeout=1s" in str(error), error
        records = bounded(api.list_endpoints, 1)
    assert [record["endpoint_id"] for record in records] == ["1"]
    assert server.requests == 2 and ports[0] != ports[1], ports


def test_a_tls_handshake_that_trickles_ends_at_its_timeout():
    """The server announces a 16 KiB TLS record and sends it a byte every 0.2 s: CPython bounds a whole handshake by the
    socket timeout, which is what is left of the deadline."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle_handshake(connection):
        with connection:
            try:
                connection.recv(4096)  # the ClientHello
                connection.sendall(b"\x16\x03\x03\x40\x00")
                for _byte in range(600):
                    if stop.is_set():
                        return
                    connection.sendall(b"\x00")
                    time.sleep(0.2)
            except OSError:
                pass  # the client hung up, as it should

    def accept():
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle_handshake, args=(connection,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    url = "https://127.0.0.1:%d" % listener.getsockname()[1]
    try:
        error = bounded(lambda: VobizClient("MA_WIRE", TOKEN, api_url=url, timeout=1, retries=0, validate_certs=False,
                                            backoff_base=0).get_endpoint("1"), 1)
    finally:
        stop.set()
        listener.close()
    assert isinstance(error, VobizError), error
    assert "GET /api/v1/Account/MA_WIRE/Endpoint/1/ failed after 1 try: no answer within timeout=1s" in str(error), error
