# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoint: whole module runs in process against the simulator (its decisions are tested in
tests/unit/plugins/module_utils/)."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic

from ansible_collections.vobiz.sip.plugins.module_utils import module_glue
from ansible_collections.vobiz.sip.plugins.module_utils.diff import PASSWORD_MARKER
from ansible_collections.vobiz.sip.plugins.modules import endpoint as endpoint_module_main
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator
from ansible_collections.vobiz.sip.tests.unit.module_runner import run_module_main

AUTH_ID = "MA_UNIT0001"
TOKEN = "unit-token-3b8e-never-shown"
PASSWORD = "pw-unit-9f2c-secret"
APPS = [
    {"app_id": "20000000000000001", "app_name": "Front Desk"},
    {"app_id": "20000000000000002", "app_name": "Sales"},
    {"app_id": "20000000000000003", "app_name": "Sales"},
]


@pytest.fixture
def sim():
    data = {
        "auth_id": AUTH_ID,
        "auth_token": TOKEN,
        "applications": [dict(app, answer_url="https://example.invalid/a", answer_method="POST", sub_account=None,
                              default_endpoint_app=False) for app in APPS],
        "sub_accounts": [{"auth_id": "SA_ONE", "name": "One", "id": "5001"}],
        "endpoints": [
            {"endpoint_id": "100000000000001", "username": "alice", "alias": "Alice", "app_id": "20000000000000001"},
            {"endpoint_id": "100000000000002", "username": "bob", "alias": "Bob", "app_id": None,
             "allow_other_domains": True},
        ],
    }
    with Simulator(data) as simulator:
        yield simulator


@pytest.fixture
def run_module(sim, capsys, monkeypatch):
    """Run vobiz.sip.endpoint in process; returns (result, warnings)."""
    def run(check_mode=False, diff=False, **options):
        warnings = []
        monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, message: warnings.append(message))
        args = dict(auth_id=AUTH_ID, auth_token=TOKEN, api_url=sim.url, retries=0, _ansible_check_mode=check_mode,
                    _ansible_diff=diff)
        args.update(options)
        output = run_module_main(endpoint_module_main.main, args, monkeypatch, capsys)
        assert TOKEN not in output and PASSWORD not in output
        return json.loads(output), warnings
    return run


def writes(sim):
    return [request for request in sim.requests if request["method"] in ("POST", "PUT", "PATCH", "DELETE")]


def test_create_then_second_run_is_no_change_even_with_rewritten_usernames(sim, run_module):
    sim.configure(rewrite_usernames=True)
    task = dict(username="carol", password=PASSWORD, alias="Carol desk", application="Front Desk")
    first, warnings = run_module(**task)
    assert first["changed"] is True
    assert first["endpoint"]["username"].startswith("carol") and first["endpoint"]["username"] != "carol"
    assert first["endpoint"]["application_name"] == "Front Desk"
    assert any("carol" in warning and "matching rule" in warning for warning in warnings)
    sim.reset_requests()
    second, _warnings = run_module(**task)
    assert second["changed"] is False and writes(sim) == []
    assert second["endpoint"]["endpoint_id"] == first["endpoint"]["endpoint_id"]
    assert sum(1 for endpoint in sim.endpoints if endpoint["username"].startswith("carol")) == 1


def test_update_sends_only_the_changed_fields_with_both_application_spellings(sim, run_module):
    sim.configure(update_ignores_application=True)  # the field report: only app_id moves the endpoint
    result, _warnings = run_module(username="alice", alias="Alice", application="20000000000000002", diff=True)
    assert result["changed"] is True
    assert [request["body"] for request in writes(sim)] == [{"application": 20000000000000002, "app_id": 20000000000000002}]
    assert result["endpoint"]["application_id"] == "20000000000000002"
    assert result["diff"]["before"]["application_id"] == "20000000000000001"
    assert result["diff"]["after"]["application_id"] == "20000000000000002"


