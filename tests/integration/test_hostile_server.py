# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Never silently wrong, never hung: the real ansible-inventory and endpoint_info against a hostile server (issue 22).

tests/integration/hostile_server.py misbehaves the way real servers and proxies do (one endpoint_id on two pages,
a total_count that lies on a page boundary, a trickle, a huge reply, an empty 200, a connection cut mid-body).
Each mode must end with a non-zero exit and one readable error (no traceback, no token, no inventory printed, no
endpoint list returned); the honest control must give the account exactly. Filter values that are not single
values (a list, a dict, null) must be refused before any listing, by the inventory, endpoint_info and the event
source. Time bounds are hang guards (tests/harness.py), never speed checks; run with -s to see each run's time.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml

from ansible_collections.vobiz.sip.tests.harness import hang_guard
from ansible_collections.vobiz.sip.tests.integration.conftest import (
    CLI_EXPECTED_SECONDS, SAMPLE_AUTH_ID, SAMPLE_TOKEN, ansible_env, one_line, run_cli, write_config,
)
from ansible_collections.vobiz.sip.tests.integration.hostile_server import HostileServer
from ansible_collections.vobiz.sip.tests.integration.test_event_source import (  # pylint: disable=unused-import
    listings, rulebook_cli, run_until_it_ends,
)
from ansible_collections.vobiz.sip.tests.integration.test_faults import expect_clear_error, expect_no_partial_module_result

ACCOUNT_SIZE = 250
# Short waits where the client retries (backoff 0.5 s then 1 s), so a mode that is retried costs seconds.
TIMEOUT = 5
RETRIES = 2
TRIES = RETRIES + 1
CONNECTION_OPTIONS = {"timeout": TIMEOUT, "retries": RETRIES, "page_size": 100, "max_concurrency": 4}
# The trickle case of the issue: a whole listing must end within listing_timeout plus a few seconds.
LISTING_TIMEOUT = 8
LISTING = r"GET /api/v1/Account/%s/Endpoint/" % SAMPLE_AUTH_ID
FIRST_PAGE = LISTING + r"\?limit=100&offset=0"

# mode -> (extra options, the pinned message (regex, on the output with whitespace runs as one space),
#          the Endpoint requests the failure must have cost (None: not counted), the seconds the mode itself waits)
HOSTILE = {
    # Every walk (4, each of pages 0, 99 and 198) comes out one record short.
    "duplicate_id": ({}, r"could not get a consistent listing of %s after 4 walks: .*total_count 250 but served 249 "
                         r"distinct records" % LISTING, 4 * 3, 0),
    # Every walk (4, each of page 0 and the confirming page 99) finds records past total_count.
    "short_total": ({}, r"could not get a consistent listing of %s after \d+ walks: .*total_count 100\b" % LISTING, 4 * 2, 0),
    # A byte a second of a body declared at 1,000,000 bytes (under the 16 MiB cap): only a wall-clock deadline ends it.
    "trickle": ({"listing_timeout": LISTING_TIMEOUT},
                r"listing %s did not finish within listing_timeout=%ds \(VOBIZ_LISTING_TIMEOUT\)" % (LISTING, LISTING_TIMEOUT),
                None, LISTING_TIMEOUT + 5),
    # The status line and headers a byte a second: the request's deadline (a watchdog on the socket) ends it too.
    "trickle_headers": ({"listing_timeout": LISTING_TIMEOUT},
                        r"listing %s did not finish within listing_timeout=%ds \(VOBIZ_LISTING_TIMEOUT\)" % (LISTING, LISTING_TIMEOUT),
                        None, LISTING_TIMEOUT + 5),
    # The trickle declared 100,000,000 bytes: the 16 MiB cap now refuses it before the first byte.
    "trickle_huge": ({"listing_timeout": LISTING_TIMEOUT},
                     r"%s failed: the reply is larger than 16 MiB \(Content-Length: 100000000\)" % FIRST_PAGE, 1, 0),
    "huge": ({}, r"%s failed: the reply is larger than 16 MiB \(Content-Length: 200000000\)" % FIRST_PAGE, 1, 0),
    "huge_chunked": ({}, r"%s failed: the reply is larger than 16 MiB" % FIRST_PAGE, 1, 0),
    "empty_200": ({}, r"malformed reply from %s \(HTTP 200\): " % FIRST_PAGE, TRIES, 1.5),
    "cut_body": ({}, r"%s failed after %d tries: the connection to http://127\.0\.0\.1:\d+ broke before the answer came"
                     % (FIRST_PAGE, TRIES), TRIES, 1.5),
}
# What the message must not be: the raw exception of requests the issue saw for cut_body.
RAW_EXCEPTIONS = ("ChunkedEncodingError", "IncompleteRead", "ProtocolError")
NOT_SCALAR = "must be a single value (text, number or boolean), got"
TIMINGS = []


