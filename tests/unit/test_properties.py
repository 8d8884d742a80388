# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (hypothesis) of what turns API text into records and records into drift reports.

- normalize_endpoint: any JSON value in any field gives a complete normalised record or MalformedRecordError,
  never another exception; the documented shapes are never rejected.
- VobizClient: any record, page body or sequence of page bodies gives records or one VobizError, never another
  exception, never a loop, and the token never appears in the message.
- The drift comparison (plugins/filter/endpoint_drift.py): a desired list made from the live account is in sync;
  every live endpoint and every desired item is accounted for exactly once; passwords never reach a report;
  any desired input gives a report or AnsibleFilterError.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid

from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.filter import endpoint_drift
from ansible_collections.vobiz.sip.plugins.module_utils.api import MAX_WALKS, VobizClient, VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.records import (
    ALLOW_FLAGS,
    RECORD_KEYS,
    MalformedRecordError,
    normalize_endpoint,
)

TOKEN = "prop-token-%s" % uuid.uuid4().hex
BOOLEAN_KEYS = ("sip_registered",) + ALLOW_FLAGS
TEXT_KEYS = tuple(key for key in RECORD_KEYS if key not in BOOLEAN_KEYS)
API_FIELDS = ("endpoint_id", "username", "alias", "sip_uri", "sip_registered", "sip_contact", "sip_expires", "sip_user_agent",
              "application", "sub_account", "created_at", "updated_at", "resource_uri", "sip_registration") + ALLOW_FLAGS
# Hypothesis keeps caches in ./.hypothesis; outside the checkout, they never reach sanity or a commit.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "vobiz-sip-hypothesis"))
# No example database: every run explores afresh.
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Any JSON value, NaN and infinities included (Python's json module accepts them from a server).
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=10)
with_token = st.one_of(json_values, st.just(TOKEN), st.text(max_size=8).map(lambda text: text + TOKEN))
digits = st.text("0123456789", min_size=1, max_size=15)
usernames = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
maybe_text = st.none() | st.text(max_size=30)
maybe_flag = st.none() | st.booleans()


@st.composite
def documented_records(draw):
    """A record in the compact or the rich documented shape, nulls present or left out."""
    endpoint_id = draw(digits)
    app_id = draw(st.none() | digits)
    record = {"endpoint_id": endpoint_id, "username": draw(usernames), "alias": draw(maybe_text),
              "sip_uri": draw(maybe_text), "sub_account": draw(st.none() | st.sampled_from(["SA_ONE", "SA_TWO"])),
              "resource_uri": "/v1/Account/MA_X/Endpoint/%s/" % endpoint_id}
    if draw(st.booleans()):  # compact
        record["application"] = "/v1/Account/MA_X/Application/%s/" % app_id if app_id else None
        record["sip_registered"] = draw(st.sampled_from(["true", "false", "True", "FALSE"]))
    else:  # rich
        record["application"] = {"app_id": app_id, "app_name": draw(maybe_text)} if app_id else None
        record["sip_registered"] = draw(st.booleans() | st.sampled_from(["true", "false"]))
        record.update((flag, draw(st.booleans())) for flag in ALLOW_FLAGS)
        record.update(sip_contact=draw(maybe_text), sip_expires=draw(maybe_text), sip_user_agent=draw(maybe_text),
                      created_at=draw(maybe_text), updated_at=draw(maybe_text))
    if draw(st.booleans()):
        record = {key: value for key, value in record.items() if value is not None}
    return record


@st.composite
def damaged_records(draw, values=json_values):
    """A documented record with one field (known or not) replaced by any JSON value."""
    record = draw(documented_records())
    key = draw(st.sampled_from(API_FIELDS) | st.text(max_size=10))
    record[key] = draw(values)
    return record


any_record = json_values | st.dictionaries(st.sampled_from(API_FIELDS) | st.text(max_size=10), json_values, max_size=14) | damaged_records()


