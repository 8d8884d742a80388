# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoint_info run in process against the simulator's sample account."""

from __future__ import annotations

import collections
import json
import os

import pytest
import yaml

from ansible_collections.vobiz.sip.plugins.module_utils import module_glue
from ansible_collections.vobiz.sip.plugins.module_utils.api import ENDPOINT_FILTERS
from ansible_collections.vobiz.sip.plugins.modules import endpoint_info
from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator
from ansible_collections.vobiz.sip.tests.unit.module_runner import run_module_main

SAMPLE = os.path.join(REPO_ROOT, "tests", "simulator", "data", "sample.yaml")
AUTH_ID = "MA_DEMO0001"
TOKEN = "demo-token-not-secret"


@pytest.fixture(scope="module")
def sample():
    with open(SAMPLE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def sim():
    with Simulator(SAMPLE) as simulator:
        yield simulator


@pytest.fixture
def run_info(sim, capsys, monkeypatch):
    def run(**options):
        args = dict(auth_id=AUTH_ID, auth_token=TOKEN, api_url=sim.url, retries=0, _ansible_check_mode=True)
        args.update(options)
        output = run_module_main(endpoint_info.main, args, monkeypatch, capsys)
        assert TOKEN not in output
        return json.loads(output)
    return run


def test_summary_matches_the_account(run_info, sample, sim):
    result = run_info()
    endpoints = sample["endpoints"]
    names = {app["app_id"]: app["app_name"] for app in sample["applications"]}
    assert result["changed"] is False
    assert [record["endpoint_id"] for record in result["endpoints"]] == [endpoint["endpoint_id"] for endpoint in endpoints]
    summary = result["summary"]
    assert summary["total"] == len(endpoints)
    assert summary["registered"] == sum(1 for endpoint in endpoints if endpoint.get("sip_registered"))
    assert summary["registered"] + summary["unregistered"] == len(endpoints)
    assert summary["without_application"] == sum(1 for endpoint in endpoints if not endpoint.get("app_id"))
    assert summary["by_application"] == dict(collections.Counter(names[endpoint["app_id"]] for endpoint in endpoints if endpoint.get("app_id")))
    assert summary["by_sub_account"] == dict(collections.Counter(endpoint.get("sub_account") or "main" for endpoint in endpoints))
    assert all(request["method"] == "GET" for request in sim.requests)


def test_filters_go_to_the_server(run_info, sim):
    result = run_info(filters={"sub_account": "SA_LAB0002", "application_id__isnull": False})
    assert result["endpoints"] and all(record["sub_account"] == "SA_LAB0002" and record["application_id"]
                                       for record in result["endpoints"])
    listing = [request for request in sim.requests if request["path"].endswith("/Endpoint/")]
    assert listing[0]["query"]["sub_account"] == "SA_LAB0002" and listing[0]["query"]["application_id__isnull"] == "false"


def test_unknown_filter_fails_listing_the_valid_ones_before_any_request(run_info, sim):
    result = run_info(filters={"name": "x"})
    assert result["failed"] is True and "name" in result["msg"]
    assert all(key in result["msg"] for key in ENDPOINT_FILTERS)
    assert sim.requests == []


def test_one_endpoint_by_id_and_an_unknown_id(run_info, sample):
    wanted = sample["endpoints"][5]
    result = run_info(endpoint_id=wanted["endpoint_id"])
    assert [record["username"] for record in result["endpoints"]] == [wanted["username"]]
    assert result["summary"]["total"] == 1
    assert run_info(endpoint_id="999999999999999")["endpoints"] == []


def test_without_resolving_applications_names_stay_unknown(run_info, sim):
    result = run_info(resolve_applications=False)
    assert all(record["application_name"] is None for record in result["endpoints"])
    assert not any(request["path"].endswith("/Application/") for request in sim.requests)


def test_missing_requests_names_the_library(run_info, monkeypatch):
    monkeypatch.setattr(module_glue, "HAS_REQUESTS", False)
    result = run_info()
    assert result["failed"] is True and "requests" in result["msg"]
