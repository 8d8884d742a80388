# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every fault the simulator can inject, through the real ansible-inventory and endpoint_info in ansible-playbook.

For each fault: a transient run (fewer failures than `retries`) must give every endpoint of the simulator, and a
persistent run must end with one readable error (cause and fix, no traceback, no token) and a non-zero exit,
with no inventory and no endpoint list printed. Every run has a hang guard (tests/harness.py: ten times its
expected time, scaled to the machine's speed), never a speed check: how fast a listing is under a rate limit is
measured by `make bench`. The two CLIs run side by side, each against its own simulator, to keep the suite
short. Run with -s to see the time of each case.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.vobiz.sip.tests.harness import hang_guard
from ansible_collections.vobiz.sip.tests.integration.conftest import (
    CLI_EXPECTED_SECONDS, SAMPLE_DATA, ansible_env, one_line, run_cli,
)
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

# The client's per-request timeout: long enough that the simulator answers well within it on a loaded machine,
# so that only the "slower than timeout" fault times out.
TIMEOUT = 3
RETRIES = 2
# Backoff without Retry-After: 0.5 s then 1 s at most (jitter only shortens it), with RETRIES = 2.
BACKOFF = 1.5
CONNECTION_OPTIONS = {"timeout": TIMEOUT, "retries": RETRIES, "page_size": 100, "max_concurrency": 4}

MODULE_PLAYBOOK = """\
- name: endpoint_info under an injected fault
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: List every endpoint
      vobiz.sip.endpoint_info:
        timeout: %(timeout)s
        retries: %(retries)s
        page_size: %(page_size)s
        max_concurrency: %(max_concurrency)s
      register: listing

    - name: Save the listing for the test
      ansible.builtin.copy:
        content: "{{ listing | to_json }}"
        dest: "{{ out_file }}"
        mode: "0600"
"""


def rule(kind, times, **extra):
    return {"faults": [dict(kind=kind, times=times, **extra)]}


# name -> (transient switches or None, persistent switches, the error's regex, the persistent case's own waits in s)
FAULTS = {
    "429 + Retry-After": (rule("429", RETRIES, retry_after="1"), rule("429", 1000, retry_after="1"),
                          r"HTTP 429.*\(after 3 tries\)\. The API kept rate limiting; lower max_concurrency or raise retries", 2.0),
    "500": (rule("500", RETRIES), rule("500", 1000),
            r"HTTP 500: Internal server error \(after 3 tries\)\. The Vobiz API failed; try again later or raise retries", BACKOFF),
    "502": (rule("502", RETRIES), rule("502", 1000), r"HTTP 502: Bad gateway \(after 3 tries\)\. The Vobiz API failed", BACKOFF),
    "503": (rule("503", RETRIES), rule("503", 1000),
            r"HTTP 503: Service temporarily unavailable \(after 3 tries\)\. The Vobiz API failed", BACKOFF),
    "504": (rule("504", RETRIES), rule("504", 1000), r"HTTP 504: Gateway timeout \(after 3 tries\)\. The Vobiz API failed", BACKOFF),
    "reset mid-response": (rule("reset", RETRIES), rule("reset", 1000),
                           r"failed after 3 tries: the connection to http://127\.0\.0\.1:\d+ broke before the answer came "
                           r"\(remote end closed connection\)\. Try again later or raise retries", BACKOFF),
    "slower than timeout": (rule("slow", 1, delay_s=TIMEOUT + 2), rule("slow", 1000, delay_s=TIMEOUT + 2),
                            r"failed after 3 tries: no answer within timeout=3s\. Raise timeout, or check the network path",
                            3 * TIMEOUT + BACKOFF),
    "truncated JSON": (rule("truncated", RETRIES), rule("truncated", 1000),
                       r"malformed reply from GET /api/v1/Account/MA_DEMO0001/Endpoint/\?limit=100&offset=0 \(HTTP 200\): "
                       r".*after 3 tries\. Check api_url points at the Vobiz API", BACKOFF),
    "HTML 502 page": (rule("html502", RETRIES), rule("html502", 1000),
                      r"HTTP 502: 502 Bad Gateway \(after 3 tries\)\. The Vobiz API failed", BACKOFF),
    "200 non-JSON": (rule("nonjson200", RETRIES), rule("nonjson200", 1000),
                     r"malformed reply from GET .*\(HTTP 200\): .*after 3 tries\. Check api_url", BACKOFF),
    "empty objects, total_count > 0": (
        rule("empty_page", 1, path_contains="/Endpoint/"), rule("empty_page", 1000, path_contains="/Endpoint/"),
        r"could not get a consistent listing of GET /api/v1/Account/MA_DEMO0001/Endpoint/ after 4 walks: the API reported "
        r"total_count 300 but served 0 distinct records\. If the account is changing fast, retry later", 0.0),
    "total_count > records served": (
        None, {"total_count_extra": 25},
        r"after 4 walks: the API reported total_count 325 but served 300 distinct records\. .*inconsistent pages", 0.0),
    "total_count a billion too high": (
        None, {"total_count_extra": 10 ** 9},
        r"after 4 walks: the API reported total_count 1000000300 but served 300 distinct records", 0.0),
    "records deleted while paging": (
        {"page_mutations": [{"after_list_requests": 1, "remove": 6, "where": "start"}]},
        {"page_mutations": [{"after_list_requests": count, "remove": 1, "where": "start"} for count in range(1, 41)]},
        r"after 4 walks: total_count moved from \d+ to \d+ while paging\. If the account is changing fast, retry later", 0.0),
}
TIMINGS = []


@pytest.fixture(scope="module", autouse=True)
def slowest_case_summary():
    """After the module, print the slowest case (seen with -s); each case's own bound is the real check."""
    yield
    if TIMINGS:
        seconds, fault, tool, mode = max(TIMINGS)
        print("\nslowest fault case: %s, %s, %s: %.1f s of %d CLI runs" % (fault, tool, mode, seconds, len(TIMINGS)))


def bound(waits):
    """The hang guard of one CLI run whose fault makes it wait `waits` seconds."""
    return hang_guard(waits + CLI_EXPECTED_SECONDS)


def run_inventory(sim, tmp_path, name, waits, **options):
    config = tmp_path / ("%s.vobiz.yml" % name)
    config.write_text(json.dumps(dict(CONNECTION_OPTIONS, plugin="vobiz.sip.endpoints", **options)), encoding="utf-8")
    started = time.monotonic()
    completed = run_cli("ansible-inventory", "-i", config, "--list", env=ansible_env(sim, tmp_path / name), timeout=bound(waits))
    return completed, time.monotonic() - started


def run_module(sim, tmp_path, name, waits, **options):
    playbook = tmp_path / ("%s.yml" % name)
    playbook.write_text(MODULE_PLAYBOOK % dict(CONNECTION_OPTIONS, **options), encoding="utf-8")
    out_file = tmp_path / ("%s.json" % name)
    started = time.monotonic()
    completed = run_cli("ansible-playbook", "-i", "localhost,", playbook, "-e", "out_file=%s" % out_file,
                        env=ansible_env(sim, tmp_path / name), timeout=bound(waits))
    seconds = time.monotonic() - started
    return completed, seconds, json.loads(out_file.read_text(encoding="utf-8")) if out_file.exists() else None


def expect_complete_inventory(sim, completed, label):
    assert completed.returncode == 0, "%s: %s" % (label, completed.stderr[-3000:])
    listing = json.loads(completed.stdout)
    wanted = sorted(endpoint["username"] for endpoint in sim.endpoints)
    assert sorted(listing["_meta"]["hostvars"]) == wanted, label
    assert sorted(listing["vobiz_endpoints"]["hosts"]) == wanted, label


def expect_complete_module(sim, completed, saved, label):
    assert completed.returncode == 0, "%s: %s" % (label, completed.stdout[-3000:] + completed.stderr[-3000:])
    assert [record["endpoint_id"] for record in saved["endpoints"]] == [endpoint["endpoint_id"] for endpoint in sim.endpoints], label
    assert saved["summary"]["total"] == len(sim.endpoints)


def expect_clear_error(sim, completed, message, label):
    output = one_line(completed.stdout + completed.stderr)
    assert completed.returncode != 0, "%s exited 0: %s" % (label, output[-3000:])
    assert re.search(message, output), "%s: %s" % (label, output[-3000:])
    assert "Traceback" not in output and sim.auth_token not in output, label


def expect_no_partial_module_result(completed, saved, label):
    assert saved is None, "%s saved a listing" % label
    failures = re.findall(r"FAILED! => (\{.*\})", completed.stdout)
    assert len(failures) == 1, completed.stdout[-3000:]
    failed = json.loads(failures[0])
    assert set(failed) <= {"changed", "msg", "status"}, "%s: the failed task returned %s" % (label, sorted(failed))


def record(fault, tool, mode, outcome, seconds, waits):
    TIMINGS.append((seconds, fault, tool, mode))
    print("%-32s %-17s %-10s %-8s %5.1f s (hang guard %.0f s)" % (fault, tool, mode, outcome, seconds, bound(waits)))


def inventory_side(fault, sim, tmp_path):
    transient, persistent, message, waits = FAULTS[fault]
    if transient is not None:
        sim.configure(**transient)
        completed, seconds = run_inventory(sim, tmp_path, "inv-transient", waits)
        expect_complete_inventory(sim, completed, "%s transient" % fault)
        record(fault, "ansible-inventory", "transient", "complete", seconds, waits)
    sim.reset()
    sim.configure(**persistent)
    completed, seconds = run_inventory(sim, tmp_path, "inv-persistent", waits)
    expect_clear_error(sim, completed, message, "%s persistent inventory" % fault)
    assert completed.stdout.strip() == "", "a partial inventory was printed"
    record(fault, "ansible-inventory", "persistent", "error", seconds, waits)


def module_side(fault, sim, tmp_path):
    transient, persistent, message, waits = FAULTS[fault]
    if transient is not None:
        sim.configure(**transient)
        completed, seconds, saved = run_module(sim, tmp_path, "mod-transient", waits)
        expect_complete_module(sim, completed, saved, "%s transient module" % fault)
        record(fault, "endpoint_info", "transient", "complete", seconds, waits)
    sim.reset()
    sim.configure(**persistent)
    completed, seconds, saved = run_module(sim, tmp_path, "mod-persistent", waits)
    expect_clear_error(sim, completed, message, "%s persistent module" % fault)
    expect_no_partial_module_result(completed, saved, "%s persistent module" % fault)
    record(fault, "endpoint_info", "persistent", "error", seconds, waits)


def side_by_side(*calls):
    """Run the calls in parallel and re-raise the first failure (each call is bounded by its own timeouts)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_gives_everything_or_one_clear_error(fault, tmp_path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "module").mkdir()
    with Simulator(SAMPLE_DATA) as inventory_sim, Simulator(SAMPLE_DATA) as module_sim:
        side_by_side(lambda: inventory_side(fault, inventory_sim, tmp_path / "inventory"),
                     lambda: module_side(fault, module_sim, tmp_path / "module"))


def test_rate_limited_listing_is_complete(tmp_path):
    """10 requests/s with a burst of 5 on the sample account: the limit bites, and every endpoint still arrives.

    With page_size 20 a listing is 16 endpoint pages plus the Application page, so it must ride out 429s.
    How close a listing comes to the limit's own speed is measured by `make bench` (10,000 endpoints).
    """
    limit = {"rate": 10, "burst": 5}
    waits = 5.0  # about 17 requests at 10 per second, after a burst of 5
    (tmp_path / "inventory").mkdir()
    (tmp_path / "module").mkdir()

    def inventory():
        with Simulator(SAMPLE_DATA, rate_limit=limit) as sim:
            completed, seconds = run_inventory(sim, tmp_path / "inventory", "rate-limited", waits, retries=5, page_size=20)
            expect_complete_inventory(sim, completed, "rate limit inventory")
            assert sum(1 for request in sim.requests if request["status"] == 429) > 0, "the rate limit never bit"
        record("rate limit 10/s burst 5", "ansible-inventory", "300", "complete", seconds, waits)

    def module():
        with Simulator(SAMPLE_DATA, rate_limit=limit) as sim:
            completed, seconds, saved = run_module(sim, tmp_path / "module", "rate-limited", waits, retries=5, page_size=20)
            expect_complete_module(sim, completed, saved, "rate limit module")
            assert sum(1 for request in sim.requests if request["status"] == 429) > 0, "the rate limit never bit"
        record("rate limit 10/s burst 5", "endpoint_info", "300", "complete", seconds, waits)

    side_by_side(inventory, module)
