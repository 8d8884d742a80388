# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoints in process against the simulator: how the written endpoints are read back and checked
(the planning is tested in tests/unit/plugins/module_utils/test_endpoints_plan.py, the states through
ansible-playbook in tests/integration/test_endpoints_module.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils import module_glue
from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizError
from ansible_collections.vobiz.sip.plugins.modules import endpoints as endpoints_module
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator
from ansible_collections.vobiz.sip.tests.unit.module_runner import run_module_main

AUTH_ID = "MA_UNIT0001"
TOKEN = "unit-token-5d1a-never-shown"
PASSWORD = "pw-unit-77c4-secret"
USERNAMES = ["alice", "bob", "carol", "dave"]


@pytest.fixture
def sim():
    data = {
        "auth_id": AUTH_ID,
        "auth_token": TOKEN,
        "applications": [{"app_id": "20000000000000001", "app_name": "Front Desk", "answer_url": "https://example.invalid/a",
                          "answer_method": "POST", "sub_account": None, "default_endpoint_app": False}],
        "sub_accounts": [],
        "endpoints": [{"endpoint_id": "10000000000000%d" % index, "username": name, "alias": "Lab %s" % name, "app_id": None}
                      for index, name in enumerate(USERNAMES, 1)],
    }
    with Simulator(data, shape="rich") as simulator:
        yield simulator


@pytest.fixture
def run_module(sim, capsys, monkeypatch):
    """Run vobiz.sip.endpoints in process; returns its result."""
    def run(**options):
        args = dict(auth_id=AUTH_ID, auth_token=TOKEN, api_url=sim.url, retries=0, state="merged")
        args.update(options)
        output = run_module_main(endpoints_module.main, args, monkeypatch, capsys)
        assert TOKEN not in output and PASSWORD not in output
        return json.loads(output)
    return run


def kinds(sim):
    """(listings, GETs by id, writes) the module sent."""
    gets = [request["path"] for request in sim.requests if request["method"] == "GET"]
    listings = [path for path in gets if path.endswith("/Endpoint/")]
    return len(listings), len(gets) - len(listings), len(sim.requests) - len(gets)


def aliases(sim):
    return {endpoint["username"]: endpoint["alias"] for endpoint in sim.endpoints}


def test_many_writes_are_read_back_in_one_listing_and_checked(sim, run_module):
    config = [{"username": name, "alias": "Renamed %s" % name} for name in USERNAMES[:3]]
    config.append({"username": "erin", "password": PASSWORD, "alias": "New erin"})
    result = run_module(config=config)
    assert result["changed"] is True and not result.get("failed")
    assert [entry["outcome"] for entry in result["actions"]] == ["done"] * 4
    # one listing to plan, one to read back the four written endpoints (one page holds them): no GET per endpoint
    assert kinds(sim) == (2, 0, 4)
    assert {item["username"]: item["alias"] for item in result["after"]} == {
        "alice": "Renamed alice", "bob": "Renamed bob", "carol": "Renamed carol", "erin": "New erin"}
    assert aliases(sim)["erin"] == "New erin"


def test_one_write_is_read_back_by_id(sim, run_module):
    result = run_module(config=[{"username": "bob", "alias": "Renamed bob"}])
    assert [entry["outcome"] for entry in result["actions"]] == ["done"]
    assert kinds(sim) == (1, 1, 1)
    assert result["after"][0]["alias"] == "Renamed bob"


def test_an_endpoint_a_write_moved_out_of_the_filters_is_read_back_by_id(sim, run_module):
    config = [{"username": "alice", "alias": "Lab alice 2"}, {"username": "bob", "alias": "Moved bob"},
              {"username": "carol", "alias": "Lab carol 2"}]
    result = run_module(config=config, filters={"alias__contains": "Lab"})
    assert [entry["outcome"] for entry in result["actions"]] == ["done"] * 3
    assert kinds(sim) == (2, 1, 3)
    assert [request["path"] for request in sim.requests if request["path"].endswith("/100000000000002/")] == [
        "/api/v1/Account/%s/Endpoint/100000000000002/" % AUTH_ID] * 2  # the update, then the read-back
    assert {item["username"]: item["alias"] for item in result["after"]}["bob"] == "Moved bob"


@pytest.mark.parametrize("writes", [1, 3], ids=["read-by-id", "read-by-listing"])
def test_a_field_the_api_ignored_fails_its_action_with_what_was_sent(sim, run_module, monkeypatch, writes):
    update = module_glue.VobizClient.update_endpoint
    monkeypatch.setattr(module_glue.VobizClient, "update_endpoint",
                        lambda self, endpoint_id, fields: update(self, endpoint_id, dict(fields, alias="Something else")))
    result = run_module(config=[{"username": name, "alias": "Renamed %s" % name} for name in USERNAMES[:writes]])
    assert result["failed"] is True
    assert "%d of %d actions failed" % (writes, writes) in result["msg"]
    assert [entry["outcome"] for entry in result["actions"]] == ["failed"] * writes
    assert "does not show what was sent: alias: sent Renamed alice, now Something else." in result["actions"][0]["error"]


def test_a_read_back_that_fails_fails_every_written_action(sim, run_module, monkeypatch):
    listings = []
    list_endpoints = module_glue.VobizClient.list_endpoints

    def second_listing_fails(self, filters=None, resolve_applications=False):
        listings.append(filters)
        if len(listings) == 2:
            raise VobizError("GET /api/v1/Account/%s/Endpoint/ failed: HTTP 503" % AUTH_ID, status=503)
        return list_endpoints(self, filters, resolve_applications)

    monkeypatch.setattr(module_glue.VobizClient, "list_endpoints", second_listing_fails)
    result = run_module(config=[{"username": name, "alias": "Renamed %s" % name} for name in USERNAMES[:3]])
    assert result["failed"] is True and len(listings) == 2
    assert [entry["error"] for entry in result["actions"]] == [
        "written, but reading it back failed: GET /api/v1/Account/%s/Endpoint/ failed: HTTP 503" % AUTH_ID] * 3
    assert aliases(sim)["alice"] == "Renamed alice"  # the writes went through; a rerun finds nothing to do
    assert run_module(config=[{"username": name, "alias": "Renamed %s" % name} for name in USERNAMES[:3]])["changed"] is False
