"""Tests of the Vobiz API simulator itself (tests/simulator/vobiz_simulator.py), over real HTTP."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from ansible_collections.vobiz.sip.tests.harness import (hang_guard, run_bounded, speed_factor, start_in_own_session,
                                                         stop_process_tree)

SIMULATOR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "simulator")
SIMULATOR_PATH = os.path.join(SIMULATOR_DIR, "vobiz_simulator.py")
SAMPLE_PATH = os.path.join(SIMULATOR_DIR, "data", "sample.yaml")


def load_simulator_module():
    # Loaded by path: tests/ is not a package in every way this file is run (pytest, ansible-test units).
    spec = importlib.util.spec_from_file_location("vobiz_simulator_under_test", SIMULATOR_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sim_module = load_simulator_module()

AUTH_ID = "MA_TEST0001"
TOKEN = "test-token"
HEADERS = {"X-Auth-ID": AUTH_ID, "X-Auth-Token": TOKEN}
APP_FRONT, APP_SALES, APP_LAB = "20000000000000001", "20000000000000002", "20000000000000003"
COMPACT_KEYS = {"alias", "application", "endpoint_id", "resource_uri", "sip_registered", "sip_uri", "sub_account", "username"}


def make_data():
    """25 endpoints: app by i % 3 (0: none), SA_ONE when i % 5 == 0, registered when even."""
    apps = [APP_FRONT, APP_SALES, None]
    endpoints = []
    for i in range(1, 26):
        registered = i % 2 == 0
        endpoints.append({
            "endpoint_id": str(100000000000000 + i),
            "username": f"user{i:02d}" if i != 7 else "lab_user07",
            "alias": f"Desk {i}" if i != 9 else None,
            "app_id": apps[i % 3 - 1] if i % 3 else None,
            "sub_account": "SA_ONE" if i % 5 == 0 else None,
            "sip_registered": registered,
            "sip_contact": f"sip:user{i:02d}@198.51.100.{i}:5060" if registered else None,
            "sip_expires": "2026-04-02T13:00:00Z" if registered else None,
            "sip_user_agent": "Zoiper" if registered else None,
        })
    return {
        "auth_id": AUTH_ID,
        "auth_token": TOKEN,
        "applications": [
            {"app_id": APP_FRONT, "app_name": "Front Desk", "answer_url": "https://example.invalid/a"},
            {"app_id": APP_SALES, "app_name": "Sales"},
            {"app_id": APP_LAB, "app_name": "Lab", "sub_account": "SA_ONE"},
        ],
        "sub_accounts": [
            {"auth_id": "SA_ONE", "name": "One", "id": "5001"},
            {"auth_id": "SA_OFF", "name": "Disabled", "id": "5002", "enabled": False},
        ],
        "endpoints": endpoints,
    }


@pytest.fixture(scope="module")
def shared_sim():
    with sim_module.Simulator(make_data()) as simulator:
        yield simulator


@pytest.fixture
def sim(shared_sim):
    shared_sim.reset()
    return shared_sim


@pytest.fixture
def api(sim):
    session = requests.Session()
    session.headers.update(HEADERS)
    base = f"{sim.url}/api/v1/Account/{AUTH_ID}/"

    def call(method, path, **kwargs):
        return session.request(method, base + path, timeout=5, **kwargs)
    yield call
    session.close()


def list_usernames(api, **params):
    response = api("GET", "Endpoint/", params=dict(params, limit=100))
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["objects"]]


# ---------------------------------------------------------------- listing and paging

def test_default_paging_and_meta(api):
    first = api("GET", "Endpoint/").json()
    assert first["meta"] == {"limit": 20, "offset": 0, "total_count": 25, "previous": None,
                             "next": f"/v1/Account/{AUTH_ID}/Endpoint/?limit=20&offset=20"}
    assert len(first["objects"]) == 20 and first["api_id"]
    second = api("GET", "Endpoint/", params={"offset": 20}).json()
    assert second["meta"]["next"] is None
    assert second["meta"]["previous"] == f"/v1/Account/{AUTH_ID}/Endpoint/?limit=20&offset=0"
    ids = [item["endpoint_id"] for item in first["objects"] + second["objects"]]
    assert ids == [str(100000000000000 + i) for i in range(1, 26)]  # insertion order, each once


def test_last_exact_page_has_no_next(api):
    meta = api("GET", "Endpoint/", params={"limit": 5, "offset": 20}).json()["meta"]
    assert meta["next"] is None and meta["previous"] == f"/v1/Account/{AUTH_ID}/Endpoint/?limit=5&offset=15"


def test_offset_past_the_end_is_empty_with_true_total(api):
    body = api("GET", "Endpoint/", params={"offset": 500}).json()
    assert body["objects"] == [] and body["meta"]["total_count"] == 25


@pytest.mark.parametrize("params, field", [
    ({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"limit": -5}, "limit"),
    ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
])
def test_bad_paging_is_400_with_details(api, params, field):
    response = api("GET", "Endpoint/", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid request parameters"
    assert field in response.json()["details"]


def test_limit_over_max_clamp(sim, api):
    sim.configure(limit_over_max="clamp")
    body = api("GET", "Endpoint/", params={"limit": 500}).json()
    assert body["meta"]["limit"] == 100 and len(body["objects"]) == 25


@pytest.mark.parametrize("params, expected", [
    ({"username__contains": "er1"}, [f"user{i}" for i in range(10, 20)]),
    ({"username__exact": "user03"}, ["user03"]),
    ({"username__startswith": "lab_"}, ["lab_user07"]),
    ({"username__startswith": "ser0"}, []),
    ({"alias__contains": "sk 2"}, ["user02"] + [f"user{i}" for i in range(20, 26)]),
    ({"alias__exact": "Desk 4"}, ["user04"]),
    ({"application_id__exact": APP_SALES}, ["user02", "user05", "user08", "user11", "user14", "user17", "user20", "user23"]),
    ({"application_id__isnull": "true"}, ["user03", "user06", "user09", "user12", "user15", "user18", "user21", "user24"]),
    ({"sub_account": "SA_ONE"}, ["user05", "user10", "user15", "user20", "user25"]),
    ({"username__startswith": "user1", "application_id__isnull": "false"}, ["user10", "user11", "user13", "user14", "user16", "user17", "user19"]),
    ({"no_such_filter": "x", "username__exact": "user01"}, ["user01"]),
])
def test_filters(api, params, expected):
    assert list_usernames(api, **params) == expected


def test_filter_total_count_counts_matches(api):
    assert api("GET", "Endpoint/", params={"sub_account": "SA_ONE"}).json()["meta"]["total_count"] == 5


def test_bad_filter_value_is_400(api):
    response = api("GET", "Endpoint/", params={"application_id__isnull": "maybe"})
    assert response.status_code == 400 and "application_id__isnull" in response.json()["details"]


# ---------------------------------------------------------------- shapes and nulls

def test_compact_shape_is_the_default(api):
    objects = {item["username"]: item for item in api("GET", "Endpoint/", params={"limit": 100}).json()["objects"]}
    assert all(set(item) == COMPACT_KEYS for item in objects.values())
    assert objects["user01"] == {
        "alias": "Desk 1", "application": f"/v1/Account/{AUTH_ID}/Application/{APP_FRONT}/",
        "endpoint_id": "100000000000001", "resource_uri": f"/v1/Account/{AUTH_ID}/Endpoint/100000000000001/",
        "sip_registered": "false", "sip_uri": "sip:user01@registrar.vobiz.ai", "sub_account": None, "username": "user01",
    }
    assert objects["user10"]["sip_registered"] == "true" and objects["user10"]["sub_account"] == "SA_ONE"
    assert objects["user03"]["application"] is None


def test_rich_shape_list_and_retrieve(sim, api):
    sim.configure(shape="rich")
    listed = {item["username"]: item for item in api("GET", "Endpoint/", params={"limit": 100}).json()["objects"]}
    assert listed["user01"]["application"] == {"app_id": APP_FRONT, "app_name": "Front Desk"}
    assert listed["user01"]["allow_voice"] is True and listed["user01"]["allow_video"] is False
    assert listed["user01"]["created_at"].endswith("Z") and listed["user01"]["sip_registered"] == "false"
    assert listed["user01"]["sip_contact"] is None and "sip_registration" not in listed["user02"]
    registered = api("GET", "Endpoint/100000000000002/").json()
    assert registered["sip_registration"]["contact"] == "sip:user02@198.51.100.2:5060"
    assert registered["application"] == {"app_id": APP_SALES, "app_name": "Sales", "answer_url": None, "answer_method": "POST"}
    assert registered["api_id"]
    assert "sip_registration" not in api("GET", "Endpoint/100000000000001/").json()


def test_mixed_shape_is_deterministic_per_record(sim, api):
    sim.configure(shape="mixed")
    objects = api("GET", "Endpoint/", params={"limit": 100}).json()["objects"]
    for item in objects:
        rich = int(item["endpoint_id"]) % 2 == 0
        assert ("allow_voice" in item) == rich, item
    assert objects == api("GET", "Endpoint/", params={"limit": 100}).json()["objects"]


def test_nulls_omit_leaves_out_null_keys(sim, api):
    sim.configure(nulls="omit", shape="rich")
    body = api("GET", "Endpoint/", params={"limit": 100}).json()
    assert "previous" not in body["meta"] and "next" not in body["meta"]
    by_name = {item["username"]: item for item in body["objects"]}
    assert "application" not in by_name["user03"] and "sub_account" not in by_name["user01"]
    assert "alias" not in by_name["user09"] and "sip_contact" not in by_name["user01"]
    assert by_name["user05"]["sub_account"] == "SA_ONE"
    assert "null" not in json.dumps(body)


# ---------------------------------------------------------------- auth and routing

@pytest.mark.parametrize("headers, path_account", [
    ({"X-Auth-ID": AUTH_ID, "X-Auth-Token": "wrong"}, AUTH_ID),
    ({"X-Auth-ID": "MA_OTHER", "X-Auth-Token": TOKEN}, AUTH_ID),
    ({}, AUTH_ID),
    (HEADERS, "MA_OTHER"),
])
def test_auth_failures_are_401(sim, headers, path_account):
    response = requests.get(f"{sim.url}/api/v1/Account/{path_account}/Endpoint/", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "Authentication failed"  # the client adds the fix; the API names no header


def test_auth_check_off_accepts_anything(sim):
    sim.configure(auth_check=False)
    assert requests.get(f"{sim.url}/api/v1/Account/{AUTH_ID}/Endpoint/", timeout=5).status_code == 200


@pytest.mark.parametrize("path", ["Endpoint", "endpoint/", "Endpoint/100000000000001", "Endpoints/"])
def test_paths_are_case_sensitive_and_need_the_slash(api, path):
    assert api("GET", path).status_code == 404


def test_unsupported_method_is_405(api):
    assert api("PUT", "Endpoint/100000000000001/", json={}).status_code == 405


# ---------------------------------------------------------------- retrieve, create, update, delete

def test_retrieve_and_404_body(api):
    assert api("GET", "Endpoint/100000000000004/").json()["username"] == "user04"
    missing = api("GET", "Endpoint/999/")
    assert missing.status_code == 404
    assert missing.json()["error"] == "Endpoint not found" and missing.json()["endpoint_id"] == "999"


def test_create_201_and_defaults(sim, api):
    response = api("POST", "Endpoint/", json={"username": "new_phone", "password": "s3cret-pass", "alias": "New",
                                              "application": int(APP_SALES)})
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "created" and body["username"] == "new_phone" and body["alias"] == "New"
    assert re.fullmatch(r"\d{15}", body["endpoint_id"]) and int(body["endpoint_id"]) > 100000000000025
    assert body["sip_uri"] == "sip:new_phone@registrar.vobiz.ai"
    assert body["resource_uri"] == f"/v1/Account/{AUTH_ID}/Endpoint/{body['endpoint_id']}/"
    stored = sim.endpoints[-1]
    assert stored["app_id"] == APP_SALES and stored["password"] == "s3cret-pass"
    assert {flag: stored[flag] for flag in sim_module.ALLOW_DEFAULTS} == sim_module.ALLOW_DEFAULTS
    assert api("GET", f"Endpoint/{body['endpoint_id']}/").json()["username"] == "new_phone"


def test_create_accepts_app_id_as_string(sim, api):
    assert api("POST", "Endpoint/", json={"username": "by_app_id", "password": "password1", "app_id": APP_FRONT}).status_code == 201
    assert sim.endpoints[-1]["app_id"] == APP_FRONT


@pytest.mark.parametrize("payload, fields", [
    ({"password": "password1"}, {"username"}),
    ({"username": "bad-name!", "password": "password1"}, {"username"}),
    ({"username": "okname", "password": "short"}, {"password"}),
    ({"username": "okname", "password": "password1", "application": 42}, {"application"}),
    ({"username": "okname", "password": "password1", "sub_account": "SA_NOPE"}, {"sub_account"}),
    ({"username": "okname", "password": "password1", "allow_video": "yes"}, {"allow_video"}),
    ({"username": "bad name"}, {"username", "password"}),
])
def test_create_400_details(sim, api, payload, fields):
    response = api("POST", "Endpoint/", json=payload)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid request parameters"
    assert set(response.json()["details"]) == fields
    assert len(sim.endpoints) == 25


def test_create_without_json_body_is_400(api):
    response = api("POST", "Endpoint/", data="not json")
    assert response.status_code == 400 and "body" in response.json()["details"]


def test_create_duplicate_is_409(api):
    response = api("POST", "Endpoint/", json={"username": "user01", "password": "password1"})
    assert response.status_code == 409
    assert response.json()["error"] == "username already exists" and response.json()["username"] == "user01"


def test_rewrite_usernames(sim, api):
    sim.configure(rewrite_usernames=True)
    first = api("POST", "Endpoint/", json={"username": "sairam", "password": "password1"}).json()
    second = api("POST", "Endpoint/", json={"username": "sairam", "password": "password1"})
    assert second.status_code == 201  # the base name is free, so no 409: clients must match idempotently
    names = [first["username"], second.json()["username"]]
    assert all(re.fullmatch(r"sairam\d{12}", name) for name in names) and names[0] != names[1]
    assert [ep["username"] for ep in sim.endpoints[-2:]] == names
    assert api("POST", "Endpoint/", json={"username": "user01", "password": "password1"}).status_code == 409


def test_update_is_202_with_empty_body(sim, api):
    response = api("POST", "Endpoint/100000000000001/", json={"alias": "Renamed", "password": "newpassword",
                                                              "app_id": APP_SALES, "allow_video": True})
    assert response.status_code == 202 and response.content == b""
    stored = sim.endpoints[0]
    assert (stored["alias"], stored["password"], stored["app_id"], stored["allow_video"]) == ("Renamed", "newpassword", APP_SALES, True)


def test_update_application_null_clears_it(sim, api):
    assert api("POST", "Endpoint/100000000000001/", json={"application": None}).status_code == 202
    assert sim.endpoints[0]["app_id"] is None


@pytest.mark.parametrize("field", ["username", "allow_same_domain", "allow_other_domains", "allow_phones",
                                   "allow_apps", "sub_account", "endpoint_id"])
def test_update_locked_field_is_400(sim, api, field):
    response = api("POST", "Endpoint/100000000000001/", json={field: "x", "alias": "changed"})
    assert response.status_code == 400
    assert field in response.json()["details"]
    assert sim.endpoints[0]["alias"] == "Desk 1"  # nothing applied


def test_update_unknown_app_400_and_unknown_endpoint_404(api):
    assert api("POST", "Endpoint/100000000000001/", json={"application": 999}).status_code == 400
    missing = api("POST", "Endpoint/999/", json={"alias": "x"})
    assert missing.status_code == 404 and missing.content == b""


def test_update_ignores_application_switch(sim, api):
    sim.configure(update_ignores_application=True)
    assert api("POST", "Endpoint/100000000000001/", json={"application": int(APP_SALES)}).status_code == 202
    assert sim.endpoints[0]["app_id"] == APP_FRONT
    assert api("POST", "Endpoint/100000000000001/", json={"app_id": APP_SALES}).status_code == 202
    assert sim.endpoints[0]["app_id"] == APP_SALES


def test_delete_204_then_404(sim, api):
    deleted = api("DELETE", "Endpoint/100000000000003/")
    assert deleted.status_code == 204 and deleted.content == b""
    assert api("DELETE", "Endpoint/100000000000003/").status_code == 404
    assert api("GET", "Endpoint/100000000000003/").status_code == 404
    assert len(sim.endpoints) == 24


# ---------------------------------------------------------------- applications and sub-accounts

def test_applications_paging_and_retrieve(api):
    first = api("GET", "Application/", params={"limit": 2}).json()
    assert [app["app_id"] for app in first["objects"]] == [APP_FRONT, APP_SALES]
    assert first["meta"]["total_count"] == 3
    assert first["meta"]["next"] == f"/v1/Account/{AUTH_ID}/Application/?limit=2&offset=2"
    second = api("GET", "Application/", params={"limit": 2, "offset": 2}).json()
    assert [app["app_name"] for app in second["objects"]] == ["Lab"] and second["meta"]["next"] is None
    assert second["objects"][0]["sub_account"] == "SA_ONE"
    assert second["objects"][0]["resource_uri"] == f"/v1/Account/{AUTH_ID}/Application/{APP_LAB}/"
    assert api("GET", f"Application/{APP_FRONT}/").json()["answer_url"] == "https://example.invalid/a"
    missing = api("GET", "Application/1/")
    assert missing.status_code == 404 and missing.json() == {**missing.json(), "error": "Application not found", "app_id": "1"}
    assert api("GET", "Application/", params={"limit": 101}).status_code == 400


def test_sub_accounts(sim):
    url = f"{sim.url}/api/v1/accounts/{AUTH_ID}/sub-accounts/"
    body = requests.get(url, headers=HEADERS, timeout=5).json()
    assert (body["total"], body["page"], body["size"]) == (2, 1, 25)
    assert body["sub_accounts"][0] == {"id": "5001", "auth_id": "SA_ONE", "name": "One", "enabled": True, "created": "2026-01-01",
                                       "resource_uri": f"/v1/Account/{AUTH_ID}/Subaccount/SA_ONE/", "auth_token": "********"}
    active = requests.get(url, headers=HEADERS, params={"active_only": "true"}, timeout=5).json()
    assert [sub["auth_id"] for sub in active["sub_accounts"]] == ["SA_ONE"]
    paged = requests.get(url, headers=HEADERS, params={"page": 2, "size": 1}, timeout=5).json()
    assert [sub["auth_id"] for sub in paged["sub_accounts"]] == ["SA_OFF"]
    assert requests.get(url, headers={}, timeout=5).status_code == 401


# ---------------------------------------------------------------- faults, lies, rate limits

def test_429_fault_with_retry_after_then_success(sim, api):
    sim.configure(faults=[{"kind": "429", "times": 2, "method": "GET", "path_contains": "offset=40", "retry_after": "1"},
                          {"kind": "503", "times": 1}])
    assert api("GET", "Endpoint/", params={"offset": 0}).status_code == 503  # the second rule; no Retry-After
    limited = [api("GET", "Endpoint/", params={"offset": 40}) for _attempt in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].headers["Retry-After"] == "1" and limited[0].json()["error"]
    assert [r["fault"] for r in sim.requests] == ["503", "429", "429", None]
    assert sim.switches["faults"] == []


def test_5xx_without_retry_after_has_no_header(sim, api):
    sim.configure(faults=[{"kind": "500"}])
    response = api("GET", "Endpoint/")
    assert response.status_code == 500 and "Retry-After" not in response.headers


def test_other_fault_kinds(sim, api):
    sim.configure(faults=[{"kind": "reset"}, {"kind": "truncated"}, {"kind": "html502"}, {"kind": "nonjson200"},
                          {"kind": "slow", "delay_s": 0.2}])
    with pytest.raises(requests.ConnectionError):
        api("GET", "Endpoint/")
    truncated = api("GET", "Endpoint/")
    assert truncated.status_code == 200
    with pytest.raises(ValueError):
        truncated.json()
    html = api("GET", "Endpoint/")
    assert html.status_code == 502 and html.text.startswith("<html>") and html.headers["Content-Type"] == "text/html"
    plain = api("GET", "Endpoint/")
    assert plain.status_code == 200 and plain.text == "OK" and plain.headers["Content-Type"] == "text/plain"
    assert api("GET", "Endpoint/").json()["meta"]["total_count"] == 25
    recorded = sim.requests
    assert recorded[0]["status"] is None and recorded[-1]["finished"] - recorded[-1]["started"] >= 0.2


def test_unknown_fault_kind_is_rejected(sim):
    with pytest.raises(ValueError, match="kind"):
        sim.configure(faults=[{"kind": "418"}])


@pytest.mark.parametrize("style, check", [
    ("nested", lambda r: r.json()["error"]["code"] == "NOT_FOUND" and r.json()["status"] == "error" and "requestId" in r.json()),
    ("text", lambda r: r.text == "Endpoint not found\n" and r.headers["Content-Type"].startswith("text/plain")),
    ("flat", lambda r: r.json()["error"] == "Endpoint not found"),
])
def test_error_styles(sim, api, style, check):
    sim.configure(error_style=style)
    response = api("GET", "Endpoint/999/")
    assert response.status_code == 404 and check(response)


def test_total_count_extra_lies(sim, api):
    sim.configure(total_count_extra=7)
    assert api("GET", "Endpoint/").json()["meta"]["total_count"] == 32


def test_rate_limit_token_bucket(sim, api):
    sim.configure(rate_limit={"rate": 0.5, "burst": 2})
    statuses = [api("GET", "Endpoint/").status_code for _attempt in range(3)]
    assert statuses == [200, 200, 429]
    assert int(api("GET", "Endpoint/").headers["Retry-After"]) >= 1


def test_rate_limit_can_refuse_without_retry_after(sim, api):
    sim.configure(rate_limit={"rate": 0.5, "burst": 1, "retry_after": False})
    assert api("GET", "Endpoint/").status_code == 200
    refused = api("GET", "Endpoint/")
    assert refused.status_code == 429 and "Retry-After" not in refused.headers and "retryAfter" not in refused.json()
    with pytest.raises(ValueError, match="retry_after"):
        sim.configure(rate_limit={"rate": 1, "burst": 1, "retry_after": "no"})


def test_balanced_create_and_delete_after_the_first_page(sim, api):
    """Two rules with the same K: delete the first endpoint and create one at the end, total_count unchanged."""
    sim.configure(page_mutations=[{"after_list_requests": 1, "remove": 1, "where": "start"},
                                  {"after_list_requests": 1, "add": 1, "where": "end"}])
    first = api("GET", "Endpoint/", params={"limit": 10}).json()
    second = api("GET", "Endpoint/", params={"limit": 10, "offset": 10}).json()
    assert first["meta"]["total_count"] == second["meta"]["total_count"] == 25
    assert second["objects"][0]["username"] == "user12"  # user11 moved across the page boundary
    assert list_usernames(api)[-1] == "paged00001"


def test_page_mutations_apply_after_the_kth_list(sim, api):
    sim.configure(page_mutations=[{"after_list_requests": 1, "add": 2, "remove": 1, "where": "start"}])
    first = api("GET", "Endpoint/", params={"limit": 10}).json()
    assert first["meta"]["total_count"] == 25 and first["objects"][0]["username"] == "user01"
    second = api("GET", "Endpoint/", params={"limit": 10}).json()
    assert second["meta"]["total_count"] == 26
    assert [item["username"] for item in second["objects"][:3]] == ["paged00001", "paged00002", "user02"]
    assert "user01" not in list_usernames(api)
    assert sim.switches["page_mutations"] == []  # applied once
    assert api("GET", "Endpoint/").json()["meta"]["total_count"] == 26


def test_page_mutations_at_end(sim, api):
    sim.configure(page_mutations=[{"after_list_requests": 2, "add": 1, "remove": 3, "where": "end"}])
    api("GET", "Endpoint/")
    assert api("GET", "Endpoint/").json()["meta"]["total_count"] == 25
    names = list_usernames(api)
    assert len(names) == 23 and names[-2:] == ["user22", "paged00001"]


def test_a_request_that_outlives_a_reset_leaves_the_next_test_alone(sim, api):
    """A list request still sleeping in a slow fault when reset() runs (the client gave up on it) must not count
    toward, or trigger, the next test's page_mutations, nor appear in its request log: it is dropped."""
    # Long enough that the reset below comes while it sleeps, on a slow machine too.
    sim.configure(faults=[{"kind": "slow", "times": 1, "delay_s": 2.0 * speed_factor()}])
    late = {}

    def call_and_give_up():
        try:
            late["response"] = api("GET", "Endpoint/", params={"limit": 10})
        except requests.RequestException as exc:
            late["error"] = exc
    sleeper = threading.Thread(target=call_and_give_up)
    sleeper.start()
    deadline = time.monotonic() + hang_guard(5)
    while sim.switches["faults"] and time.monotonic() < deadline:  # taken when the request starts sleeping in it
        time.sleep(0.02)
    assert sim.switches["faults"] == [], "the slow request never arrived"
    sim.reset()
    sim.configure(page_mutations=[{"after_list_requests": 1, "remove": 3, "where": "start"}])
    sleeper.join(hang_guard(5))
    assert not sleeper.is_alive()
    assert "error" in late, "the stale request was answered: %r" % late
    assert sim.state()["list_requests"] == 0 and sim.requests == []
    assert sim.switches["page_mutations"] != []  # still waiting for this test's first list request
    first = api("GET", "Endpoint/", params={"limit": 10}).json()
    assert first["meta"]["total_count"] == 25 and first["objects"][0]["username"] == "user01"


