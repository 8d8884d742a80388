# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's listing (issue 11): never silently incomplete, one rate state, a deadline, progress, no cleartext.

- Property (hypothesis, in-process fake API): creates and deletes at random positions, interleaved at random with
  pages fetched concurrently, give every endpoint that existed throughout exactly once, or the clear error.
- The balanced case (250 endpoints, page_size 50, max_concurrency 4, first endpoint deleted and one created at the
  end after the first page) against the simulator.
- A 429 pauses every worker and lowers the concurrency; a Retry-After beyond the bound is an error naming the wait.
- listing_timeout ends a listing with how far it got; -v progress lines; http:// only to loopback hosts.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ansible_collections.vobiz.sip.plugins.module_utils import paging, rate as rate_module
from ansible_collections.vobiz.sip.plugins.module_utils.paging import listing_requests
from ansible_collections.vobiz.sip.plugins.module_utils.api import MAX_RETRY_WAIT, VobizClient, VobizError
from ansible_collections.vobiz.sip.tests.harness import hang_guard
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator, generate_data

TOKEN = "listing-token-9b1e2f"
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "vobiz-sip-hypothesis"))
CONSISTENCY_ERROR = "could not get a consistent listing"


class FakeApi:
    """An in-process Endpoint list: API order is a list of ids; a script of changes runs as pages are asked for.

    `script[k]` is the changes made just before the k-th page request is answered: ("create", where) inserts a
    new id at fraction `where` of the list, ("delete", where) removes the id there. Page requests arrive from
    the client's worker threads concurrently; a tiny sleep lets them overtake each other.
    """

    def __init__(self, count, script, jitter):
        self.ids = ["%06d" % index for index in range(count)]
        self.initial = list(self.ids)
        self.deleted = set()
        self.script = script
        self.jitter = jitter
        self.requests = 0
        self.serial = count
        self.lock = threading.Lock()

    def request(self, method, resource, params=None, **_kwargs):
        with self.lock:
            changes = self.script[self.requests] if self.requests < len(self.script) else []
            self.requests += 1
            delay = self.jitter[self.requests % len(self.jitter)] if self.jitter else 0
        time.sleep(delay)
        with self.lock:
            for kind, where in changes:
                self.change(kind, where)
            offset, limit = int(params["offset"]), int(params["limit"])
            objects = [{"endpoint_id": endpoint_id} for endpoint_id in self.ids[offset:offset + limit]]
            return {"meta": {"total_count": len(self.ids), "limit": limit, "offset": offset}, "objects": objects}

    def change(self, kind, where):
        position = min(int(where * len(self.ids)), len(self.ids))
        if kind == "create":
            self.serial += 1
            self.ids.insert(position, "%06d" % self.serial)
        elif self.ids:
            self.deleted.add(self.ids.pop(min(position, len(self.ids) - 1)))


changes = st.lists(st.tuples(st.sampled_from(["create", "delete"]), st.floats(0, 1)), max_size=3)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(0, 60), page_size=st.integers(1, 12), max_concurrency=st.integers(1, 4),
       script=st.lists(changes, max_size=25), jitter=st.lists(st.sampled_from([0, 0, 0.001, 0.003]), max_size=8))
def test_endpoints_that_lived_throughout_are_listed_once_or_the_listing_fails_clearly(
        count, page_size, max_concurrency, script, jitter):
    fake = FakeApi(count, script, jitter)
    client = VobizClient("MA_PROP", TOKEN, api_url="http://127.0.0.1:9", page_size=page_size,
                         max_concurrency=max_concurrency, retries=0)
    client.request = fake.request
    try:
        objects = client._list_all("Endpoint/", {}, "endpoint_id")
    except VobizError as error:
        assert CONSISTENCY_ERROR in str(error) and TOKEN not in str(error)
        assert fake.script, "an unchanging account must list"
        return
    ids = [obj["endpoint_id"] for obj in objects]
    assert len(ids) == len(set(ids)), "an endpoint listed twice"
    lived_throughout = [endpoint_id for endpoint_id in fake.initial if endpoint_id not in fake.deleted]
    missing = set(lived_throughout) - set(ids)
    assert not missing, "endpoints that lived throughout are missing: %s" % sorted(missing)
    order = [endpoint_id for endpoint_id in ids if endpoint_id in set(lived_throughout)]
    assert order == lived_throughout, "not in API order"


# Pages of 100 start every 99 records; the last page must be short, so an account whose last page is full and ends
# exactly at total_count (100, 199, ..., 9901, 10000: 100 + 99k) costs one request more, the overlap page confirming it.
@pytest.mark.parametrize("count, requests", [(0, 1), (1, 1), (2, 1), (99, 1), (100, 2), (101, 2), (198, 2), (199, 3),
                                             (200, 3), (9901, 101), (10000, 102), (10001, 102)])
def test_an_unchanging_account_costs_one_page_more_per_hundred_and_one_more_on_a_page_boundary(count, requests):
    fake = FakeApi(count, [], [])
    client = VobizClient("MA_PROP", TOKEN, api_url="http://127.0.0.1:9", page_size=100, max_concurrency=4)
    client.request = fake.request
    assert [obj["endpoint_id"] for obj in client._list_all("Endpoint/", {}, "endpoint_id")] == fake.initial
    assert fake.requests == requests == listing_requests(count, 100)
    assert client.stats["walks"] == 1


