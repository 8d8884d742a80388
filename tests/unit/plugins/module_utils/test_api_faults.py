# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client under every fault the simulator can inject: the whole listing or one clear error, never a hang.

A transient fault (fewer failures than `retries`) must give exactly the simulator's endpoints; a persistent one
must raise one VobizError naming the cause and the fix. Never a partial list, never a hang: each case states how
long it is expected to take, and its hang guard (tests/harness.py) is ten times that, scaled to the machine's
speed. How fast the client is belongs to `make bench`.
"""

from __future__ import annotations

import re
import time

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError
from ansible_collections.vobiz.sip.tests.harness import hang_guard
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator, generate_data

ENDPOINTS = 250
PAGE_SIZE = 50  # 5 pages, 4 of them concurrent
RETRIES = 2
# Long enough that the in-process simulator answers well within it on a loaded machine: only "slow" faults time out.
TIMEOUT = 3
# Seconds a case is expected to take beyond its own waits (timeouts, Retry-After).
SLACK = 2.0
DATA = generate_data(ENDPOINTS)

# name -> (transient switches or None, persistent switches, what the error must say, the case's own waits in seconds)
FAULTS = {
    "429 with Retry-After": ({"faults": [{"kind": "429", "times": RETRIES, "retry_after": "1"}]},
                             {"faults": [{"kind": "429", "times": 1000, "retry_after": "1"}]},
                             r"HTTP 429.*after 3 tries.*lower max_concurrency or raise retries", 2 * RETRIES),
    "500": ({"faults": [{"kind": "500", "times": RETRIES}]}, {"faults": [{"kind": "500", "times": 1000}]},
            r"HTTP 500: Internal server error \(after 3 tries\)\. The Vobiz API failed; try again later or raise retries", 2),
    "502": ({"faults": [{"kind": "502", "times": RETRIES}]}, {"faults": [{"kind": "502", "times": 1000}]},
            r"HTTP 502: Bad gateway \(after 3 tries\)", 2),
    "503": ({"faults": [{"kind": "503", "times": RETRIES}]}, {"faults": [{"kind": "503", "times": 1000}]},
            r"HTTP 503: Service temporarily unavailable \(after 3 tries\)", 2),
    "504": ({"faults": [{"kind": "504", "times": RETRIES}]}, {"faults": [{"kind": "504", "times": 1000}]},
            r"HTTP 504: Gateway timeout \(after 3 tries\)", 2),
    "connection reset mid-response": (
        {"faults": [{"kind": "reset", "times": RETRIES}]}, {"faults": [{"kind": "reset", "times": 1000}]},
        r"failed after 3 tries: the connection to http://127\.0\.0\.1:\d+ broke before the answer came .*raise retries", 2),
    "slower than timeout": (
        {"faults": [{"kind": "slow", "times": 1, "delay_s": TIMEOUT + 2}]},
        {"faults": [{"kind": "slow", "times": 1000, "delay_s": TIMEOUT + 2}]},
        r"failed after 3 tries: no answer within timeout=3s\. Raise timeout", 3 * TIMEOUT + 2),
    "truncated JSON": ({"faults": [{"kind": "truncated", "times": RETRIES}]}, {"faults": [{"kind": "truncated", "times": 1000}]},
                       r"malformed reply from GET .*\(HTTP 200\).*after 3 tries\. Check api_url", 2),
    "HTML 502 page": ({"faults": [{"kind": "html502", "times": RETRIES}]}, {"faults": [{"kind": "html502", "times": 1000}]},
                      r"HTTP 502: 502 Bad Gateway \(after 3 tries\)", 2),
    "200 with a non-JSON body": ({"faults": [{"kind": "nonjson200", "times": RETRIES}]},
                                 {"faults": [{"kind": "nonjson200", "times": 1000}]},
                                 r"malformed reply from GET .*\(HTTP 200\)", 2),
    "empty objects with a non-zero total_count": (
        {"faults": [{"kind": "empty_page", "times": 1, "path_contains": "/Endpoint/"}]},
        {"faults": [{"kind": "empty_page", "times": 1000, "path_contains": "/Endpoint/"}]},
        r"could not get a consistent listing .* after 4 walks: the API reported total_count 250 but served 0 distinct records", 0),
    "total_count larger than the records served": (
        None, {"total_count_extra": 40},
        r"could not get a consistent listing .* after 4 walks: the API reported total_count 290 but served 250 distinct", 0),
    "records deleted while paging": (
        {"page_mutations": [{"after_list_requests": 1, "remove": 7, "where": "start"}]},
        {"page_mutations": [{"after_list_requests": count, "remove": 1, "where": "start"} for count in range(1, 41)]},
        r"could not get a consistent listing .* after 4 walks: total_count moved from", 0),
}


def client(sim, **options):
    options.setdefault("retries", RETRIES)
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("page_size", PAGE_SIZE)
    options.setdefault("backoff_base", 0.25)
    return VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, **options)


def timed(call):
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except VobizError as exc:
        return exc, time.monotonic() - started


@pytest.fixture(scope="module")
def shared_sim():
    with Simulator(DATA) as simulator:
        yield simulator


@pytest.fixture
def sim(shared_sim):
    shared_sim.reset()
    return shared_sim


@pytest.mark.parametrize("name", [name for name, case in FAULTS.items() if case[0] is not None])
def test_transient_fault_gives_the_whole_listing(sim, name):
    transient, _persistent, _message, waits = FAULTS[name]
    sim.configure(**transient)
    api = client(sim)
    records, seconds = timed(lambda: api.list_endpoints(resolve_applications=True))
    assert not isinstance(records, VobizError), "%s: %s" % (name, records)
    ids = [record["endpoint_id"] for record in records]
    assert ids == [endpoint["endpoint_id"] for endpoint in sim.endpoints]  # all of them, once, in API order
    assert all(record["application_name"] for record in records if record["application_id"])
    # One walk of the endpoints and one of the applications is the fault-free cost.
    assert api.stats["retries"] > 0 or api.stats["walks"] > 2, "the fault never hit"
    assert seconds < hang_guard(waits + SLACK), "%s hung: %.1f s" % (name, seconds)


@pytest.mark.parametrize("name", list(FAULTS))
def test_persistent_fault_gives_one_clear_error(sim, name):
    _transient, persistent, message, waits = FAULTS[name]
    sim.configure(**persistent)
    error, seconds = timed(lambda: client(sim).list_endpoints(resolve_applications=True))
    assert isinstance(error, VobizError), "%s returned %d records instead of failing" % (name, len(error))
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no chained traceback
    text = str(error)
    assert "\n" not in text and sim.auth_token not in text
    assert re.search(message, text), text
    assert seconds < hang_guard(waits + SLACK), "%s hung: %.1f s" % (name, seconds)


@pytest.mark.parametrize("max_concurrency", [1, 4])
def test_a_wildly_lying_total_count_fails_fast_instead_of_paging_forever(sim, max_concurrency):
    """A total_count of a billion must not turn into ten million requests: paging stops at the first empty page."""
    sim.configure(total_count_extra=10 ** 9)
    api = client(sim, max_concurrency=max_concurrency)
    error, seconds = timed(api.list_endpoints)
    assert isinstance(error, VobizError) and "total_count %d but served 250" % (10 ** 9 + 250) in str(error)
    # Per walk: the 6 overlapping pages that hold records (stride 49), the first empty one, and at most
    # max_concurrency - 1 already in flight; plus any retry a loaded machine's timeouts cost.
    assert len(sim.requests) <= 4 * (6 + 1 + max_concurrency - 1) + api.stats["retries"]
    assert seconds < hang_guard(SLACK)


def test_deleted_records_never_leave_a_gap(sim):
    """Deleting at the start shifts every later offset: the client re-walks, so nothing that stayed is skipped."""
    before = [endpoint["endpoint_id"] for endpoint in sim.endpoints]
    sim.configure(page_mutations=[{"after_list_requests": 2, "remove": 3, "where": "start"}])
    ids = [record["endpoint_id"] for record in client(sim, max_concurrency=1).list_endpoints()]
    assert ids == before[3:]


def test_records_added_while_paging_appear_once(sim):
    sim.configure(page_mutations=[{"after_list_requests": 1, "add": 4, "remove": 0, "where": "start"}])
    ids = [record["endpoint_id"] for record in client(sim).list_endpoints()]
    assert ids == [endpoint["endpoint_id"] for endpoint in sim.endpoints] and len(ids) == ENDPOINTS + 4


def test_rate_limit_token_bucket_is_ridden_out_with_retry_after(sim):
    """10 requests/s, burst 5: 21 pages of 1,000 endpoints all arrive, paced by Retry-After (about 5 pages/s)."""
    with Simulator(generate_data(1000), rate_limit={"rate": 10, "burst": 5}) as limited:
        api = client(limited, retries=5, max_concurrency=4)
        records, seconds = timed(lambda: api.list_endpoints(resolve_applications=True))
        assert not isinstance(records, VobizError), str(records)
        assert [record["endpoint_id"] for record in records] == [endpoint["endpoint_id"] for endpoint in limited.endpoints]
        limited_answers = [request for request in limited.requests if request["status"] == 429]
        assert limited_answers and api.stats["retries"] == len(limited_answers)
    assert seconds < hang_guard(1000 / PAGE_SIZE / 5 + SLACK), "hung: %.1f s" % seconds


def test_create_is_never_repeated_after_a_dropped_connection(sim):
    """The POST may have reached the API before the connection broke: report it rather than risk a duplicate."""
    sim.configure(faults=[{"kind": "reset", "method": "POST"}])
    with pytest.raises(VobizError, match="broke before the answer came"):
        client(sim).create_endpoint({"username": "dropped01", "password": "s3cret-pass"})
    assert sum(1 for request in sim.requests if request["method"] == "POST") == 1


def test_create_is_retried_when_the_api_rate_limits_it(sim):
    sim.configure(faults=[{"kind": "429", "method": "POST", "retry_after": "0"}])
    created = client(sim).create_endpoint({"username": "limited01", "password": "s3cret-pass"})
    assert [endpoint["username"] for endpoint in sim.endpoints].count("limited01") == 1
    assert created["username"] == "limited01"


def test_a_server_that_never_answers_is_bounded_by_timeout_and_retries(sim):
    sim.configure(faults=[{"kind": "slow", "times": 1000, "delay_s": 10}])
    error, seconds = timed(lambda: client(sim, retries=1).get_endpoint(sim.endpoints[0]["endpoint_id"]))
    assert isinstance(error, VobizError) and "no answer within timeout=3s" in str(error)
    assert seconds < hang_guard(2 * TIMEOUT + SLACK)
