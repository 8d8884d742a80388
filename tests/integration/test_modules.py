# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoint_info and vobiz.sip.endpoint through the real ansible-playbook against the simulator.

Each playbook batches several tasks and saves the registered results as JSON into tmp_path;
the tests then check those results against the simulator's data and recorded requests.
"""

from __future__ import annotations

import collections
import json
import os
import re

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_TOKEN, ansible_env, run_cli

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "modules")
PASSWORD = "pw-7d41-integration-secret"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def play(name, tmp_path, env, *options, **extra_vars):
    """ansible-playbook on one of our playbooks; returns (completed process, saved results or None)."""
    extra_vars.setdefault("out_dir", str(tmp_path))
    vars_file = tmp_path / ("%s-vars.json" % name)
    vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
    completed = run_cli("ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, name + ".yml"), "-e", "@%s" % vars_file,
                        *options, env=env)
    saved = tmp_path / (name + ".json")
    return completed, json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else None


def assert_ok(completed):
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def writes(sim):
    return [request for request in sim.requests if request["method"] in WRITE_METHODS]


def filter_cases(endpoints):
    """One value per documented filter, taken from the data so each one selects something."""
    sample = next(endpoint for endpoint in endpoints if endpoint["alias"] and endpoint["app_id"])
    return [
        {"username__contains": sample["username"][1:4]},
        {"username__exact": sample["username"]},
        {"username__startswith": sample["username"][:2]},
        {"alias__contains": sample["alias"].split()[-1]},
        {"alias__exact": sample["alias"]},
        {"application_id__exact": sample["app_id"]},
        {"application_id__isnull": True},
        {"sub_account": "SA_BRANCH01"},
    ]


def expected_ids(endpoints, filters):
    (key, value), = filters.items()
    field, _sep, test = key.partition("__")
    field = {"application_id": "app_id"}.get(field, field)
    tests = {
        "contains": lambda actual: actual is not None and value in actual,
        "exact": lambda actual: actual == value,
        "startswith": lambda actual: actual is not None and actual.startswith(value),
        "isnull": lambda actual: (actual is None) == value,
        "": lambda actual: actual == value,
    }
    return [endpoint["endpoint_id"] for endpoint in endpoints if tests[test](endpoint[field])]


def test_info_filters_ids_and_summary(sim, tmp_path):
    endpoints = sim.endpoints
    cases = filter_cases(endpoints)
    completed, saved = play("info", tmp_path, ansible_env(sim, tmp_path), filter_cases=cases, known_id=endpoints[7]["endpoint_id"])
    assert_ok(completed)
    for case, result in zip(cases, saved["filtered"]):
        (key, value), = case.items()
        wanted = expected_ids(endpoints, case)
        assert wanted, case  # every filter selects something, so a filter ignored by the client would show
        assert [record["endpoint_id"] for record in result["endpoints"]] == wanted, case
        sent = json.dumps(value).lower() if isinstance(value, bool) else value
        assert any(request["query"].get(key) == sent for request in sim.requests), case  # filtered by the server
    assert [record["username"] for record in saved["one"]["endpoints"]] == [endpoints[7]["username"]]
    assert saved["unknown"]["endpoints"] == [] and saved["unknown"]["summary"]["total"] == 0
    assert writes(sim) == []

    names = {app["app_id"]: app["app_name"] for app in sim.state()["applications"]}
    summary = saved["everything"]["summary"]
    assert summary == {
        "total": len(endpoints),
        "registered": sum(1 for endpoint in endpoints if endpoint["sip_registered"]),
        "unregistered": sum(1 for endpoint in endpoints if not endpoint["sip_registered"]),
        "without_application": sum(1 for endpoint in endpoints if not endpoint["app_id"]),
        "by_application": dict(collections.Counter(names[endpoint["app_id"]] for endpoint in endpoints if endpoint["app_id"])),
        "by_sub_account": dict(collections.Counter(endpoint["sub_account"] or "main" for endpoint in endpoints)),
    }
    assert saved["checked"]["summary"]["by_sub_account"] == {"SA_BRANCH01": summary["by_sub_account"]["SA_BRANCH01"]}


# Both response variants of the simulator (tests/simulator/README.md): the prose's 201/202 and the OpenAPI's 200s.
@pytest.mark.parametrize("rewrite, responses", [(False, "prose"), (True, "prose"), (True, "openapi")],
                         ids=["usernames-kept", "usernames-rewritten", "usernames-rewritten-openapi"])
def test_lifecycle_through_module_defaults(sim, tmp_path, rewrite, responses):
    sim.configure(rewrite_usernames=rewrite, responses=responses)
    env = ansible_env(None, tmp_path)  # no VOBIZ_* variables: the connection comes from module_defaults only
    conn = {"auth_id": SAMPLE_AUTH_ID, "auth_token": SAMPLE_TOKEN, "api_url": sim.url}
    completed, saved = play("lifecycle", tmp_path, env, conn=conn, username="lifecycle_phone", password=PASSWORD)
    assert_ok(completed)
    created = saved["create"]["endpoint"]
    if rewrite:
        assert re.fullmatch(r"lifecycle_phone\d+", created["username"]), created["username"]
        assert "matching rule" in completed.stdout + completed.stderr  # the create warns about the rewrite
    else:
        assert created["username"] == "lifecycle_phone"
    assert [(request["method"], request["body"]) for request in writes(sim)] == [
        ("POST", {"username": "lifecycle_phone", "password": PASSWORD, "alias": "Lobby phone",
                  "application": 20000000000000001, "app_id": 20000000000000001}),
        ("POST", {"alias": "Lobby phone east", "application": 20000000000000002, "app_id": 20000000000000002}),
        ("DELETE", None),
    ]
    assert writes(sim)[1]["path"].endswith("/Endpoint/%s/" % created["endpoint_id"])
    assert [request["status"] for request in writes(sim)] == ([200, 200, 204] if responses == "openapi" else [201, 202, 204])
    assert saved["update"]["diff"]["before"]["alias"] == "Lobby phone" and saved["update"]["diff"]["after"]["alias"] == "Lobby phone east"
    assert saved["noop"]["changed"] is False and saved["delete_again"]["changed"] is False
    assert not any(endpoint["username"].startswith("lifecycle_phone") for endpoint in sim.endpoints)


def test_absent_bob_never_deletes_bob7_on_a_guess(sim, tmp_path):
    completed, saved = play("safe_delete", tmp_path, ansible_env(sim, tmp_path), username="safe_bob", password=PASSWORD)
    assert_ok(completed)  # the refused delete is ignored, then saved
    other = saved["other"]["endpoint"]
    assert other["username"] == "safe_bob7"
    guess = saved["guess"]
    assert guess["failed"] is True and guess.get("changed") is False
    assert "no endpoint has username 'safe_bob' exactly" in guess["msg"] and "refusing to delete on a guess" in guess["msg"]
    assert "Candidates: %s (username safe_bob7, alias Someone else's phone)" % other["endpoint_id"] in guess["msg"]
    assert saved["confirmed"]["changed"] is True and saved["confirmed"]["diff"]["before"]["username"] == "safe_bob7"
    # One create, then exactly one delete: the confirmed one.
    assert [(request["method"], request["path"].rsplit("/Endpoint/", 1)[-1]) for request in writes(sim)] == [
        ("POST", ""), ("DELETE", "%s/" % other["endpoint_id"])]
    assert not any(endpoint["username"].startswith("safe_bob") for endpoint in sim.endpoints)


def test_check_mode_sends_no_write_request(sim, tmp_path):
    existing, doomed = sim.endpoints[0], sim.endpoints[1]
    before = sim.endpoints
    completed, saved = play("check_mode", tmp_path, ansible_env(sim, tmp_path), "--check",
                            password=PASSWORD, existing=existing["username"], doomed=doomed["username"])
    assert_ok(completed)
    assert writes(sim) == [] and sim.requests  # it did read
    assert sim.endpoints == before
    assert saved["create"]["changed"] and saved["create"]["endpoint"]["endpoint_id"] is None
    assert saved["update"]["changed"] and saved["update"]["endpoint"]["alias"] == "Renamed in check mode"
    assert saved["update"]["endpoint"]["application_name"] == "Sales & Support (EU)"
    assert saved["delete"]["changed"] and saved["delete"]["endpoint"] is None


def test_diff_shows_fields_and_no_secret_even_at_vvvv(sim, tmp_path):
    completed, _saved = play("diff", tmp_path, ansible_env(sim, tmp_path), "--diff", "-vvvv", password=PASSWORD)
    assert_ok(completed)
    output = completed.stdout + completed.stderr
    assert re.search(r'^-\s+"alias": "Diff phone before"', output, re.MULTILINE), output[-3000:]
    assert re.search(r'^\+\s+"alias": "Diff phone after"', output, re.MULTILINE)
    assert re.search(r'^\+\s+"application_name": "Sales & Support \(EU\)"', output, re.MULTILINE)
    assert re.search(r'^\+\s+"password": "<set, not shown>"', output, re.MULTILINE)
    assert PASSWORD not in output and SAMPLE_TOKEN not in output
    assert [request["body"].get("password") for request in writes(sim)] == [PASSWORD, PASSWORD]  # it was sent, not shown


def test_bad_inputs_fail_with_clear_messages(sim, tmp_path):
    sim.configure(shape="rich")  # so the allow_* flags can be checked against the live endpoint
    existing = next(endpoint for endpoint in sim.endpoints if not endpoint["sub_account"] and not endpoint["allow_other_domains"])
    completed, saved = play("errors", tmp_path, ansible_env(sim, tmp_path), "-vvvv", existing=existing["username"])
    assert_ok(completed)  # every failure is ignored, then saved
    assert all(result["failed"] for result in saved.values())
    assert "HTTP 400" in saved["short_password"]["msg"] and "at least 8 characters" in saved["short_password"]["msg"]
    locked = saved["locked"]["msg"]
    assert "sub_account: wanted SA_BRANCH01, actual null" in locked and "allow_other_domains: wanted true, actual false" in locked
    assert "Recreate" in locked and existing["endpoint_id"] in locked
    assert "No Such App" in saved["unknown_application"]["msg"] and "Front Desk (20000000000000001)" in saved["unknown_application"]["msg"]
    assert "HTTP 401" in saved["unauthorized"]["msg"] and "VOBIZ_AUTH_TOKEN" in saved["unauthorized"]["msg"]
    assert "name__contains" in saved["bad_filter"]["msg"] and "username__startswith" in saved["bad_filter"]["msg"]
    assert writes(sim) == [request for request in writes(sim) if request["status"] == 400]  # only the rejected create
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output
    assert SAMPLE_TOKEN not in output and "wrong-token-4c1d9e" not in output
