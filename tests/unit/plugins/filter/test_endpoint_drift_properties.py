# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (hypothesis) of the drift comparison (plugins/filter/endpoint_drift.py): a desired list
made from the live account is in sync; every live endpoint and every desired item is accounted for exactly once;
passwords never reach a report; any desired input gives a report or AnsibleFilterError."""

from __future__ import annotations

import json
import uuid

from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.filter import endpoint_drift
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS, RECORD_KEYS
from ansible_collections.vobiz.sip.tests.unit.strategies import SETTINGS, json_values, maybe_flag, maybe_text, usernames


@st.composite
def live_accounts(draw):
    """Normalised live records with unique ids and usernames (what endpoint_info returns)."""
    names = draw(st.lists(usernames, unique=True, max_size=8))
    records = []
    for index, name in enumerate(names):
        app_id = draw(st.none() | st.sampled_from(["20000000000000001", "20000000000000002"]))
        record = dict.fromkeys(RECORD_KEYS)
        record.update(endpoint_id=str(100000000000000 + index), username=name, alias=draw(maybe_text),
                      application_id=app_id, application_name={"20000000000000001": "Front Desk"}.get(app_id),
                      sub_account=draw(st.none() | st.just("SA_ONE")), sip_registered=draw(maybe_flag))
        record.update((flag, draw(maybe_flag)) for flag in ALLOW_FLAGS)
        records.append(record)
    return records


def desired_from(record, password=None):
    item = {"username": record["username"], "alias": record["alias"], "application": record["application_id"],
            "sub_account": record["sub_account"]}
    item.update((flag, record[flag]) for flag in ALLOW_FLAGS if record[flag] is not None)
    if password:
        item["password"] = password
    return item


def accounted_usernames(report):
    """Every username the report places, with where: each desired item and live endpoint must be in one place."""
    places = [(item["username"], "missing") for item in report["missing"]]
    places += [(item["username"], "changed") for item in report["changed"]]
    places += [(name, "in_sync") for name in report["in_sync"]]
    places += [(item["username"], "unexpected") for item in report["unexpected"]]
    return places


@SETTINGS
@given(live_accounts())
def test_drift_of_the_account_against_itself_is_none(live):
    report = endpoint_drift.compare(live, [desired_from(record) for record in live])
    assert report["drift"] is False
    assert report["missing"] == [] and report["changed"] == [] and report["unexpected"] == []
    assert sorted(report["in_sync"]) == sorted(record["username"] for record in live)
    assert report["actions"] == []


@SETTINGS
@given(live_accounts(), st.data())
def test_drift_places_every_item_and_endpoint_once_and_never_shows_a_password(live, data):
    keep = data.draw(st.lists(st.sampled_from(live), unique_by=lambda record: record["endpoint_id"]) if live else st.just([]))
    desired, passwords = [], []
    for record in keep:
        item = desired_from(record, password="pw-%s" % uuid.uuid4().hex)
        if data.draw(st.booleans()):
            item["alias"] = data.draw(st.text(min_size=1, max_size=20))
        desired.append(item)
        passwords.append(item["password"])
    for name in data.draw(st.lists(usernames.map(lambda name: "new_" + name), unique=True, max_size=3)):
        desired.append({"username": name, "password": "pw-%s" % uuid.uuid4().hex, "alias": "new"})
        passwords.append(desired[-1]["password"])
    report = endpoint_drift.compare(live, desired, allow_unexpected=data.draw(st.booleans()))
    places = accounted_usernames(report)
    assert sorted(name for name, _where in places) == sorted({item["username"] for item in desired} | {r["username"] for r in live})
    assert report["summary"]["desired"] == len(desired) and report["summary"]["live"] == len(live)
    text = json.dumps(report, default=str) + endpoint_drift.render_markdown(report) + "\n".join(endpoint_drift.report_lines(report))
    assert not [password for password in passwords if password in text]


desired_items = st.dictionaries(st.sampled_from(endpoint_drift.ITEM_KEYS) | st.text(max_size=6), json_values, max_size=6)


@SETTINGS
@given(live_accounts(), json_values | st.lists(desired_items, max_size=4))
def test_any_desired_input_gives_a_report_or_a_filter_error(live, desired):
    try:
        report = endpoint_drift.compare(live, desired)
    except AnsibleFilterError as error:
        assert str(error)
        return
    assert report["summary"]["live"] == len(live)
