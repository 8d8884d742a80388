# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""diff.py: Ansible's --diff of an endpoint, never the password."""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.changes import planned_record
from ansible_collections.vobiz.sip.plugins.module_utils.diff import PASSWORD_MARKER, endpoint_diff
from ansible_collections.vobiz.sip.tests.unit.records import endpoint_record as record


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
