# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions behind vobiz.sip.endpoint and endpoint_info (pure functions; module runs are in
tests/unit/plugins/modules/)."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.endpoint_module import (
    PASSWORD_MARKER,
    EndpointError,
    changed_fields,
    create_request,
    desired_fields,
    endpoint_diff,
    find_endpoint,
    locked_conflict_message,
    locked_conflicts,
    planned_record,
    resolve_application,
    summarize_endpoints,
    unapplied_fields,
    unreported_fields,
    update_request,
    username_match,
)
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS

PASSWORD = "pw-unit-9f2c-secret"
APPS = [
    {"app_id": "20000000000000001", "app_name": "Front Desk"},
    {"app_id": "20000000000000002", "app_name": "Sales"},
    {"app_id": "20000000000000003", "app_name": "Sales"},
]


def record(endpoint_id="100000000000001", **fields):
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id=endpoint_id, **fields)
    return base


# Summary ---------------------------------------------------------------------------------------

def test_summary_counts_registration_applications_and_sub_accounts():
    records = [
        record("1", sip_registered=True, application_id="11", application_name="Front Desk"),
        record("2", sip_registered=False, application_id="11", application_name="Front Desk", sub_account="SA_ONE"),
        record("3", sip_registered=None, application_id="12"),  # name unknown: keyed by id
        record("4", sip_registered=True, sub_account="SA_ONE"),
    ]
    assert summarize_endpoints(records) == {
        "total": 4, "registered": 2, "unregistered": 2, "without_application": 1,
        "by_application": {"Front Desk": 2, "12": 1},
        "by_sub_account": {"main": 2, "SA_ONE": 2},
    }


def test_summary_keeps_applications_sharing_a_name_apart():
    records = [record("1", application_id="21", application_name="Sales"),
               record("2", application_id="22", application_name="Sales"),
               record("3", application_id="22", application_name="Sales")]
    assert summarize_endpoints(records)["by_application"] == {"Sales (21)": 1, "Sales (22)": 2}


def test_summary_of_nothing():
    assert summarize_endpoints([]) == {"total": 0, "registered": 0, "unregistered": 0, "without_application": 0,
                                       "by_application": {}, "by_sub_account": {}}


# Application resolution ------------------------------------------------------------------------

def test_application_by_id_then_by_exact_name():
    assert resolve_application("20000000000000002", APPS) == ("20000000000000002", "Sales")
    assert resolve_application("Front Desk", APPS) == ("20000000000000001", "Front Desk")


def test_ambiguous_application_name_lists_the_candidates():
    with pytest.raises(EndpointError) as error:
        resolve_application("Sales", APPS)
    assert "ambiguous" in str(error.value)
    assert "20000000000000002" in str(error.value) and "20000000000000003" in str(error.value)
    assert "20000000000000001" not in str(error.value)


@pytest.mark.parametrize("reference", ["front desk", "99999", ""])
def test_unknown_application_lists_what_the_account_has(reference):
    with pytest.raises(EndpointError) as error:
        resolve_application(reference, APPS)
    assert all(app["app_id"] in str(error.value) for app in APPS)


# The matching rule ------------------------------------------------------------------------------

@pytest.mark.parametrize("actual, expected", [
    ("bob", "exact"), ("bob839126617620", "rewritten"), ("bob7", "rewritten"),
    ("bobby", None), ("bob_7", None), ("bo", None), (None, None), ("Bob", None),
])
def test_username_match(actual, expected):
    assert username_match("bob", actual) == expected


def test_exact_username_wins_over_rewritten_ones():
    records = [record("1", username="bob123"), record("2", username="bob"), record("3", username="bob456")]
    assert find_endpoint(records, "bob")["endpoint_id"] == "2"


def test_single_rewritten_username_is_found():
    records = [record("1", username="bobby"), record("2", username="bob839126617620", alias="Desk")]
    assert find_endpoint(records, "bob")["endpoint_id"] == "2"
    assert find_endpoint(records, "bob", alias="Another alias")["endpoint_id"] == "2"  # alias only breaks ties


def test_alias_picks_among_rewritten_usernames():
    records = [record("1", username="bob111", alias="Desk"), record("2", username="bob222", alias="Lobby")]
    assert find_endpoint(records, "bob", alias="Lobby")["endpoint_id"] == "2"


@pytest.mark.parametrize("alias", [None, "Kitchen", "Desk"])
def test_ambiguous_rewritten_usernames_list_the_candidates(alias):
    records = [record("1", username="bob111", alias="Desk"), record("2", username="bob222", alias="Desk")]
    with pytest.raises(EndpointError) as error:
        find_endpoint(records, "bob", alias=alias)
    message = str(error.value)
    assert "1 (username bob111, alias Desk)" in message and "2 (username bob222, alias Desk)" in message
    assert "endpoint_id" in message


def test_no_match_means_none():
    assert find_endpoint([record("1", username="bobby"), record("2", username="alice")], "bob") is None
    assert find_endpoint([], "bob") is None


# What a task changes -----------------------------------------------------------------------------

