# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""changes.py: what a task wants of an endpoint, what that changes, and the requests that change it."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.changes import (
    changed_fields,
    create_request,
    desired_fields,
    locked_conflict_message,
    locked_conflicts,
    planned_record,
    unapplied_fields,
    unreported_fields,
    update_request,
)
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS
from ansible_collections.vobiz.sip.tests.unit.records import endpoint_record as record

PASSWORD = "pw-unit-9f2c-secret"


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
    for missing in (None, ""):
        with pytest.raises(EndpointError, match="password is required to create endpoint bob, which does not exist yet"):
            create_request({"username": "bob"}, missing)


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
