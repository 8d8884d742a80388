# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The normaliser: both documented record shapes, null-vs-missing keys, string booleans, broken records."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.records import (
    RECORD_KEYS,
    MalformedRecordError,
    application_id_of,
    matches_filters,
    normalize_endpoint,
    slugify,
)

COMPACT = {
    "alias": "Acme Desktop Phone",
    "application": "/v1/Account/MA_XXXXXXXX/Application/12345678901234567/",
    "endpoint_id": "147322537258167",
    "resource_uri": "/v1/Account/MA_XXXXXXXX/Endpoint/147322537258167/",
    "sip_registered": "false",
    "sip_uri": "sip:acme_sip_user_01@registrar.vobiz.ai",
    "sub_account": None,
    "username": "acme_sip_user_01",
}

RICH = {
    "endpoint_id": "125649946800674",
    "username": "sipuser_demo",
    "alias": "SIP Demo Phone",
    "sip_uri": "sip:sipuser_demo@registrar.vobiz.ai",
    "sip_registered": "true",
    "sip_contact": "sip:sipuser_demo@10.0.0.5:5060",
    "sip_expires": "2026-11-27T10:00:00Z",
    "sip_user_agent": "Yealink SIP-T46S",
    "application": {"app_id": "20000000000000001", "app_name": "Front Desk"},
    "sub_account": "SA_BRANCH01",
    "allow_voice": True, "allow_message": True, "allow_video": False, "allow_same_domain": True,
    "allow_other_domains": False, "allow_phones": True, "allow_apps": True,
    "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-02-03T04:05:06Z",
    "resource_uri": "/v1/Account/MA_XXXXXXXX/Endpoint/125649946800674/",
}


def test_compact_record_gets_every_key_with_nulls_for_missing_fields():
    record = normalize_endpoint(COMPACT)
    assert tuple(record) == RECORD_KEYS
    assert record["endpoint_id"] == "147322537258167"
    assert record["application_id"] == "12345678901234567"
    assert record["application_name"] is None
    assert record["sip_registered"] is False
    assert record["allow_voice"] is None and record["sip_contact"] is None and record["created_at"] is None


def test_rich_record_keeps_application_name_real_booleans_and_registration():
    record = normalize_endpoint(RICH)
    assert record["application_id"] == "20000000000000001"
    assert record["application_name"] == "Front Desk"
    assert record["sip_registered"] is True
    assert record["sub_account"] == "SA_BRANCH01"
    assert record["allow_video"] is False and record["allow_apps"] is True
    assert record["sip_user_agent"] == "Yealink SIP-T46S"
    assert record["updated_at"] == "2026-02-03T04:05:06Z"


def test_omitted_keys_equal_null_keys():
    omitted = {key: value for key, value in COMPACT.items() if value is not None and key != "application"}
    nulled = dict(COMPACT, application=None)
    assert normalize_endpoint(omitted) == normalize_endpoint(nulled)
    assert normalize_endpoint(omitted)["application_id"] is None


def test_retrieve_only_sip_registration_object_fills_registration_details():
    raw = dict(COMPACT, sip_registered="true", sip_registration={
        "contact": "sip:u@192.0.2.1:5060", "expires": 3600, "user_agent": "Zoiper", "received": "x", "path": None})
    record = normalize_endpoint(raw)
    assert record["sip_contact"] == "sip:u@192.0.2.1:5060"
    assert record["sip_expires"] == "3600"
    assert record["sip_user_agent"] == "Zoiper"


@pytest.mark.parametrize("value, expected", [("true", True), ("FALSE", False), (True, True), (False, False), (None, None)])
def test_string_and_real_booleans(value, expected):
    assert normalize_endpoint(dict(COMPACT, sip_registered=value, allow_voice=value))["sip_registered"] is expected
    assert normalize_endpoint(dict(COMPACT, allow_voice=value))["allow_voice"] is expected


