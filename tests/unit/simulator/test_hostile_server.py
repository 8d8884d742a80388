# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hostile stand-in API of tests/integration/hostile_server.py serves each mode as its docstring says, and stops.

Over real HTTP with plain requests, not the collection's client: these check the fixture, so that
tests/integration/test_hostile_server.py tests the client against what it means to.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

from ansible_collections.vobiz.sip.tests.integration.hostile_server import (
    DUPLICATE_AT, DUPLICATE_OF, HUGE_CONTENT_LENGTH, STOP_SECONDS, TRICKLE_CONTENT_LENGTH, TRICKLE_HUGE_CONTENT_LENGTH, HostileServer,
)

AUTH_ID, TOKEN = "MA_HOSTILE1", "hostile-token"
HEADERS = {"X-Auth-ID": AUTH_ID, "X-Auth-Token": TOKEN}
# Every request here is answered at once or streamed; a read that takes longer than this is a hang.
READ_TIMEOUT = 30


def endpoints_url(server, **query):
    return "%s/api/v1/Account/%s/Endpoint/" % (server.url, AUTH_ID), query


def get_page(server, limit, offset):
    url, params = endpoints_url(server, limit=limit, offset=offset)
    response = requests.get(url, params=params, headers=HEADERS, timeout=READ_TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def stop_bounded(server):
    started = time.monotonic()
    assert server.stop(), "handler threads still running after %s s" % STOP_SECONDS
    assert server.active_handlers() == 0
    return time.monotonic() - started


def test_honest_pages_are_the_account_and_requests_are_recorded():
    with HostileServer("honest", AUTH_ID, TOKEN, size=250) as server:
        pages = [get_page(server, 100, offset) for offset in (0, 99, 198)]
        applications = requests.get("%s/api/v1/Account/%s/Application/" % (server.url, AUTH_ID), headers=HEADERS,
                                    timeout=READ_TIMEOUT).json()
    assert [page["meta"]["total_count"] for page in pages] == [250] * 3
    assert [len(page["objects"]) for page in pages] == [100, 100, 52]
    served = [record for page in pages for record in page["objects"]]
    assert {record["endpoint_id"] for record in served} == {record["endpoint_id"] for record in server.endpoints}
    assert set(served[0]) == {"alias", "application", "endpoint_id", "resource_uri", "sip_registered", "sip_uri",
                              "sub_account", "username"}
    assert applications["objects"] == [] and applications["meta"]["total_count"] == 0
    assert [(request["method"], request["query"].get("offset"), request["status"]) for request in server.endpoint_requests()] == \
        [("GET", "0", 200), ("GET", "99", 200), ("GET", "198", 200)]
    assert len(server.requests) == 4


@pytest.mark.parametrize("headers", [{}, {"X-Auth-ID": AUTH_ID, "X-Auth-Token": "wrong"}, {"X-Auth-ID": "MA_OTHER", "X-Auth-Token": TOKEN}])
def test_credentials_are_checked_like_the_api(headers):
    with HostileServer("honest", AUTH_ID, TOKEN) as server:
        url, params = endpoints_url(server, limit=10)
        response = requests.get(url, params=params, headers=headers, timeout=READ_TIMEOUT)
    assert response.status_code == 401
    assert server.requests[0]["status"] == 401


def test_duplicate_id_serves_one_endpoint_id_on_two_pages():
    with HostileServer("duplicate_id", AUTH_ID, TOKEN, size=250) as server:
        first, second = get_page(server, 100, 0), get_page(server, 100, 99)
    assert first["meta"]["total_count"] == second["meta"]["total_count"] == 250
    assert second["objects"][DUPLICATE_AT - 99]["endpoint_id"] == first["objects"][DUPLICATE_OF]["endpoint_id"]
    assert second["objects"][DUPLICATE_AT - 99]["username"] != first["objects"][DUPLICATE_OF]["username"]
    assert len(set(record["endpoint_id"] for record in server.endpoints)) == 250, "the account itself has no duplicate"


def test_short_total_reports_100_and_serves_the_whole_account():
    with HostileServer("short_total", AUTH_ID, TOKEN, size=250) as server:
        first, overlap = get_page(server, 100, 0), get_page(server, 100, 99)
    assert first["meta"]["total_count"] == overlap["meta"]["total_count"] == 100
    assert len(first["objects"]) == 100, "the first page is full and ends exactly at total_count"
    assert len(overlap["objects"]) == 100 and overlap["objects"][0] == first["objects"][-1]


def test_empty_200_has_no_body():
    with HostileServer("empty_200", AUTH_ID, TOKEN) as server:
        url, params = endpoints_url(server, limit=100, offset=0)
        response = requests.get(url, params=params, headers=HEADERS, timeout=READ_TIMEOUT)
    assert response.status_code == 200 and response.content == b""


def test_cut_body_closes_the_connection_mid_body():
    with HostileServer("cut_body", AUTH_ID, TOKEN) as server:
        url, params = endpoints_url(server, limit=100, offset=0)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url, params=params, headers=HEADERS, timeout=READ_TIMEOUT)


