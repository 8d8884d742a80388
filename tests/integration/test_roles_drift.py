# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vobiz.sip.endpoint_drift role through the real ansible-playbook against the simulator.

Most tests work on the sub-account SA_LAB0002 of the sample (8 endpoints, through endpoint_drift_filters),
so that every endpoint the desired list lacks is one the test chose.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_TOKEN, ansible_env, run_cli

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "roles")
PASSWORD = "pw-drift-9a3e-integration-secret"
LAB = "SA_LAB0002"
NEW_USERNAME = "drift_new01"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def drift(tmp_path, env, role_vars, *options):
    """ansible-playbook on the drift playbook; returns (completed process, the role's result or None)."""
    role_vars = dict({"endpoint_drift_report_dir": str(tmp_path / "reports")}, **role_vars)
    vars_file = tmp_path / "drift-vars.json"
    vars_file.write_text(json.dumps(dict(role_vars, out_dir=str(tmp_path))), encoding="utf-8")
    saved = tmp_path / "drift.json"
    if saved.exists():
        saved.unlink()
    completed = run_cli("ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, "drift.yml"), "-e", "@%s" % vars_file, *options, env=env)
    for secret in (SAMPLE_TOKEN, PASSWORD):
        assert secret not in completed.stdout + completed.stderr
    result = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else None
    return completed, result


def reports(tmp_path):
    """(JSON report, Markdown report) as written by the role; neither may hold a secret."""
    json_text = (tmp_path / "reports" / "endpoint_drift.json").read_text(encoding="utf-8")
    markdown = (tmp_path / "reports" / "endpoint_drift.md").read_text(encoding="utf-8")
    for secret in (SAMPLE_TOKEN, PASSWORD):
        assert secret not in json_text and secret not in markdown
    return json.loads(json_text), markdown


def output(completed):
    return completed.stdout + completed.stderr


def writes(sim):
    return [(request["method"], request["path"]) for request in sim.requests if request["method"] in WRITE_METHODS]


def app_names(sim):
    return {app["app_id"]: app["app_name"] for app in sim.state()["applications"]}


def lab_endpoints(sim):
    """The sub-account's endpoints that have an application, in API order (the tests need six)."""
    lab = [endpoint for endpoint in sim.endpoints if endpoint["sub_account"] == LAB]
    assert len([endpoint for endpoint in lab if endpoint["app_id"]]) >= 6, "the sample changed: SA_LAB0002 needs six endpoints with an application"
    return lab


def desired_in_sync(endpoint, names):
    """A desired item that matches the endpoint as it is: username, alias, application (by name)."""
    item = {"username": endpoint["username"], "alias": endpoint["alias"]}
    if endpoint["app_id"]:
        item["application"] = names[endpoint["app_id"]]
    return item


def other_application(endpoint):
    """The id of an application the endpoint is not on (Front Desk, or front-desk when it is on Front Desk)."""
    return "20000000000000002" if endpoint["app_id"] == "20000000000000001" else "20000000000000001"


def scenario(sim, locked=False):
    """A desired list for SA_LAB0002 with one of each kind of drift; returns (desired, the endpoints it names)."""
    names = app_names(sim)
    lab = [endpoint for endpoint in lab_endpoints(sim) if endpoint["app_id"]]
    desired = [
        desired_in_sync(lab[0], names),
        dict(desired_in_sync(lab[1], names), alias="Renamed by drift"),
        dict(desired_in_sync(lab[2], names), application=names[other_application(lab[2])], allow_video=not lab[2]["allow_video"]),
        {"username": lab[4]["username"], "state": "absent"},
        # in the sub-account: created elsewhere, it would stay missing from the filtered listing
        {"username": NEW_USERNAME, "password": PASSWORD, "alias": "New lab phone", "application": "Front Desk", "allow_video": True,
         "sub_account": LAB},
    ]
    if locked:
        desired.append(dict(desired_in_sync(lab[3], names), allow_other_domains=not lab[3]["allow_other_domains"]))
    else:
        desired.append(desired_in_sync(lab[3], names))
    return desired, lab


# No difference -------------------------------------------------------------------------------------

def test_no_drift_for_the_whole_account_described_in_a_file(sim, tmp_path):
    names = app_names(sim)
    desired = [desired_in_sync(endpoint, names) for endpoint in sim.endpoints]
    desired_file = tmp_path / "desired.yml"
    desired_file.write_text(yaml.safe_dump(desired, allow_unicode=True), encoding="utf-8")
    completed, result = drift(tmp_path, ansible_env(sim, tmp_path), {"endpoint_drift_desired_file": str(desired_file)})
    assert completed.returncode == 0, output(completed)[-3000:]
    assert result["drift"] is False and result["summary"]["in_sync"] == len(sim.endpoints) == result["summary"]["live"]
    report, markdown = reports(tmp_path)
    assert report["summary"] == result["summary"]
    assert markdown.startswith("# Endpoint drift\n\n**No drift.** The account matches the desired list (300 endpoints; 300 endpoints on the account).")
    assert "uid=" not in output(completed) + markdown  # the sample's alias {{ lookup('pipe', 'id') }} was compared, never run
    assert writes(sim) == []


# Every kind of drift -------------------------------------------------------------------------------

def test_each_kind_of_drift_is_reported_with_wanted_and_actual_values(sim, tmp_path):
    sim.configure(shape="rich")
    desired, lab = scenario(sim, locked=True)
    names = app_names(sim)
    completed, result = drift(tmp_path, ansible_env(sim, tmp_path), {"endpoint_drift_desired": desired, "endpoint_drift_filters": {"sub_account": LAB}})
    assert completed.returncode == 2, output(completed)[-3000:]
    listed = {item["username"] for item in desired}
    unlisted = [endpoint for endpoint in lab if endpoint["username"] not in listed]

    assert [item["username"] for item in result["missing"]] == [NEW_USERNAME]
    assert result["missing"][0]["has_password"] is True and "password" not in result["missing"][0]["fields"]
    changed = {item["username"]: item["fields"] for item in result["changed"]}
    with_app = [endpoint for endpoint in lab if endpoint["app_id"]]
    assert changed == {
        with_app[1]["username"]: [{"field": "alias", "wanted": "Renamed by drift", "actual": with_app[1]["alias"], "updatable": True}],
        with_app[2]["username"]: [
            {"field": "application", "wanted": names[other_application(with_app[2])], "updatable": True,
             "actual": "%s (%s)" % (names[with_app[2]["app_id"]], with_app[2]["app_id"])},
            {"field": "allow_video", "wanted": not with_app[2]["allow_video"], "actual": with_app[2]["allow_video"], "updatable": True},
        ],
        with_app[3]["username"]: [{"field": "allow_other_domains", "wanted": not with_app[3]["allow_other_domains"],
                                   "actual": with_app[3]["allow_other_domains"], "updatable": False}],
    }
    unexpected = {item["username"]: item["reason"] for item in result["unexpected"]}
    assert unexpected == dict({with_app[4]["username"]: "listed with state: absent"},
                              **{endpoint["username"]: "not in the desired list" for endpoint in unlisted})
    assert result["summary"]["drift"] == 1 + len(changed) + len(unexpected)

    report, markdown = reports(tmp_path)
    assert report["changed"] == result["changed"] and report["remediation"] == {"enabled": False, "check_mode": False}
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| endpoint |")]
    assert len(rows) == 1 + 4 + len(unexpected)  # one row per differing field
    assert "| %s |  | missing |  | present | absent |" % NEW_USERNAME in rows
    flag = with_app[3]["allow_other_domains"]
    assert "| %s | %s | changed (locked: recreate the endpoint) | allow_other_domains | %s | %s |" % (
        with_app[3]["username"], with_app[3]["endpoint_id"], str(not flag).lower(), str(flag).lower()) in rows
    assert "changed %s (%s): alias: wanted 'Renamed by drift', actual '%s'" % (
        with_app[1]["username"], with_app[1]["endpoint_id"], with_app[1]["alias"]) in completed.stdout
    assert "Drift: %d differences" % result["summary"]["drift"] in completed.stdout
    assert writes(sim) == []


def test_drift_reported_without_failing_and_api_text_kept_literal(sim, tmp_path):
    trap = next(endpoint for endpoint in sim.endpoints if endpoint["alias"] and "lookup(" in endpoint["alias"])
    role_vars = {"endpoint_drift_desired": [{"username": trap["username"], "state": "absent"}],
                 "endpoint_drift_allow_unexpected": True, "endpoint_drift_fail": False}
    completed, result = drift(tmp_path, ansible_env(sim, tmp_path), role_vars)
    assert completed.returncode == 0, output(completed)[-3000:]
    assert result["drift"] is True and result["summary"]["unexpected_allowed"] == len(sim.endpoints) - 1
    _report, markdown = reports(tmp_path)
    assert "| unexpected |  | absent | present, alias %s |" % trap["alias"] in markdown
    assert "uid=" not in output(completed) + markdown


# Remediation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rewrite, unexpected", [(False, "remove"), (True, "allow")],
                         ids=["usernames-kept-unexpected-removed", "usernames-rewritten-unexpected-allowed"])