@pytest.mark.parametrize("reference, expected", [
    ("/v1/Account/MA_X/Application/42/", "42"),
    ("/api/v1/Account/MA_X/Application/42", "42"),
    ("42", "42"),
    (42, "42"),
    ({"app_id": 42, "app_name": "x"}, "42"),
    ({"app_id": "42", "app_name": "x", "answer_url": "https://e.invalid", "answer_method": "POST"}, "42"),
    (None, None),
    ("", None),
])
def test_application_reference_forms(reference, expected):
    assert application_id_of(reference) == expected


def test_numeric_endpoint_id_becomes_text():
    assert normalize_endpoint(dict(COMPACT, endpoint_id=147322537258167))["endpoint_id"] == "147322537258167"


@pytest.mark.parametrize("raw, words", [
    (["not", "a", "record"], "not a JSON object"),
    ({"username": "x"}, "no endpoint_id"),
    (dict(COMPACT, sip_registered="maybe"), "sip_registered should be true or false"),
    (dict(COMPACT, allow_voice=1), "allow_voice should be true or false, got number 1"),
    (dict(COMPACT, allow_video="yes"), "allow_video should be true or false, got text 'yes'"),
    (dict(COMPACT, application=["x"]), "application should be"),
    (dict(COMPACT, application="/v1/Account/X/Number/5/"), "application should be"),
    (dict(COMPACT, sub_account={"key": "value"}), "sub_account should be an auth_id"),
    (dict(COMPACT, alias={"nested": True}), "alias should be text, got mapping {'nested': True}"),
])
def test_broken_records_raise_one_clear_error(raw, words):
    with pytest.raises(MalformedRecordError, match=words):
        normalize_endpoint(raw)


def test_sub_account_resource_uri_gives_the_auth_id():
    assert normalize_endpoint(dict(COMPACT, sub_account="/v1/Account/MA_X/Subaccount/SA_Y/"))["sub_account"] == "SA_Y"


@pytest.mark.parametrize("text, slug", [
    ("Front Desk", "front_desk"),
    ("front-desk", "front_desk"),
    ("  Réception – Paris!! ", "r_ception_paris"),
    ("SA_BRANCH01", "sa_branch01"),
    ("{{ lookup('pipe', 'id') }}", "lookup_pipe_id"),
    ("___", ""),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


# matches_filters: the API's endpoint filters evaluated locally (exclude_filters) -----------------------------

MATCHED = normalize_endpoint({"endpoint_id": "1", "username": "desk101", "alias": "Front Desk", "sub_account": "SA_BRANCH01",
                              "application": "/v1/Account/MA_X/Application/20000000000000001/"})
NO_ALIAS = normalize_endpoint({"endpoint_id": "2", "username": "lab7", "alias": None})


@pytest.mark.parametrize("query, record, expected", [
    ({"username__exact": "desk101"}, MATCHED, True),
    ({"username__exact": "desk10"}, MATCHED, False),
    ({"username__contains": "sk1"}, MATCHED, True),
    ({"username__startswith": "desk"}, MATCHED, True),
    ({"username__startswith": "esk"}, MATCHED, False),
    ({"alias__contains": "desk"}, MATCHED, False),  # case-sensitive, as the API's
    ({"alias__exact": "Front Desk"}, MATCHED, True),
    ({"alias__contains": ""}, NO_ALIAS, False),  # a null field never matches a text filter
    ({"application_id__exact": "20000000000000001"}, MATCHED, True),
    ({"application_id__isnull": "true"}, MATCHED, False),
    ({"application_id__isnull": "true"}, NO_ALIAS, True),
    ({"application_id__isnull": "false"}, MATCHED, True),
    ({"sub_account": "SA_BRANCH01"}, MATCHED, True),
    ({"sub_account": "SA_BRANCH01"}, NO_ALIAS, False),
    ({"sub_account": "SA_BRANCH01", "username__startswith": "lab"}, MATCHED, False),  # every key must match
    ({}, NO_ALIAS, True),
])
def test_matches_filters(query, record, expected):
    assert matches_filters(record, query) is expected