@pytest.mark.parametrize("page_size", [1, 2, 3, 10])
def test_listing_requests_counts_what_a_walk_sends(page_size):
    for count in range(60):
        fake = FakeApi(count, [], [])
        client = VobizClient("MA_PROP", TOKEN, api_url="http://127.0.0.1:9", page_size=page_size, max_concurrency=1)
        client.request = fake.request
        client._list_all("Endpoint/", {}, "endpoint_id")
        assert fake.requests == listing_requests(count, page_size), "%d records" % count


def test_balanced_create_and_delete_after_the_first_page_lists_the_endpoint_that_moved():
    """The case of the issue: total_count never moves, the 51st endpoint crosses the page boundary."""
    with Simulator(generate_data(250)) as sim:
        before = [endpoint["endpoint_id"] for endpoint in sim.endpoints]
        sim.configure(page_mutations=[{"after_list_requests": 1, "remove": 1, "where": "start"},
                                      {"after_list_requests": 1, "add": 1, "where": "end"}])
        client = VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, page_size=50, max_concurrency=4)
        ids = [record["endpoint_id"] for record in client.list_endpoints()]
        assert ids == [endpoint["endpoint_id"] for endpoint in sim.endpoints]  # the second walk, complete
        assert before[50] in ids and before[0] not in ids
        assert client.stats["walks"] == 2


def test_a_429_is_ridden_out_and_counted():
    with Simulator(generate_data(1000), latency_ms=20) as sim:
        sim.configure(faults=[{"kind": "429", "times": 1, "retry_after": "1", "path_contains": "offset=396"}])
        client = VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, page_size=100, max_concurrency=4)
        assert len(client.list_endpoints()) == 1000
        refused = [request for request in sim.requests if request["status"] == 429]
        retried = [request for request in sim.requests if "offset=396" in "offset=%s" % request["query"]["offset"]
                   and request["status"] == 200]
        assert len(refused) == 1 and len(retried) == 1 and retried[0]["started"] - refused[0]["finished"] >= 0.95
        assert client.stats["rate_limited"] == 1 and client.stats["retries"] == 1


def test_a_refusal_pauses_every_worker_until_retry_after():
    """Workers waiting for a slot when one of them is refused all wait out the pause, not just the refused one."""
    rate = rate_module._RateState(4)
    refused_at = rate.acquire()
    started = []

    def worker():
        sent_at = rate.acquire()
        started.append(sent_at)
        rate.release(sent_at, "ok")

    threads = [threading.Thread(target=worker) for _worker in range(3)]
    rate.release(refused_at, "refused", 0.5)
    noticed = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(started) == 3 and min(started) >= noticed + 0.49


def test_concurrency_halves_on_a_refusal_and_climbs_back_on_success():
    rate = rate_module._RateState(8)
    sent = [rate.acquire() for _request in range(4)]
    for sent_at in sent[:3]:
        rate.release(sent_at, "ok")
    rate.release(sent[3], "refused", 0.01)
    assert rate.concurrency == 4 and rate.rate is not None  # halved; a rate learned from 3 successes
    later = rate.acquire()
    assert later >= sent[3] + 0.01  # the pause holds every worker, this one included
    rate.release(later, "refused", 0.01)
    assert rate.concurrency == 2
    for _request in range(40):
        rate.release(rate.acquire(), "ok")
    assert rate.concurrency == 8


def tokens_left(rate, burst, served, at):
    """Tokens a bucket (full at 0) holds at `at`, after serving the requests sent at `served`."""
    tokens, last = float(burst), 0.0
    for sent in served:
        tokens, last = min(float(burst), tokens + rate * (sent - last)) - 1, sent
    return min(float(burst), tokens + rate * (at - last))


def bucket_run(rate, burst, sends):
    """What a token bucket (full at 0) does with requests sent at `sends`: (served send times, first refused one)."""
    tokens, last, served = float(burst), 0.0, []
    for sent in sends:
        tokens, last = min(float(burst), tokens + rate * (sent - last)), sent
        if tokens < 1:
            return served, sent
        tokens -= 1
        served.append(sent)
    raise AssertionError("the bucket never refused; send faster in the test")


def probe(rate, start, end, seconds):
    """Send times paced from rate*start up to rate*end over `seconds`, then at rate*end: how the client probes."""
    sends, now = [], 0.0
    while len(sends) < 2000:
        sends.append(now)
        now += 1.0 / (rate * (start + (end - start) * min(1.0, now / seconds)))
    return sends


@settings(max_examples=100, deadline=None)
@given(rate=st.floats(1, 100), burst=st.integers(1, 20), start=st.floats(0.2, 1.5), overshoot=st.floats(1.1, 3),
       seconds=st.floats(0.1, 5))