def test_remediation_converges_and_the_next_run_finds_no_drift(sim, tmp_path, rewrite, unexpected):
    sim.configure(shape="rich", rewrite_usernames=rewrite)
    desired, lab = scenario(sim)
    with_app = [endpoint for endpoint in lab if endpoint["app_id"]]
    listed = {item["username"] for item in desired}
    unlisted = [endpoint["username"] for endpoint in lab if endpoint["username"] not in listed]
    scope = {"endpoint_drift_desired": desired, "endpoint_drift_filters": {"sub_account": LAB},
             "endpoint_drift_remove_unexpected" if unexpected == "remove" else "endpoint_drift_allow_unexpected": True}
    completed, result = drift(tmp_path, ansible_env(sim, tmp_path), dict(scope, endpoint_drift_remediate=True), "-v")
    assert completed.returncode == 0, output(completed)[-3000:]
    deletes = 1 + (len(unlisted) if unexpected == "remove" else 0)
    assert sorted(action["action"] for action in result["actions"]) == ["create"] + ["delete"] * deletes + ["update"] * 2

    after = {endpoint["username"]: endpoint for endpoint in sim.endpoints}
    created = [endpoint for endpoint in sim.endpoints if endpoint["username"].startswith(NEW_USERNAME)]
    assert len(created) == 1 and created[0]["alias"] == "New lab phone" and created[0]["allow_video"] is True
    assert created[0]["sub_account"] == LAB and created[0]["app_id"] == "20000000000000001"
    assert bool(re.fullmatch(NEW_USERNAME + r"\d+", created[0]["username"])) is rewrite
    assert sim.state()["endpoints"][-1]["password"] == PASSWORD  # the password reached the API, and nothing else showed it
    assert after[with_app[1]["username"]]["alias"] == "Renamed by drift"
    assert after[with_app[2]["username"]]["app_id"] == other_application(with_app[2])
    assert after[with_app[2]["username"]]["allow_video"] is not with_app[2]["allow_video"]
    assert with_app[4]["username"] not in after
    assert all((name in after) is (unexpected == "allow") for name in unlisted)
    _report, markdown = reports(tmp_path)
    assert "Applied through vobiz.sip.endpoints: 1 create, 2 update, %d delete." % deletes in markdown
    # the three written endpoints are read back in one listing of the scope (one page), after the last write, not by id
    made = sim.requests
    last_write = max(index for index, request in enumerate(made) if request["method"] in WRITE_METHODS)
    assert [(request["method"], request["path"].rsplit("/", 2)[-2], request["query"].get("sub_account"))
            for request in made[last_write + 1:]] == [("GET", "Endpoint", LAB)]
    assert not [request for request in made if request["method"] == "GET" and not request["path"].endswith(("/Endpoint/", "/Application/"))]

    sim.reset_requests()
    again, result = drift(tmp_path, ansible_env(sim, tmp_path), scope)
    assert again.returncode == 0, output(again)[-3000:]
    assert result["drift"] is False and result["actions"] == [] and result["in_sync"] == sorted(listed, key=[item["username"] for item in desired].index)
    assert writes(sim) == []