def assert_normalised(record):
    assert set(record) == set(RECORD_KEYS)
    assert isinstance(record["endpoint_id"], str) and record["endpoint_id"]
    for key in TEXT_KEYS:
        assert record[key] is None or isinstance(record[key], str), (key, record[key])
    for key in BOOLEAN_KEYS:
        assert record[key] is None or isinstance(record[key], bool), (key, record[key])


# ---------------------------------------------------------------- normalize_endpoint


@SETTINGS
@given(any_record)
def test_any_json_gives_a_record_or_malformed_record_error(raw):
    try:
        record = normalize_endpoint(raw)
    except MalformedRecordError as error:
        assert str(error)
        return
    assert_normalised(record)


@SETTINGS
@given(documented_records())
def test_documented_shapes_are_never_rejected(raw):
    record = normalize_endpoint(raw)
    assert_normalised(record)
    assert record["endpoint_id"] == raw["endpoint_id"] and record["username"] == raw["username"]
    assert record["sip_registered"] is (str(raw["sip_registered"]).lower() == "true")
    application = raw.get("application")
    assert record["application_id"] == (None if not application else application["app_id"] if isinstance(application, dict)
                                        else application.split("/")[-2])


# ---------------------------------------------------------------- the client


def offline_client(**options):
    return VobizClient("MA_PROPTEST", TOKEN, api_url="http://127.0.0.1:9", retries=0, backoff_base=0, **options)


@SETTINGS
@given(st.one_of(any_record, damaged_records(with_token)))
def test_client_normalize_gives_a_record_or_vobiz_error_without_the_token(raw):
    try:
        record = offline_client()._normalize(raw)
    except VobizError as error:
        assert TOKEN not in str(error)
        return
    assert_normalised(record)


page_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"meta": json_values, "objects": json_values}),
    st.fixed_dictionaries({"meta": st.fixed_dictionaries({"total_count": json_values, "limit": json_values}),
                           "objects": st.lists(with_token, max_size=3)}),
    st.fixed_dictionaries({"meta": st.fixed_dictionaries({"total_count": st.integers(0, 300), "limit": st.integers(-1, 120)}),
                           "objects": st.lists(any_record, max_size=3)}),
)


@SETTINGS
@given(page_bodies)
def test_any_page_body_gives_a_page_or_vobiz_error_without_the_token(body):
    client = offline_client()
    client.request = lambda *args, **kwargs: body
    try:
        page = client._get_page("Endpoint/", {}, 0, 100)
    except VobizError as error:
        assert TOKEN not in str(error)
        return
    assert isinstance(page.objects, list) and isinstance(page.total_count, int) and page.total_count >= 0


@st.composite
def plausible_pages(draw):
    """Pages a confused server might send: small totals, records valid or not, ids that repeat."""
    total = draw(st.integers(0, 30))
    objects = draw(st.lists(st.one_of(documented_records(), any_record), max_size=6))
    return {"meta": {"total_count": total, "limit": draw(st.sampled_from([5, 10, 0, None]))}, "objects": objects}


@settings(SETTINGS, max_examples=60)
@given(st.data(), st.sampled_from([5, 10]))
def test_any_sequence_of_pages_gives_records_or_one_vobiz_error_and_stops(data, page_size):
    client = offline_client(page_size=page_size, max_concurrency=1)
    calls = []

    def fake_request(method, resource, params=None, **kwargs):
        calls.append(params)
        assert len(calls) <= MAX_WALKS * (30 // page_size + 2), "the client keeps paging"
        return data.draw(plausible_pages())

    client.request = fake_request
    try:
        records = client.list_endpoints()
    except VobizError as error:
        assert TOKEN not in str(error)
        return
    for record in records:
        assert_normalised(record)
    assert len({record["endpoint_id"] for record in records}) == len(records)


# ---------------------------------------------------------------- the drift comparison


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