PARAMS = {"username": "bob", "alias": "Desk", "sub_account": None, "allow_voice": None, "allow_message": None,
          "allow_video": True, "allow_same_domain": None, "allow_other_domains": False, "allow_phones": None, "allow_apps": None}


def test_desired_fields_are_only_the_options_given():
    assert desired_fields(PARAMS, ("11", "Front Desk")) == {
        "username": "bob", "alias": "Desk", "allow_video": True, "allow_other_domains": False,
        "application_id": "11", "application_name": "Front Desk"}
    assert desired_fields(dict(PARAMS, alias=None, allow_video=None, allow_other_domains=None)) == {"username": "bob"}


def test_changed_fields_are_the_differing_updatable_ones():
    live = record(username="bob", alias="Old", application_id="12", application_name="Sales", allow_video=True,
                  allow_other_domains=False)
    desired = desired_fields(PARAMS, ("11", "Front Desk"))
    assert changed_fields(desired, live) == {"alias": "Desk", "application_id": "11", "application_name": "Front Desk"}
    assert changed_fields(desired, dict(live, alias="Desk", application_id="11")) == {}


def test_flags_the_api_did_not_report_are_not_compared():
    live = record(username="bob", alias="Desk")  # compact shape: every allow_* flag is None
    desired = desired_fields(PARAMS)
    assert changed_fields(desired, live) == {}
    assert unreported_fields(desired, live) == ["allow_video", "allow_other_domains"]
    assert locked_conflicts(desired, live) == []


def test_locked_fields_that_differ_are_conflicts():
    live = record(username="bob", allow_other_domains=True, allow_phones=True, sub_account=None)
    desired = dict(desired_fields(PARAMS), allow_phones=True, sub_account="SA_ONE")
    conflicts = locked_conflicts(desired, live)
    assert conflicts == [("sub_account", "SA_ONE", None), ("allow_other_domains", False, True)]
    message = locked_conflict_message(live, conflicts)
    assert "sub_account: wanted SA_ONE, actual null" in message
    assert "allow_other_domains: wanted false, actual true" in message
    assert "Recreate" in message and live["endpoint_id"] in message


def test_a_rewritten_username_is_no_conflict_but_another_one_is():
    assert locked_conflicts({"username": "bob"}, record(username="bob839126617620")) == []
    assert locked_conflicts({"username": "bob"}, record(username="alice")) == [("username", "bob", "alice")]


def test_create_request_sends_given_fields_and_both_application_spellings():
    desired = desired_fields(PARAMS, ("20000000000000001", "Front Desk"))
    assert create_request(desired, PASSWORD) == {
        "username": "bob", "password": PASSWORD, "alias": "Desk", "allow_video": True, "allow_other_domains": False,
        "application": 20000000000000001, "app_id": 20000000000000001}
    assert create_request({"username": "bob"}, PASSWORD) == {"username": "bob", "password": PASSWORD}


def test_update_request_sends_changes_and_the_password_only_when_asked():
    changes = {"alias": "Desk", "application_id": "11", "application_name": "Front Desk"}
    assert update_request(changes) == {"alias": "Desk", "application": 11, "app_id": 11}
    assert update_request({}, PASSWORD) == {"password": PASSWORD}


def test_planned_record_keeps_the_live_username():
    live = record(username="bob839126617620", alias="Old")
    planned = planned_record({"username": "bob", "alias": "New"}, live)
    assert planned["username"] == "bob839126617620" and planned["alias"] == "New" and planned["endpoint_id"] == live["endpoint_id"]
    new = planned_record({"username": "bob", "alias": "New"})
    assert new["endpoint_id"] is None and new["username"] == "bob" and set(new) == set(RECORD_KEYS)


def test_unapplied_fields_name_what_the_api_ignored():
    sent = {"alias": "New", "application_id": "11", "application_name": "Front Desk"}
    assert unapplied_fields(sent, record(alias="New", application_id="12")) == [("application_id", "11", "12")]
    assert unapplied_fields(sent, record(alias="New", application_id="11")) == []


# Diff ----------------------------------------------------------------------------------------------

def test_diff_shows_managed_fields_and_never_the_password():
    live = record(username="bob", alias="Old", allow_voice=True)
    after = planned_record({"alias": "New"}, live)
    diff = endpoint_diff(live, after, password_sent=True)
    assert diff["before"]["alias"] == "Old" and diff["after"]["alias"] == "New"
    assert diff["after"]["password"] == PASSWORD_MARKER and "password" not in diff["before"]
    assert "allow_video" not in diff["after"]  # not reported: left out rather than shown as null
    assert diff["before"]["allow_voice"] is True
    assert "sip_registered" not in diff["before"]  # only managed fields
    assert diff["before_header"] == diff["after_header"] == "endpoint 100000000000001"


def test_diff_of_create_and_delete():
    created = endpoint_diff(None, planned_record({"username": "bob"}), password_sent=True)
    assert created["before"] == {} and created["after"]["username"] == "bob" and created["after_header"] == "endpoint (new)"
    deleted = endpoint_diff(record(username="bob"), None)
    assert deleted["after"] == {} and deleted["after_header"] == "(absent)"