def test_check_mode_changes_nothing_on_the_server(sim, tmp_path):
    sim.configure(shape="rich")
    desired, lab = scenario(sim)
    before = sim.endpoints
    role_vars = {"endpoint_drift_desired": desired, "endpoint_drift_filters": {"sub_account": LAB},
                 "endpoint_drift_remediate": True, "endpoint_drift_remove_unexpected": True}
    completed, result = drift(tmp_path, ansible_env(sim, tmp_path), role_vars, "--check", "--diff")
    assert completed.returncode == 0, output(completed)[-3000:]
    assert writes(sim) == [] and {request["method"] for request in sim.requests} == {"GET"}
    assert sim.endpoints == before
    assert "%s (new)" % NEW_USERNAME in completed.stdout  # the diff of the one vobiz.sip.endpoints run
    assert "remediation would make %d change(s)" % (len(lab) - 1) in completed.stdout
    report, markdown = reports(tmp_path)  # written although in check mode
    assert report["remediation"] == {"enabled": True, "check_mode": True}
    assert "Check mode: it would run 1 create, 2 update, %d delete; nothing was changed." % (len(lab) - 4) in markdown


def test_drift_remediation_cannot_fix_still_fails_the_play(sim, tmp_path):
    sim.configure(shape="rich")
    desired, lab = scenario(sim, locked=True)
    desired = [item for item in desired if item["username"] != NEW_USERNAME]
    role_vars = {"endpoint_drift_desired": desired, "endpoint_drift_filters": {"sub_account": LAB}, "endpoint_drift_allow_unexpected": True,
                 "endpoint_drift_remediate": True,
                 # the connection from role variables instead of the environment
                 "endpoint_drift_auth_id": SAMPLE_AUTH_ID, "endpoint_drift_auth_token": SAMPLE_TOKEN, "endpoint_drift_api_url": sim.url}
    completed, result = drift(tmp_path, ansible_env(None, tmp_path), role_vars)
    assert completed.returncode == 2, output(completed)[-3000:]
    locked = [endpoint for endpoint in lab if endpoint["app_id"]][3]
    assert result["remaining"]["changed"] == [{"username": locked["username"], "endpoint_id": locked["endpoint_id"], "fields": ["allow_other_domains"]}]
    assert "Remediation cannot fix 1 of them." in completed.stdout
    assert sorted(method for method, _path in writes(sim)) == ["DELETE", "POST", "POST"]  # the rest was converged