@pytest.fixture(scope="module", autouse=True)
def timings_summary():
    """After the module, print every run's time (seen with -s); each run's hang guard is the real check."""
    yield
    for seconds, mode, tool in sorted(TIMINGS, reverse=True):
        print("hostile %-16s %-18s %5.1f s" % (mode, tool, seconds))


def bound(waits):
    """The hang guard of one CLI run whose server makes it wait `waits` seconds."""
    return hang_guard(waits + CLI_EXPECTED_SECONDS)


def run_inventory(server, tmp_path, waits=0, **options):
    config = write_config(tmp_path, dict(CONNECTION_OPTIONS, **options))
    started = time.monotonic()
    completed = run_cli("ansible-inventory", "-i", config, "--list", env=ansible_env(server, tmp_path), timeout=bound(waits))
    return completed, time.monotonic() - started


def run_endpoint_info(server, tmp_path, waits=0, **options):
    """endpoint_info in a play; the listing it returned (None when the task failed) is saved for the test."""
    play = {
        "name": "endpoint_info against a hostile server",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [
            {"name": "List the endpoints", "vobiz.sip.endpoint_info": dict(CONNECTION_OPTIONS, **options), "register": "listing"},
            {"name": "Save the listing for the test",
             "ansible.builtin.copy": {"content": "{{ listing | to_json }}", "dest": "{{ out_file }}", "mode": "0600"}},
        ],
    }
    playbook = tmp_path / "endpoint_info.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False), encoding="utf-8")
    out_file = tmp_path / "listing.json"
    started = time.monotonic()
    completed = run_cli("ansible-playbook", "-i", "localhost,", playbook, "-e", "out_file=%s" % out_file,
                        env=ansible_env(server, tmp_path), timeout=bound(waits))
    seconds = time.monotonic() - started
    return completed, seconds, json.loads(out_file.read_text(encoding="utf-8")) if out_file.exists() else None


def expect_one_error(server, completed, message, requests, label):
    assert server.trickles_outlasted == 0, "%s hung: the server gave up trickling first: %s" % (label, one_line(
        completed.stdout + completed.stderr)[-3000:])
    expect_clear_error(server, completed, message, label)
    output = completed.stdout + completed.stderr
    assert not any(raw in output for raw in RAW_EXCEPTIONS), "%s: %s" % (label, one_line(output)[-3000:])
    if requests is not None:
        assert len(server.endpoint_requests()) == requests, "%s: %s" % (label, server.endpoint_requests())


def hostile_server(mode, size=ACCOUNT_SIZE, waits=0):
    """The server in `mode`; a trickle lasts a hang guard of the case at most (then its client counts as hung)."""
    return HostileServer(mode, SAMPLE_AUTH_ID, SAMPLE_TOKEN, size=size, trickle_seconds=hang_guard(waits))


# ---- each hostile mode: a non-zero exit and the pinned message

@pytest.mark.parametrize("mode", list(HOSTILE))
def test_inventory_fails_loudly(mode, tmp_path):
    options, message, requests, waits = HOSTILE[mode]
    with hostile_server(mode, waits=waits) as server:
        completed, seconds = run_inventory(server, tmp_path, waits, **options)
        TIMINGS.append((seconds, mode, "ansible-inventory"))
        expect_one_error(server, completed, message, requests, "%s inventory" % mode)
    assert completed.stdout.strip() == "", "a partial inventory was printed"


@pytest.mark.parametrize("mode", list(HOSTILE))
def test_endpoint_info_fails_loudly(mode, tmp_path):
    options, message, requests, waits = HOSTILE[mode]
    with hostile_server(mode, waits=waits) as server:
        completed, seconds, saved = run_endpoint_info(server, tmp_path, waits, **options)
        TIMINGS.append((seconds, mode, "endpoint_info"))
        expect_one_error(server, completed, message, requests, "%s endpoint_info" % mode)
    expect_no_partial_module_result(completed, saved, "%s endpoint_info" % mode)