def test_the_learned_rate_leaves_half_a_token_for_the_refused_request(rate, burst, start, overshoot, seconds):
    """The refused request found 0 to 1 token in the bucket; at the learned rate it would have found half of one.
    The refusal before (at -1000 s) left the bucket time to fill at any rate, as a pause does."""
    served, refused_at = bucket_run(rate, burst, probe(rate, start, max(start, 1.0) * overshoot, seconds))
    assert 0 <= tokens_left(rate, burst, served, refused_at) < 1
    learned = rate_module.learned_bucket_rate(burst, -1000.0, served, refused_at)
    assert learned is not None
    assert tokens_left(learned, burst, served, refused_at) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("rate, burst", [(10, 5), (2, 5), (50, 20)])
def test_a_probe_like_the_clients_learns_the_rate_within_a_few_per_cent(rate, burst):
    served, refused_at = bucket_run(rate, burst, probe(rate, 0.5, 1.5, 2.0))
    assert rate_module.learned_bucket_rate(burst, -1000.0, served, refused_at) == pytest.approx(rate, rel=0.05)


def test_a_refusal_no_bucket_explains_shows_no_rate():
    # Two requests, then a refusal: a bucket of five that had ten seconds to refill would have served it at any rate.
    assert rate_module.learned_bucket_rate(5, -10.0, [0.0, 0.1], 0.2) is None


def test_after_a_pause_the_burst_less_one_goes_at_once_then_one_per_token():
    rate = rate_module._RateState(8)
    sent = [rate.acquire() for _request in range(8)]
    for sent_at in sent[:5]:
        rate.release(sent_at, "ok")
    rate.release(sent[5], "refused", 0.05)  # the first refusal: a burst of five, and a lower bound of the rate
    for sent_at in sent[6:]:
        rate.release(sent_at, "refused", 0.05)
    rate.rate = 10.0
    resumed = sent[5] + 1.0  # the API's bucket, empty when it refused sent[5], has refilled
    for _request in range(4):
        assert rate._token_ready(resumed) == resumed
        rate._take_token(resumed)
    assert rate._token_ready(resumed) == pytest.approx(resumed + 0.1)


def test_a_retry_after_beyond_the_bound_is_an_error_naming_the_wait():
    with Simulator(generate_data(10)) as sim:
        sim.configure(faults=[{"kind": "429", "times": 5, "retry_after": "3600"}])
        client = VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url)
        started = time.monotonic()
        with pytest.raises(VobizError) as error:
            client.list_endpoints()
        assert time.monotonic() - started < MAX_RETRY_WAIT / 2  # no retries burnt waiting
        text = str(error.value)
        assert "wait 3600 s" in text and "Retry-After" in text and "%.0f s" % MAX_RETRY_WAIT in text
        assert len(sim.requests) == 1


def test_listing_timeout_says_how_far_the_listing_got():
    with Simulator(generate_data(250), latency_ms=150) as sim:
        client = VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, page_size=10, max_concurrency=1,
                             listing_timeout=1)
        started = time.monotonic()
        with pytest.raises(VobizError) as error:
            client.list_endpoints()
        seconds = time.monotonic() - started
    text = str(error.value)
    assert "listing_timeout=1s" in text and "VOBIZ_LISTING_TIMEOUT" in text and "of 250 records" in text, text
    assert "pages, walk 1 of 4" in text and sim.auth_token not in text
    assert seconds < hang_guard(1 + 0.15), "the deadline did not end the listing"  # not a speed claim


def test_progress_lines_while_a_listing_is_slow(monkeypatch):
    monkeypatch.setattr(paging, "PROGRESS_EVERY", 0.3)
    lines = []
    with Simulator(generate_data(250), latency_ms=60) as sim:
        client = VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, page_size=10, max_concurrency=2,
                             progress=lines.append)
        assert len(client.list_endpoints()) == 250
    assert lines, "no progress line"
    assert all("of 250 records (total_count)" in line and "pages" in line and "retries" in line and "concurrency" in line
               for line in lines), lines


def test_a_quick_listing_prints_no_progress():
    lines = []
    with Simulator(generate_data(20)) as sim:
        VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, progress=lines.append).list_endpoints()
    assert lines == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:1", "http://[::1]:8",
                                 "https://api.vobiz.ai", "https://10.0.0.1"])
def test_http_is_accepted_for_loopback_hosts_only(url):
    assert VobizClient("MA_X", TOKEN, api_url=url + "/").api_url == url


@pytest.mark.parametrize("url", ["http://api.vobiz.ai", "http://10.0.0.1:80", "http://127.0.0.1.example.com"])
def test_http_to_another_host_is_refused_as_cleartext(url):
    with pytest.raises(VobizError, match=r"token would travel in cleartext\. Use https://") as error:
        VobizClient("MA_X", TOKEN, api_url=url)
    assert TOKEN not in str(error.value)


@pytest.mark.parametrize("url", ["api.vobiz.ai", "ftp://api.vobiz.ai", "https://"])
def test_an_api_url_that_is_no_url_names_both_schemes(url):
    with pytest.raises(VobizError, match=r"api_url must be an https:// URL .*http:// is accepted only for .*loopback"):
        VobizClient("MA_X", TOKEN, api_url=url)