# Bad settings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role_vars, message", [
    ({"endpoint_drift_desired": [], "endpoint_drift_remediat": True},
     "unknown role variable endpoint_drift_remediat (did you mean endpoint_drift_remediate?)"),
    ({"endpoint_drift_desired": [], "endpoint_drift_fail": "perhaps"}, "endpoint_drift_fail"),
    ({"endpoint_drift_desired": ["alice"]}, "endpoint_drift_desired"),
    ({"endpoint_drift_desired": [], "endpoint_drift_desired_file": "desired.yml"}, "not both"),
    ({}, "set endpoint_drift_desired (a list of endpoints) or endpoint_drift_desired_file"),
    ({"endpoint_drift_desired": [{"username": "alice", "alias": "A", "colour": "red"}]}, "desired endpoint #1 has unknown key colour"),
    ({"endpoint_drift_desired": [{"username": "alice", "password": PASSWORD}, {"username": "alice"}]}, "have the same username alice"),
    ({"endpoint_drift_desired_file": "/nonexistent/desired.yml"}, "/nonexistent/desired.yml"),
], ids=["misspelt", "bool-type", "element-type", "both-sources", "no-source", "unknown-key", "duplicate", "missing-file"])
def test_bad_settings_fail_before_any_request(sim, tmp_path, role_vars, message):
    completed, result = drift(tmp_path, ansible_env(sim, tmp_path), role_vars)
    assert completed.returncode == 2, output(completed)[-3000:]
    assert message in output(completed)
    assert result is None and sim.requests == []
    assert not (tmp_path / "reports").exists()