def test_one_trickling_request_ends_within_timeout(tmp_path):
    """Outside a listing (endpoint_info by endpoint_id: one GET), timeout bounds the whole reply, not each read.

    One retry, so two tries of TIMEOUT each and a backoff of 0.5 s at most.
    """
    waits = 2 * TIMEOUT + 0.5
    with hostile_server("trickle", waits=waits) as server:
        endpoint_id = server.endpoints[0]["endpoint_id"]
        completed, seconds, saved = run_endpoint_info(server, tmp_path, waits, endpoint_id=endpoint_id, retries=1)
        TIMINGS.append((seconds, "trickle one GET", "endpoint_info"))
        message = r"GET /api/v1/Account/%s/Endpoint/%s/ failed after 2 tries: no answer within timeout=%ds" % (
            SAMPLE_AUTH_ID, endpoint_id, TIMEOUT)
        expect_one_error(server, completed, message, 2, "trickle endpoint_info by id")
    expect_no_partial_module_result(completed, saved, "trickle endpoint_info by id")


# ---- the control: an honest server gives exactly the account, at the cost of the overlapping pages: 250 endpoints
# take pages 0, 99 and 198 (the last one short); 199 take pages 0 and 99 (the last one full, ending at total_count)
# and page 198 to confirm that end (it holds only the overlap record)
HONEST_SIZES = (ACCOUNT_SIZE, 199)
HONEST_OFFSETS = [0, 99, 198]


def page_offsets(server):
    return sorted(int(request["query"]["offset"]) for request in server.endpoint_requests())


@pytest.mark.parametrize("size", HONEST_SIZES)
def test_honest_inventory_is_the_account(size, tmp_path):
    with hostile_server("honest", size) as server:
        completed, seconds = run_inventory(server, tmp_path)
        TIMINGS.append((seconds, "honest %d" % size, "ansible-inventory"))
    assert completed.returncode == 0, completed.stderr[-3000:]
    listing = json.loads(completed.stdout)
    wanted = sorted(endpoint["username"] for endpoint in server.endpoints)
    assert sorted(listing["_meta"]["hostvars"]) == wanted
    assert sorted(listing["vobiz_endpoints"]["hosts"]) == wanted
    assert page_offsets(server) == HONEST_OFFSETS


@pytest.mark.parametrize("size", HONEST_SIZES)
def test_honest_endpoint_info_is_the_account(size, tmp_path):
    with hostile_server("honest", size) as server:
        completed, seconds, saved = run_endpoint_info(server, tmp_path)
        TIMINGS.append((seconds, "honest %d" % size, "endpoint_info"))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert [record["endpoint_id"] for record in saved["endpoints"]] == [endpoint["endpoint_id"] for endpoint in server.endpoints]
    assert saved["summary"]["total"] == size
    assert page_offsets(server) == HONEST_OFFSETS


# ---- filter values must be single values: refused before any request

INVENTORY_FILTERS = {
    "list in filters": ({"filters": {"username__startswith": ["desk", "zoe"]}}, "filters.username__startswith %s list"),
    "dict in include_filters": ({"include_filters": [{"alias__contains": {"desk": 1}}]}, "include_filters[0].alias__contains %s mapping"),
    "null in exclude_filters": ({"exclude_filters": [{"username__exact": None}]}, "exclude_filters[0].username__exact %s null"),
}
MODULE_FILTERS = {
    "list": (["desk", "zoe"], "list"),
    "dict": ({"desk": 1}, "mapping"),
    "null": (None, "null"),
}


@pytest.mark.parametrize("case", list(INVENTORY_FILTERS))
def test_inventory_refuses_a_filter_value_that_is_not_a_single_value(case, tmp_path):
    options, message = INVENTORY_FILTERS[case]
    with hostile_server("honest") as server:
        completed, _seconds = run_inventory(server, tmp_path, **options)
        expect_one_error(server, completed, re.escape(message % NOT_SCALAR), 0, case)
    assert completed.stdout.strip() == "", "an inventory was printed"


@pytest.mark.parametrize("case", list(MODULE_FILTERS))
def test_endpoint_info_refuses_a_filter_value_that_is_not_a_single_value(case, tmp_path):
    value, type_name = MODULE_FILTERS[case]
    with hostile_server("honest") as server:
        completed, _seconds, saved = run_endpoint_info(server, tmp_path, filters={"username__startswith": value})
        expect_one_error(server, completed, re.escape("filters.username__startswith %s %s" % (NOT_SCALAR, type_name)), 0, case)
    expect_no_partial_module_result(completed, saved, case)


def test_event_source_refuses_a_filter_value_that_is_not_a_single_value(rulebook_cli, tmp_path):  # pylint: disable=redefined-outer-name,unused-argument
    with hostile_server("honest") as server:
        returncode, text = run_until_it_ends(tmp_path, server, "filters", {"username__startswith": ["desk", "zoe"]})
        assert returncode != 0, text
        assert "filters.username__startswith %s list" % NOT_SCALAR in one_line(text), text
        assert listings(server) == 0
        assert SAMPLE_TOKEN not in text