def test_check_mode_sends_no_write_and_predicts_the_change(sim, run_module):
    created, _warnings = run_module(check_mode=True, username="dave", password=PASSWORD)
    updated, _warnings = run_module(check_mode=True, username="alice", alias="Renamed")
    deleted, _warnings = run_module(check_mode=True, username="bob", state="absent")
    assert writes(sim) == []
    assert created["changed"] and created["endpoint"]["endpoint_id"] is None
    assert updated["changed"] and updated["endpoint"]["alias"] == "Renamed"
    assert deleted["changed"] and deleted["endpoint"] is None
    assert [endpoint["alias"] for endpoint in sim.endpoints] == ["Alice", "Bob"]


def test_locked_field_change_fails_naming_field_wanted_and_actual(sim, run_module):
    sim.configure(shape="rich")
    result, _warnings = run_module(username="bob", allow_other_domains=False)
    assert result["failed"] is True
    assert "allow_other_domains: wanted false, actual true" in result["msg"] and "Recreate" in result["msg"]
    assert writes(sim) == []


def test_update_password_always_reports_a_change_and_shows_no_password(sim, run_module):
    result, _warnings = run_module(username="alice", password=PASSWORD, update_password="always", diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["password"] == PASSWORD_MARKER
    assert [request["body"] for request in writes(sim)] == [{"password": PASSWORD}]
    unchanged, _warnings = run_module(username="alice", password=PASSWORD)
    assert unchanged["changed"] is False


def test_api_error_fails_with_its_message_and_no_token(sim, run_module):
    result, _warnings = run_module(username="erin", password="short")
    assert result["failed"] is True and "HTTP 400" in result["msg"] and "password" in result["msg"]
    result, _warnings = run_module(username="erin", password=PASSWORD, auth_token="wrong-" + TOKEN)
    assert result["failed"] is True and "HTTP 401" in result["msg"] and "VOBIZ_AUTH_TOKEN" in result["msg"]


def test_delete_then_delete_again(sim, run_module):
    first, _warnings = run_module(username="bob", state="absent")
    second, _warnings = run_module(username="bob", state="absent")
    assert first["changed"] is True and second["changed"] is False
    assert [request["method"] for request in writes(sim)] == ["DELETE"]


def test_endpoint_id_pins_the_endpoint_and_refuses_a_foreign_username(sim, run_module):
    result, _warnings = run_module(username="alice", endpoint_id="100000000000002", state="absent")
    assert result["failed"] is True and "refusing" in result["msg"]
    result, _warnings = run_module(username="alice", endpoint_id="999999999999999", alias="x")
    assert result["failed"] is True and "does not exist" in result["msg"]
    assert writes(sim) == []


def test_absent_bob_refuses_to_delete_bob7_unless_the_alias_confirms_it(sim, run_module):
    sim.configure(rewrite_usernames=True)
    created, _warnings = run_module(username="frank", password=PASSWORD, alias="Frank desk")
    stored = created["endpoint"]["username"]
    assert stored != "frank" and stored.startswith("frank")
    sim.reset_requests()
    refused, _warnings = run_module(username="frank", state="absent")
    assert refused["failed"] is True and "refusing to delete on a guess" in refused["msg"]
    assert "%s (username %s, alias Frank desk)" % (created["endpoint"]["endpoint_id"], stored) in refused["msg"]
    refused, _warnings = run_module(username="frank", alias="Another desk", state="absent")
    assert refused["failed"] is True and "none with alias 'Another desk'" in refused["msg"]
    assert writes(sim) == []
    deleted, _warnings = run_module(username="frank", alias="Frank desk", state="absent")
    assert deleted["changed"] is True and [request["method"] for request in writes(sim)] == ["DELETE"]
    assert not any(endpoint["username"] == stored for endpoint in sim.endpoints)


def test_missing_requests_names_the_library(run_module, monkeypatch):
    monkeypatch.setattr(module_glue, "HAS_REQUESTS", False)
    result, _warnings = run_module(username="alice")
    assert result["failed"] is True and "requests" in result["msg"]