# ---------------------------------------------------------------- concurrency, recording, control API

def test_latency_makes_concurrent_requests_overlap(sim):
    sim.configure(latency_ms=300)
    threads = [threading.Thread(target=requests.get, args=(f"{sim.url}/api/v1/Account/{AUTH_ID}/Endpoint/",),
                                kwargs={"headers": HEADERS, "timeout": 5}) for _attempt in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = sim.requests
    assert first["thread"] != second["thread"]
    assert max(first["started"], second["started"]) < min(first["finished"], second["finished"])
    assert all(r["finished"] - r["started"] >= 0.3 for r in (first, second))


def test_keep_alive_reuses_one_connection(api, sim):
    for _attempt in range(3):
        assert api("GET", "Endpoint/").headers.get("Connection", "keep-alive").lower() != "close"
    assert len({r["thread"] for r in sim.requests}) == 1  # one handler thread = one connection


def test_recorded_request_fields(sim, api):
    api("GET", "Endpoint/", params={"limit": 5, "username__contains": "user"})
    api("POST", "Endpoint/", json={"username": "rec", "password": "password1"})
    listing, create = sim.requests
    assert listing["method"] == "GET" and listing["path"] == f"/api/v1/Account/{AUTH_ID}/Endpoint/"
    assert listing["query"] == {"limit": "5", "username__contains": "user"} and listing["status"] == 200
    assert create["status"] == 201 and create["body"]["username"] == "rec"
    assert sim.reset_requests() == 2 and sim.requests == []


def test_control_api_over_http(sim, api):
    control = f"{sim.url}/_sim"
    assert requests.post(f"{control}/config", json={"shape": "rich"}, timeout=5).json()["shape"] == "rich"
    assert "allow_voice" in api("GET", "Endpoint/100000000000001/").json()
    bad = requests.post(f"{control}/config", json={"shape": "round"}, timeout=5)
    assert bad.status_code == 400 and "shape" in bad.json()["error"]
    assert requests.post(f"{control}/config", json={"nope": 1}, timeout=5).status_code == 400
    api("DELETE", "Endpoint/100000000000001/")
    recorded = requests.get(f"{control}/requests", timeout=5).json()
    assert [(r["method"], r["status"]) for r in recorded] == [("GET", 200), ("DELETE", 204)]  # control calls not recorded
    state = requests.get(f"{control}/state", timeout=5).json()
    assert len(state["endpoints"]) == 24 and state["switches"]["shape"] == "rich" and len(state["applications"]) == 3
    assert requests.delete(f"{control}/requests", timeout=5).json() == {"cleared": 2}
    assert sim.requests == []
    assert requests.post(f"{control}/reset", timeout=5).json() == {"reset": True}
    assert len(sim.endpoints) == 25 and sim.switches["shape"] == "compact"
    assert requests.get(f"{control}/nothing", timeout=5).status_code == 404


def test_control_requests_skip_faults_and_latency(sim):
    # A latency far above the request's timeout: the answer can only come in time if the latency was skipped.
    sim.configure(faults=[{"kind": "500", "times": 5}], latency_ms=60000)
    response = requests.get(f"{sim.url}/_sim/state", timeout=15)
    assert response.status_code == 200 and response.json()["switches"]["faults"][0]["times"] == 5


# ---------------------------------------------------------------- library, data, CLI

def test_configure_rejects_unknown_and_bad_switches(sim):
    with pytest.raises(ValueError, match="unknown switch"):
        sim.configure(colour="blue")
    with pytest.raises(ValueError, match="limit_over_max"):
        sim.configure(limit_over_max="ignore")
    assert sim.switches == sim_module.DEFAULT_SWITCHES


def test_binds_to_loopback_only():
    with pytest.raises(ValueError, match="127.0.0.1"):
        sim_module.Simulator(make_data(), host="0.0.0.0")


def test_stop_closes_keep_alive_connections():
    simulator = sim_module.Simulator(make_data())
    base = simulator.start()
    session = requests.Session()
    assert session.get(f"{base}/_sim/health", timeout=5).json() == {"ok": True}
    simulator.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{base}/_sim/health", timeout=5)
    assert simulator.url is None


def test_bad_data_is_rejected():
    data = make_data()
    data["endpoints"].append(dict(data["endpoints"][0], endpoint_id="1"))
    with pytest.raises(ValueError, match="duplicate username"):
        sim_module.Simulator(data)


def test_sample_data_file():
    with sim_module.Simulator(SAMPLE_PATH) as simulator:
        endpoints = simulator.endpoints
        assert 280 <= len(endpoints) <= 320
        assert len({ep["username"] for ep in endpoints}) == len(endpoints)
        assert all(re.fullmatch(r"[A-Za-z0-9_]+", ep["username"]) for ep in endpoints)
        assert sum(ep["sub_account"] == "SA_BRANCH01" for ep in endpoints) == 40
        assert 0.35 <= sum(ep["sip_registered"] for ep in endpoints) / len(endpoints) <= 0.55
        assert sum(ep["app_id"] is None for ep in endpoints) == 20
        aliases = {ep["alias"] for ep in endpoints}
        assert "{{ lookup('pipe', 'id') }}" in aliases and any(a and "\n" in a for a in aliases)
        assert any(a and len(a) >= 300 for a in aliases)
        names = {app["app_name"] for app in simulator.state()["applications"]}
        assert {"Front Desk", "front-desk"} <= names and any(not name.isascii() for name in names)
        session = requests.Session()
        session.headers.update({"X-Auth-ID": simulator.auth_id, "X-Auth-Token": simulator.auth_token})
        seen = []
        for offset in range(0, len(endpoints), 100):
            page = session.get(f"{simulator.url}/api/v1/Account/{simulator.auth_id}/Endpoint/",
                               params={"limit": 100, "offset": offset}, timeout=5).json()
            seen += [item["endpoint_id"] for item in page["objects"]]
        assert seen == [ep["endpoint_id"] for ep in endpoints]
    assert os.path.getsize(SAMPLE_PATH) < 300 * 1024


def test_generate_data_is_deterministic():
    data = sim_module.generate_data(1000)
    assert data == sim_module.generate_data(1000)
    endpoints = data["endpoints"]
    assert sum(ep["sip_registered"] for ep in endpoints) == 400
    assert any(ep["app_id"] is None for ep in endpoints)
    assert {ep["sub_account"] for ep in endpoints} == {None, "SA_BRANCH01", "SA_LAB0002"}
    assert {"Front Desk", "front-desk"} <= {app["app_name"] for app in data["applications"]}
    assert len(sim_module.Simulator(data).endpoints) == 1000


def test_cli_runs_until_sigterm(tmp_path):
    port_file = tmp_path / "port"
    process = start_in_own_session(
        [sys.executable, SIMULATOR_PATH, "--generate", "30", "--port", "0", "--port-file", str(port_file),
         "--shape", "rich", "--config", json.dumps({"total_count_extra": 1})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"vobiz simulator listening on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, line + process.stderr.read()
        assert port_file.read_text().strip() == match.group(1)
        body = requests.get(f"http://127.0.0.1:{match.group(1)}/api/v1/Account/MA_DEMO0001/Endpoint/",
                            headers={"X-Auth-ID": "MA_DEMO0001", "X-Auth-Token": "demo-token-not-secret"}, timeout=5).json()
        assert body["meta"]["total_count"] == 31 and "allow_voice" in body["objects"][0]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=hang_guard(2))
        finally:
            stop_process_tree(process)  # a no-op when SIGTERM ended it, as it should
            process.stdout.close()
            process.stderr.close()
    assert returncode == 0


def test_cli_rejects_other_hosts():
    result = run_bounded([sys.executable, SIMULATOR_PATH, "--generate", "1", "--host", "0.0.0.0"], hang_guard(2))
    assert result.returncode == 2 and "127.0.0.1" in result.stderr


# ---------------------------------------------------------------- reliability additions: empty pages, deletions, TLS

def test_empty_page_fault_keeps_the_true_meta(sim, api):
    sim.configure(faults=[{"kind": "empty_page", "path_contains": "offset=20"}])
    emptied = api("GET", "Endpoint/", params={"offset": 20}).json()
    assert emptied["objects"] == [] and emptied["meta"]["total_count"] == 25 and emptied["meta"]["offset"] == 20
    assert len(api("GET", "Endpoint/", params={"offset": 20}).json()["objects"]) == 5  # used up
    assert [request["fault"] for request in sim.requests] == ["empty_page", None]


def test_empty_page_fault_leaves_answers_without_objects_alone(sim, api):
    sim.configure(faults=[{"kind": "empty_page", "times": 2}])
    assert api("GET", "Endpoint/100000000000003/").json()["username"] == "user03"
    assert api("GET", "Application/").json()["objects"] == []  # any list page is emptied
    assert sim.switches["faults"] == []


def test_page_mutations_delete_while_paging_shifts_later_offsets(sim, api):
    sim.configure(page_mutations=[{"after_list_requests": 1, "remove": 3, "where": "start"}])
    first = api("GET", "Endpoint/", params={"limit": 10}).json()
    second = api("GET", "Endpoint/", params={"limit": 10, "offset": 10}).json()
    assert first["meta"]["total_count"] == 25 and second["meta"]["total_count"] == 22
    # user11..user13 slid onto the first page after it was served: a client that does not re-check skips them.
    assert second["objects"][0]["username"] == "user14"
    assert len(sim.endpoints) == 22 and sim.endpoints[0]["username"] == "user04"


@pytest.fixture(scope="module", params=["openssl", "cryptography"])
def certificates(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls-" + request.param)
    if request.param == "openssl":
        return sim_module.make_test_certificates(directory)
    paths = {name: str(directory / file) for name, file in
             (("ca", "ca.pem"), ("ca_key", "ca.key"), ("cert", "server.pem"), ("key", "server.key"))}
    sim_module._certificates_with_cryptography(paths)  # the fallback when there is no openssl command
    return paths


def test_tls_serves_https_that_only_the_test_ca_trusts(certificates):
    with sim_module.Simulator(make_data(), tls=(certificates["cert"], certificates["key"])) as simulator:
        assert simulator.url.startswith("https://127.0.0.1:")
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"{simulator.url}/_sim/health", timeout=5)  # the system CAs do not know ours
        body = session.get(f"{simulator.url}/api/v1/Account/{AUTH_ID}/Endpoint/", headers=HEADERS,
                           verify=certificates["ca"], timeout=5).json()
        assert body["meta"]["total_count"] == 25  # still serving after the refused handshake


def test_tls_faults_and_keep_alive_work_as_over_http(certificates):
    simulator = sim_module.Simulator(make_data(), tls=(certificates["cert"], certificates["key"]))
    base = simulator.start()
    session = requests.Session()
    session.trust_env = False
    session.verify = certificates["ca"]
    session.headers.update(HEADERS)
    simulator.configure(faults=[{"kind": "reset"}])
    with pytest.raises(requests.ConnectionError):
        session.get(f"{base}/api/v1/Account/{AUTH_ID}/Endpoint/", timeout=5)
    assert session.get(f"{base}/_sim/health", timeout=5).json() == {"ok": True}
    simulator.stop()  # must also close the idle TLS keep-alive connection
    with pytest.raises(requests.ConnectionError):
        session.get(f"{base}/_sim/health", timeout=5)


def test_tls_with_a_certificate_that_does_not_load_is_rejected(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate", encoding="ascii")
    with pytest.raises(ValueError, match="cannot load the TLS certificate"):
        sim_module.Simulator(make_data(), tls=(str(bogus), str(bogus)))
    with pytest.raises(ValueError, match="certfile, keyfile"):
        sim_module.Simulator(make_data(), tls="only-one-file.pem")


def test_cli_serves_tls(certificates, tmp_path):
    process = start_in_own_session(
        [sys.executable, SIMULATOR_PATH, "--generate", "3", "--tls-cert", certificates["cert"], "--tls-key", certificates["key"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"vobiz simulator listening on https://127\.0\.0\.1:(\d+)\n", line)
        assert match, line + process.stderr.read()
        session = requests.Session()
        session.trust_env = False
        body = session.get(f"https://127.0.0.1:{match.group(1)}/api/v1/Account/MA_DEMO0001/Endpoint/", verify=certificates["ca"],
                           headers={"X-Auth-ID": "MA_DEMO0001", "X-Auth-Token": "demo-token-not-secret"}, timeout=5).json()
        assert body["meta"]["total_count"] == 3
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=hang_guard(2))
        finally:
            stop_process_tree(process)  # a no-op when SIGTERM ended it, as it should
            process.stdout.close()
            process.stderr.close()
    assert returncode == 0


def test_cli_tls_cert_needs_its_key(certificates):
    result = run_bounded([sys.executable, SIMULATOR_PATH, "--generate", "1", "--tls-cert", certificates["cert"]], hang_guard(2))
    assert result.returncode == 2 and "--tls-key" in result.stderr


def test_allow_any_username_serves_names_the_api_would_refuse():
    data = make_data()
    data["endpoints"][0]["username"] = "{{ lookup('pipe', 'id') }}\n\"quoted\""
    with pytest.raises(ValueError, match="username"):
        sim_module.Simulator(data)
    data["allow_any_username"] = True
    with sim_module.Simulator(data) as simulator:
        body = requests.get(f"{simulator.url}/api/v1/Account/{AUTH_ID}/Endpoint/", headers=HEADERS, timeout=5).json()
        assert body["objects"][0]["username"] == "{{ lookup('pipe', 'id') }}\n\"quoted\""


def test_redirect_fault_sends_the_client_elsewhere(sim, api):
    sim.configure(faults=[{"kind": "redirect", "location": "http://127.0.0.1:9/elsewhere"}])
    response = api("GET", "Endpoint/", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "http://127.0.0.1:9/elsewhere"
    assert sim.requests[0]["fault"] == "redirect"
    with pytest.raises(ValueError, match="location"):
        sim.configure(faults=[{"kind": "redirect"}])


# ---------------------------------------------------------------- responses: openapi (the OAS and the SDK fixtures)

def test_openapi_responses_retrieve_create_update(sim, api):
    sim.configure(responses="openapi")
    retrieved = api("GET", "Endpoint/100000000000001/")
    assert retrieved.status_code == 200 and set(retrieved.json()) == COMPACT_KEYS  # no api_id
    created = api("POST", "Endpoint/", json={"username": "oas_phone", "password": "password1", "alias": "OAS",
                                             "application": int(APP_FRONT)})
    assert created.status_code == 200
    assert created.json() == {"alias": "OAS", "endpoint_id": sim.endpoints[-1]["endpoint_id"], "username": "oas_phone"}
    updated = api("POST", f"Endpoint/{created.json()['endpoint_id']}/", json={"alias": "OAS 2", "password": "password2"})
    assert (updated.status_code, updated.headers["Content-Type"], updated.json()) == (200, "application/json", "")
    assert (sim.endpoints[-1]["alias"], sim.endpoints[-1]["password"]) == ("OAS 2", "password2")
    assert api("DELETE", f"Endpoint/{created.json()['endpoint_id']}/").status_code == 204  # both variants


@pytest.mark.parametrize("shape", ["compact", "rich"])
def test_listings_are_the_same_in_both_response_variants(sim, api, shape):
    def listing(responses):
        sim.configure(shape=shape, responses=responses)
        body = api("GET", "Endpoint/", params={"limit": 100}).json()
        assert body.pop("api_id")
        return body
    assert listing("openapi") == listing("prose")


def test_openapi_responses_keep_the_rewritten_username_and_errors(sim, api):
    sim.configure(responses="openapi", rewrite_usernames=True)
    created = api("POST", "Endpoint/", json={"username": "sairam", "password": "password1", "alias": "Phone"}).json()
    assert re.fullmatch(r"sairam\d{12}", created["username"]) and created["username"] == sim.endpoints[-1]["username"]
    assert api("POST", "Endpoint/", json={"username": "user01", "password": "password1", "alias": "x"}).status_code == 409
    assert api("GET", "Endpoint/999/").status_code == 404
    assert api("POST", "Endpoint/999/", json={"alias": "x"}).status_code == 404


@pytest.mark.parametrize("alias", ["left out", None])
def test_openapi_responses_require_an_alias_on_create(sim, api, alias):
    sim.configure(responses="openapi")
    payload = {"username": "no_alias", "password": "password1"}
    if alias is None:
        payload["alias"] = None
    response = api("POST", "Endpoint/", json=payload)
    assert response.status_code == 400 and response.json()["details"] == {"alias": "this field is required (a string)"}
    assert len(sim.endpoints) == 25
    sim.configure(responses="prose")
    assert api("POST", "Endpoint/", json=payload).status_code == 201  # the prose leaves alias optional


def test_responses_switch_rejects_other_values(sim):
    with pytest.raises(ValueError, match="responses"):
        sim.configure(responses="fern")


def test_cli_takes_the_responses_variant(tmp_path):
    process = start_in_own_session([sys.executable, SIMULATOR_PATH, "--generate", "3", "--responses", "openapi"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = re.fullmatch(r"vobiz simulator listening on (http://127\.0\.0\.1:\d+)\n", process.stdout.readline()).group(1)
        session = requests.Session()
        session.headers.update({"X-Auth-ID": "MA_DEMO0001", "X-Auth-Token": "demo-token-not-secret"})
        base = url + "/api/v1/Account/MA_DEMO0001/Endpoint/"
        endpoint_id = session.get(base, timeout=5).json()["objects"][0]["endpoint_id"]
        assert "api_id" not in session.get(base + endpoint_id + "/", timeout=5).json()
        session.close()
    finally:
        stop_process_tree(process)
        process.stdout.close()
        process.stderr.close()


# ---------------------------------------------------------------- query quirks, settled (tests/simulator/README.md)

@pytest.mark.parametrize("value, expected", [
    ("-1", []),  # an integer no application has: nothing, not a 400
    (" " + APP_SALES, ["user02", "user05", "user08", "user11", "user14", "user17", "user20", "user23"]),
    ("0" + APP_SALES, ["user02", "user05", "user08", "user11", "user14", "user17", "user20", "user23"]),
])
def test_application_id_exact_takes_any_integer(api, value, expected):
    assert list_usernames(api, application_id__exact=value) == expected


@pytest.mark.parametrize("value", ["1.5", "", "abc", APP_SALES + "x"])
def test_application_id_exact_that_is_no_integer_is_400(api, value):
    response = api("GET", "Endpoint/", params={"application_id__exact": value})
    assert response.status_code == 400 and response.json()["details"] == {"application_id__exact": "must be an integer"}


@pytest.mark.parametrize("value, isnull", [("true", True), ("True", True), ("TRUE", True), ("1", True),
                                           ("false", False), ("False", False), ("0", False)])
def test_application_id_isnull_takes_the_spellings_clients_send(api, value, isnull):
    # requests sends Python's True as "True" (vobiz-python), httpx as "true" (the Fern SDK)
    no_app = ["user03", "user06", "user09", "user12", "user15", "user18", "user21", "user24"]
    got = list_usernames(api, application_id__isnull=value)
    assert (got == no_app) if isnull else (got and not set(got) & set(no_app))


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_sub_account_filter_is_400(api, value):
    response = api("GET", "Endpoint/", params={"sub_account": value})
    assert response.status_code == 400 and "leave sub_account out" in response.json()["details"]["sub_account"]


def test_unknown_sub_account_matches_nothing(api):
    assert list_usernames(api, sub_account="SA_NOPE") == []


@pytest.mark.parametrize("offset, previous", [(500, 5), (25, 5), (24, 4), (3, 0)])
def test_previous_past_the_end_is_the_last_page_with_records(api, offset, previous):
    meta = api("GET", "Endpoint/", params={"limit": 20, "offset": offset}).json()["meta"]
    assert meta["previous"] == f"/v1/Account/{AUTH_ID}/Endpoint/?limit=20&offset={previous}"
    assert api("GET", "Endpoint/", params={"limit": 20, "offset": previous}).json()["objects"]