@pytest.mark.parametrize("mode, length", [("trickle", TRICKLE_CONTENT_LENGTH), ("trickle_huge", TRICKLE_HUGE_CONTENT_LENGTH)])
def test_trickle_promises_a_length_sends_a_byte_a_second_and_stops_with_the_server(mode, length):
    server = HostileServer(mode, AUTH_ID, TOKEN).__enter__()
    try:
        url, params = endpoints_url(server, limit=100, offset=0)
        response = requests.get(url, params=params, headers=HEADERS, timeout=READ_TIMEOUT, stream=True)
        assert int(response.headers["Content-Length"]) == length
        started = time.monotonic()
        received = response.raw.read(2)
        assert received == b'{"', received
        assert time.monotonic() - started >= 0.5, "the second byte came at once: no trickle"
        assert server.active_handlers() == 1
    finally:
        # The client is still connected and reading: stopping the server must still end the trickle at once.
        stop_bounded(server)
    response.close()


@pytest.mark.parametrize("mode", ["huge", "huge_chunked"])
def test_huge_streams_far_past_16_mib_and_stops_when_the_client_goes(mode):
    with HostileServer(mode, AUTH_ID, TOKEN) as server:
        url, params = endpoints_url(server, limit=100, offset=0)
        response = requests.get(url, params=params, headers=HEADERS, timeout=READ_TIMEOUT, stream=True)
        if mode == "huge":
            assert int(response.headers["Content-Length"]) == HUGE_CONTENT_LENGTH
        else:
            assert "Content-Length" not in response.headers and response.headers["Transfer-Encoding"] == "chunked"
        read = 0
        for chunk in response.iter_content(1024 * 1024):
            read += len(chunk)
            if read > 17 * 1024 * 1024:
                break
        response.close()  # the client goes away: the handler ends without waiting for stop()
        deadline = time.monotonic() + STOP_SECONDS
        while server.active_handlers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.active_handlers() == 0
    assert read > 16 * 1024 * 1024


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown mode 'sneaky'"):
        HostileServer("sneaky", AUTH_ID, TOKEN)


def test_a_trickle_the_client_waits_out_is_counted_and_closed():
    with HostileServer("trickle", AUTH_ID, TOKEN, trickle_seconds=1) as server:
        url, params = endpoints_url(server, limit=100, offset=0)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url, params=params, headers=HEADERS, timeout=READ_TIMEOUT)
        assert server.trickles_outlasted == 1


def test_trickle_headers_never_ends_the_headers():
    with HostileServer("trickle_headers", AUTH_ID, TOKEN) as server:
        with socket.create_connection(server.address, timeout=READ_TIMEOUT) as sock:
            sock.sendall(("GET /api/v1/Account/%s/Endpoint/?limit=100&offset=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n\r\n" % (AUTH_ID, AUTH_ID, TOKEN)).encode())
            received = b""
            while b"X-Sl" not in received:  # the header's first bytes come a second apart
                received += sock.recv(100)
        assert received.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Sl"), received
        assert b"\r\n\r\n" not in received
