# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client against the official C# SDK's realistic mock-server answers (data/csharp_sdk_endpoint_fixtures.yml),
served byte for byte from 127.0.0.1: the client must keep accepting what another official client was tested on."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError

FIXTURES_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "csharp_sdk_endpoint_fixtures.yml")
AUTH_ID = "MA_XXXXXXXX"
BASE = "/api/v1/Account/%s/Endpoint/" % AUTH_ID
ENDPOINT_ID = "147322537258167"


def load_fixtures():
    with open(FIXTURES_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class ReplayServer(ThreadingHTTPServer):
    """Answers each (method, path) with a fixed status and body; 404 otherwise."""

    daemon_threads = True

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), ReplayHandler)
        self.answers = answers  # {(method, path): (status, body text or None)}
        self.seen = []


class ReplayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        self.server.seen.append((self.command, self.path))
        status, body = self.server.answers.get((self.command, path), (404, '{"error": "not found"}'))
        data = body.encode("utf-8") if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = answer

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@pytest.fixture
def replay():
    servers = []

    def start(answers):
        server = ReplayServer(answers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, VobizClient(AUTH_ID, "fixture-token", api_url="http://127.0.0.1:%d" % server.server_address[1],
                                   retries=0, backoff_base=0.01)
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(fixture):
    return fixture["status"], fixture["body"]


def test_retrieve_fixture_is_one_record(replay):
    _server, client = replay({("GET", BASE + ENDPOINT_ID + "/"): answer(load_fixtures()["retrieve"])})
    record = client.get_endpoint(ENDPOINT_ID)
    assert (record["endpoint_id"], record["username"], record["alias"]) == (ENDPOINT_ID, "acme_sip_user_01", "Acme Desktop Phone")
    assert (record["application_id"], record["sub_account"], record["sip_registered"]) == ("12345678901234567", None, False)
    assert record["allow_voice"] is None  # the compact shape does not report the flags


def test_create_fixture_gives_the_endpoint_id_and_the_kept_username(replay):
    _server, client = replay({("POST", BASE): answer(load_fixtures()["create"])})
    created = client.create_endpoint({"username": "john_doe", "password": "SecurePassword123!", "alias": "John's Desktop Phone",
                                      "application": 12345678})
    assert created == {"alias": "Acme Desktop Phone", "endpoint_id": "193962768711692", "username": "acme_sip_user_01"}


def test_update_fixture_json_string_is_a_success(replay):
    server, client = replay({("POST", BASE + "87654321/"): answer(load_fixtures()["update"])})
    client.update_endpoint("87654321", {"alias": "John's Updated Desktop Phone"})
    assert server.seen == [("POST", BASE + "87654321/")]


@pytest.mark.parametrize("status, body", [(200, '"string"'), (204, None)], ids=["fixture-200", "prose-204"])
def test_delete_200_and_204_are_both_a_deletion(replay, status, body):
    fixture = load_fixtures()["delete"]
    if status == 200:
        assert (fixture["status"], fixture["body"]) == (status, body)
    _server, client = replay({("DELETE", BASE + "87654321/"): (status, body)})
    assert client.delete_endpoint("87654321") is True


def test_list_fixture_records_are_accepted_once_total_count_matches_them(replay):
    page = json.loads(load_fixtures()["list"]["body"])
    page["meta"]["total_count"] = 2  # the only change: the fixture's page says 4 but ends the list
    server, client = replay({("GET", BASE): (200, json.dumps(page))})
    records = client.list_endpoints()
    assert [(record["endpoint_id"], record["application_id"], record["sub_account"]) for record in records] == [
        ("147322537258167", "12345678901234567", None), ("125649946800674", None, None)]
    assert len(server.seen) == 1


def test_list_fixture_as_served_is_one_clear_error_not_half_a_listing(replay):
    # 2 objects on a short page whose total_count says 4: the client must not return the 2 as the whole list.
    server, client = replay({("GET", BASE): answer(load_fixtures()["list"])})
    with pytest.raises(VobizError, match="total_count"):
        client.list_endpoints()
    assert 4 <= len(server.seen) <= 20  # walked again, 4 walks at most (docs/design.md), never endlessly
