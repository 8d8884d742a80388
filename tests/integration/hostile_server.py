# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hostile but plausible stand-in for the Vobiz API: what real servers and proxies do wrong (issue 22).

Not the project's simulator (tests/simulator/), which is faithful: this server holds one account of generated
endpoints in the compact shape and misbehaves in one way, its mode:

- honest: a control, the account as it is.
- duplicate_id: the record at index 149 carries the endpoint_id of the record at index 9 (a Tastypie-style API
  over an unstable sort serves one id on two pages); total_count stays the account's size.
- short_total: total_count says 100 while the account holds more; the pages are served honestly from the
  whole account, so the first page is full and ends exactly at the total_count it reports.
- trickle: Content-Length 1,000,000 (below the client's 16 MiB cap, so only a deadline can end it), then one byte
  a second, for `trickle_seconds` at most: a trickle that runs that long is counted in `trickles_outlasted` (its
  client hung), and the connection closes.
- trickle_huge: the same with the issue's Content-Length of 100,000,000 (above the cap).
- trickle_headers: the status line, then a header one byte a second (the reply's headers never end).
- huge: Content-Length 200,000,000 and junk streamed as fast as the client reads it.
- huge_chunked: the same without a Content-Length (chunked), so only counting while reading sees the size.
- empty_200: an empty body with HTTP 200.
- cut_body: the connection is closed halfway through the body.

Every request to an Endpoint path (list or one endpoint) misbehaves; the Application list is always honest (and
empty). Like the API it checks X-Auth-ID / X-Auth-Token (401 otherwise), and it records every request
(`requests`: method, path, query, status) so that tests can count them. It listens on 127.0.0.1 only.

Bounded: a trickle ends after `trickle_seconds` (a hang guard of its own), a huge reply after HUGE_BYTES_AT_MOST,
either of them as soon as the client goes away, and stop() (the end of the `with` block) ends every connection
and waits at most STOP_SECONDS for the handler threads.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MODES = ("honest", "duplicate_id", "short_total", "trickle", "trickle_huge", "trickle_headers", "huge", "huge_chunked", "empty_200",
         "cut_body")
FIRST_ENDPOINT_ID = 700000000000001
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
DUPLICATE_AT, DUPLICATE_OF = 149, 9  # "record 150 carries record 10's endpoint_id"
SHORT_TOTAL = 100
TRICKLE_CONTENT_LENGTH = 1_000_000
TRICKLE_HUGE_CONTENT_LENGTH = 100_000_000
# The default `trickle_seconds`: a client that has not given up on a trickle after this long is hung (the issue's
# case ends within listing_timeout plus a few seconds). Tests pass a hang guard (tests/harness.py) of their case.
TRICKLE_SECONDS = 120.0
HUGE_CONTENT_LENGTH = 200_000_000
# Twice the client's cap (16 MiB): enough for a client that counts while reading to see the size, and a bound for
# one that does not (it then sees the connection end early).
HUGE_BYTES_AT_MOST = 32 * 1024 * 1024
HUGE_CHUNK = 64 * 1024
STOP_SECONDS = 10.0
# A connection whose client neither sends nor reads for this long is dropped (a backstop: stop() ends them all).
SOCKET_TIMEOUT = 30.0


def compact_endpoint(auth_id, index):
    """One endpoint in the compact (Plivo-style) shape, without application or sub-account."""
    endpoint_id = str(FIRST_ENDPOINT_ID + index)
    username = "hostile%04d" % index
    return {
        "alias": "Hostile Phone %d" % index,
        "application": None,
        "endpoint_id": endpoint_id,
        "resource_uri": "/v1/Account/%s/Endpoint/%s/" % (auth_id, endpoint_id),
        "sip_registered": "false",
        "sip_uri": "sip:%s@registrar.vobiz.ai" % username,
        "sub_account": None,
        "username": username,
    }


class HostileServer:
    """`with HostileServer(mode, auth_id, auth_token) as server:` serves at server.url until the block ends."""

    def __init__(self, mode, auth_id, auth_token, size=250, trickle_seconds=TRICKLE_SECONDS):
        if mode not in MODES:
            raise ValueError("unknown mode %r; modes: %s" % (mode, ", ".join(MODES)))
        self.mode = mode
        self.trickle_seconds = trickle_seconds
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.endpoints = [compact_endpoint(auth_id, index) for index in range(size)]  # the account as it truly is
        self.served = [dict(endpoint) for endpoint in self.endpoints]  # what the listing pages are cut from
        if mode == "duplicate_id":
            self.served[DUPLICATE_AT]["endpoint_id"] = self.endpoints[DUPLICATE_OF]["endpoint_id"]
        self.requests = []
        self.trickles_outlasted = 0  # trickles that ran for trickle_seconds, their client still waiting
        self.url = self.address = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections = set()
        self._handlers_done = threading.Condition(self._lock)
        self._handlers = 0
        self._httpd = None
        self._thread = None

    # ---- life cycle

    def __enter__(self):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.address = self._httpd.server_address
        self.url = "http://127.0.0.1:%d" % self.address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        """End serving and every open connection; True when every handler thread ended within STOP_SECONDS."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(STOP_SECONDS)
        with self._lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)  # a handler blocked reading or writing wakes up at once
                except OSError:
                    pass
            deadline = time.monotonic() + STOP_SECONDS
            while self._handlers and time.monotonic() < deadline:
                self._handlers_done.wait(deadline - time.monotonic())
            return self._handlers == 0

    def active_handlers(self):
        with self._lock:
            return self._handlers

    # ---- what the tests read

    def endpoint_requests(self):
        """The requests to Endpoint paths (listing pages and single endpoints), in the order they came."""
        with self._lock:
            return [request for request in self.requests if "/Endpoint/" in request["path"]]

    def _track(self, connection, opened):
        with self._lock:
            if opened:
                self._connections.add(connection)
                self._handlers += 1
            else:
                self._connections.discard(connection)
                self._handlers -= 1
                self._handlers_done.notify_all()

    def _record(self, handler, path, query, status):
        with self._lock:
            self.requests.append({"method": handler.command, "path": path, "query": query, "status": status})

    # ---- answers

    def answer(self, handler):
        parts = urlsplit(handler.path)
        path, query = parts.path, dict(parse_qsl(parts.query))
        prefix = "/api/v1/Account/%s/" % self.auth_id
        if handler.command != "GET":
            handler.close_connection = True  # a request body is never read, so the connection cannot go on
        if not path.startswith("/api/v1/Account/"):
            return self._json(handler, path, query, 404, {"error": "not found"})
        if not path.startswith(prefix) or handler.headers.get("X-Auth-ID") != self.auth_id \
                or handler.headers.get("X-Auth-Token") != self.auth_token:
            return self._json(handler, path, query, 401, {"error": "authentication failed"})
        resource = path[len(prefix):]
        if handler.command != "GET":
            return self._json(handler, path, query, 405, {"error": "method not allowed"})
        if resource == "Application/":
            return self._json(handler, path, query, 200, self._page("Application", query, [], 0))
        if resource == "Endpoint/" or (resource.startswith("Endpoint/") and resource.count("/") == 2):
            return self._endpoint(handler, path, query, resource)
        return self._json(handler, path, query, 404, {"error": "not found"})

    def _endpoint(self, handler, path, query, resource):
        if self.mode in ("trickle", "trickle_huge", "trickle_headers"):
            return self._trickle(handler, path, query)
        if self.mode in ("huge", "huge_chunked"):
            return self._huge(handler, path, query)
        if self.mode == "empty_200":
            return self._send(handler, path, query, 200, b"")
        if resource == "Endpoint/":
            limit = min(_number(query.get("limit"), DEFAULT_LIMIT), MAX_LIMIT)
            offset = _number(query.get("offset"), 0)
            total = SHORT_TOTAL if self.mode == "short_total" else len(self.served)
            body = self._page("Endpoint", query, self.served[offset:offset + limit], total, limit, offset)
        else:
            wanted = resource.split("/")[1]
            body = next((dict(endpoint, api_id=str(uuid.uuid4())) for endpoint in self.served if endpoint["endpoint_id"] == wanted), None)
            if body is None:
                return self._json(handler, path, query, 404, {"error": "Endpoint not found", "endpoint_id": wanted})
        if self.mode == "cut_body":
            return self._cut(handler, path, query, json.dumps(body).encode())
        return self._json(handler, path, query, 200, body)

    def _page(self, resource, query, objects, total, limit=None, offset=0):
        limit = limit or min(_number(query.get("limit"), DEFAULT_LIMIT), MAX_LIMIT)
        base = "/v1/Account/%s/%s/" % (self.auth_id, resource)
        return {
            "api_id": str(uuid.uuid4()),
            "meta": {
                "limit": limit, "offset": offset, "total_count": total,
                "next": "%s?limit=%d&offset=%d" % (base, limit, offset + limit) if offset + limit < total else None,
                "previous": "%s?limit=%d&offset=%d" % (base, limit, max(offset - limit, 0)) if offset else None,
            },
            "objects": objects,
        }

    def _json(self, handler, path, query, status, body):
        return self._send(handler, path, query, status, json.dumps(body).encode())

    def _send(self, handler, path, query, status, payload):
        self._record(handler, path, query, status)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _cut(self, handler, path, query, payload):
        """The headers promise the whole body; half of it comes, then the connection closes."""
        self._record(handler, path, query, 200)
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload[:len(payload) // 2])
        handler.wfile.flush()

    def _trickle(self, handler, path, query):
        """A Content-Length, then the body one byte a second; trickle_headers: the headers one byte a second."""
        self._record(handler, path, query, 200)
        handler.close_connection = True
        if self.mode == "trickle_headers":
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            return self._drip(handler, b"X-Slow: ", b"a")
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        length = TRICKLE_HUGE_CONTENT_LENGTH if self.mode == "trickle_huge" else TRICKLE_CONTENT_LENGTH
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        return self._drip(handler, b'{"meta": ', b" ")

    def _drip(self, handler, start, filler):
        """`start`, then `filler`, one byte a second, until the client goes, stop() or trickle_seconds."""
        deadline = time.monotonic() + self.trickle_seconds
        sent = 0
        while not self._stopping.is_set():
            if time.monotonic() >= deadline:
                with self._lock:
                    self.trickles_outlasted += 1  # the client never gave up: the server had to
                return
            try:
                handler.wfile.write(start[sent:sent + 1] or filler)
            except OSError:
                return  # the client went away
            sent += 1
            self._stopping.wait(1.0)

    def _huge(self, handler, path, query):
        """A reply far above 16 MiB: records streamed until the client stops reading, stop() or HUGE_BYTES_AT_MOST."""
        self._record(handler, path, query, 200)
        handler.close_connection = True
        chunked = self.mode == "huge_chunked"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(HUGE_CONTENT_LENGTH))
        handler.end_headers()
        record = json.dumps(self.served[0]).encode() + b","
        block = b'{"meta": {"limit": 100, "offset": 0, "total_count": %d}, "objects": [' % len(self.served)
        block += record * ((HUGE_CHUNK - len(block)) // len(record))
        filler = record * (HUGE_CHUNK // len(record))
        sent = 0
        while sent < HUGE_BYTES_AT_MOST and not self._stopping.is_set():
            try:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            except OSError:
                return  # the client went away (or stopped reading for SOCKET_TIMEOUT)
            sent += len(block)
            block = filler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the API behind its load balancer
    server_version = "hostile/1"
    timeout = SOCKET_TIMEOUT

    def setup(self):
        super().setup()
        self.server.owner._track(self.connection, True)  # pylint: disable=protected-access

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the client is gone; nothing left to flush to
        finally:
            self.server.owner._track(self.connection, False)  # pylint: disable=protected-access

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.owner.answer(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass  # quiet: the tests read `requests`


def _number(text, default):
    try:
        return max(0, int(text))
    except (TypeError, ValueError):
        return default
