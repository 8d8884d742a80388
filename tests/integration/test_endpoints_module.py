# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoints through the real ansible-playbook against the simulator: every state, check mode, diff,
idempotency, a failure part-way and the rerun, and the gathered round trip through the drift role.

Most tests work on the sub-account SA_LAB0002 of the sample (8 endpoints, through filters).
"""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_TOKEN, ansible_env, run_cli

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
PASSWORD = "pw-endpoints-5c1f-integration-secret"
LAB = "SA_LAB0002"
SCOPE = {"sub_account": LAB}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def endpoints(sim, tmp_path, *options, **extra_vars):
    """ansible-playbook with one vobiz.sip.endpoints task; returns (completed process, its registered result)."""
    extra_vars["out_dir"] = str(tmp_path)
    vars_file = tmp_path / "endpoints-vars.json"
    vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
    saved = tmp_path / "endpoints.json"
    if saved.exists():
        saved.unlink()
    completed = run_cli("ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, "modules", "endpoints.yml"),
                        "-e", "@%s" % vars_file, *options, env=ansible_env(sim, tmp_path))
    for secret in (SAMPLE_TOKEN, PASSWORD):
        assert secret not in completed.stdout + completed.stderr
    result = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else None
    assert PASSWORD not in json.dumps(result)
    return completed, result


def output(completed):
    return completed.stdout + completed.stderr


def writes(sim):
    return [(request["method"], request["path"]) for request in sim.requests if request["method"] in WRITE_METHODS]


def lab(sim):
    return [endpoint for endpoint in sim.endpoints if endpoint["sub_account"] == LAB]


def by_username(sim):
    return {endpoint["username"]: endpoint for endpoint in sim.endpoints}


def new_item(username="lab_new01", **fields):
    return dict({"username": username, "password": PASSWORD, "alias": "New lab phone", "sub_account": LAB,
                 "application": "Front Desk", "allow_video": True}, **fields)


# merged ------------------------------------------------------------------------------------------------

# Both response variants of the simulator (tests/simulator/README.md): the prose's 201/202 and the OpenAPI's 200s.
@pytest.mark.parametrize("rewrite, responses", [(False, "prose"), (True, "prose"), (True, "openapi")],
                         ids=["usernames-kept", "usernames-rewritten", "usernames-rewritten-openapi"])
def test_merged_creates_and_updates_then_a_second_run_changes_nothing(sim, tmp_path, rewrite, responses):
    sim.configure(shape="rich", rewrite_usernames=rewrite, responses=responses)
    first, second = lab(sim)[:2]
    config = [{"username": first["username"], "alias": "Renamed by endpoints"}, new_item(),
              {"username": second["username"], "alias": second["alias"]}]
    completed, result = endpoints(sim, tmp_path, "--diff", config=config, filters=SCOPE)
    assert completed.returncode == 0, output(completed)
    assert result["changed"] is True
    assert [(entry["action"], entry["username"], entry["outcome"]) for entry in result["actions"]] == [
        ("update", first["username"], "done"), ("create", "lab_new01", "done")]
    assert result["actions"][0]["fields"] == ["alias"]
    assert sorted(method for method, _path in writes(sim)) == ["POST", "POST"]
    statuses = sorted(request["status"] for request in sim.requests if request["method"] == "POST")
    assert statuses == ([200, 200] if responses == "openapi" else [201, 202])
    live = by_username(sim)
    assert live[first["username"]]["alias"] == "Renamed by endpoints"
    created = [endpoint for endpoint in sim.endpoints if endpoint["username"].startswith("lab_new01")]
    assert len(created) == 1 and created[0]["app_id"] == "20000000000000001" and created[0]["allow_video"] is True
    assert bool(re.fullmatch(r"lab_new01\d+", created[0]["username"])) is rewrite
    assert sim.state()["endpoints"][-1]["password"] == PASSWORD
    # the result: network-resource style, the created endpoint as the API stored it
    assert {item["username"] for item in result["after"]} == {first["username"], created[0]["username"]}
    assert result["before"] == [dict(result["before"][0], alias=first["alias"])]
    assert result["commands"][0] == "POST Endpoint/%s/ (update %s: alias)" % (first["endpoint_id"], first["username"])
    # the diff: before and after per endpoint, the password only as a marker
    assert "Renamed by endpoints" in completed.stdout and "<set, not shown>" in completed.stdout
    # the same again: matched (also through a rewritten username), nothing to do
    sim.reset_requests()
    again, result = endpoints(sim, tmp_path, config=config, filters=SCOPE)
    assert again.returncode == 0, output(again)
    assert result["changed"] is False and result["actions"] == [] and writes(sim) == []
    assert [request["path"] for request in sim.requests if "Application" in request["path"]]  # a name was resolved


def test_application_ids_need_no_application_listing(sim, tmp_path):
    target = lab(sim)[0]
    other = "20000000000000002" if target["app_id"] == "20000000000000001" else "20000000000000001"
    completed, result = endpoints(sim, tmp_path, config=[{"username": target["username"], "application": other}], filters=SCOPE)
    assert completed.returncode == 0, output(completed)
    assert by_username(sim)[target["username"]]["app_id"] == other
    assert not [request for request in sim.requests if "Application" in request["path"]]
    endpoint_lists = [request for request in sim.requests if request["method"] == "GET" and request["path"].endswith("/Endpoint/")]
    assert len(endpoint_lists) == 1  # one listing (8 endpoints, one page)


# check mode ------------------------------------------------------------------------------------------------

def test_check_mode_reports_the_plan_and_sends_no_write(sim, tmp_path):
    sim.configure(shape="rich")
    before = sim.endpoints
    named = lab(sim)[:3]
    config = [{"username": endpoint["username"], "alias": endpoint["alias"]} for endpoint in named] + [new_item()]
    completed, result = endpoints(sim, tmp_path, "--check", "--diff", config=config, filters=SCOPE, state="overridden")
    assert completed.returncode == 0, output(completed)
    assert writes(sim) == [] and sim.endpoints == before
    assert result["changed"] is True
    outcomes = {(entry["action"], entry["username"]): entry["outcome"] for entry in result["actions"]}
    unlisted = [endpoint["username"] for endpoint in lab(sim)[3:]]
    assert outcomes == {**{("create", "lab_new01"): "planned"}, **{("delete", name): "planned" for name in unlisted}}
    assert len(result["commands"]) == 1 + len(unlisted)
    assert "lab_new01" in completed.stdout  # the diff shows what would be created


# replaced ---------------------------------------------------------------------------------------------------

def test_replaced_returns_left_out_flags_to_the_api_defaults(sim, tmp_path):
    sim.configure(shape="rich")
    target = next(endpoint for endpoint in lab(sim) if endpoint["allow_video"] or not endpoint["allow_voice"])
    item = {"username": target["username"], "sub_account": LAB, "allow_same_domain": target["allow_same_domain"],
            "allow_other_domains": target["allow_other_domains"], "allow_phones": target["allow_phones"], "allow_apps": target["allow_apps"]}
    completed, result = endpoints(sim, tmp_path, config=[item], filters=SCOPE, state="replaced")
    assert completed.returncode == 0, output(completed)
    live = by_username(sim)[target["username"]]
    assert (live["allow_voice"], live["allow_message"], live["allow_video"]) == (True, True, False)
    assert live["alias"] == target["alias"] and live["app_id"] == target["app_id"]  # no fixed default: left as they are
    assert result["changed"] is True
    again, result = endpoints(sim, tmp_path, config=[item], filters=SCOPE, state="replaced")
    assert again.returncode == 0 and result["changed"] is False


def test_replaced_fails_on_a_locked_field_before_any_write(sim, tmp_path):
    sim.configure(shape="rich")
    locked = next(endpoint for endpoint in lab(sim) if endpoint["allow_other_domains"] is False)
    movable = next(endpoint for endpoint in lab(sim) if endpoint["username"] != locked["username"])
    config = [{"username": movable["username"], "alias": "Would change"},
              {"username": locked["username"], "allow_other_domains": True}]
    completed, result = endpoints(sim, tmp_path, config=config, filters=SCOPE, state="replaced")
    assert completed.returncode == 2
    assert "allow_other_domains: wanted true, actual false" in output(completed), output(completed)
    assert "nothing was changed" in output(completed)
    assert writes(sim) == []


# overridden -------------------------------------------------------------------------------------------------

def test_overridden_deletes_what_the_list_does_not_name_within_the_filters(sim, tmp_path):
    sim.configure(shape="rich")
    kept = lab(sim)[:2]
    config = [dict({"username": endpoint["username"]}, **{flag: endpoint[flag] for flag in
                                                          ("allow_same_domain", "allow_other_domains", "allow_phones", "allow_apps",
                                                           "allow_voice", "allow_message", "allow_video")}) for endpoint in kept]
    outside = len(sim.endpoints) - len(lab(sim))
    completed, result = endpoints(sim, tmp_path, config=config, filters=SCOPE, state="overridden")
    assert completed.returncode == 0, output(completed)
    assert sorted(endpoint["username"] for endpoint in lab(sim)) == sorted(endpoint["username"] for endpoint in kept)
    assert len(sim.endpoints) - len(lab(sim)) == outside  # nothing outside the scope was touched
    assert {entry["action"] for entry in result["actions"]} == {"delete"}


def test_overridden_without_filters_needs_scope_account(sim, tmp_path):
    completed, result = endpoints(sim, tmp_path, config=[], state="overridden")
    assert completed.returncode == 2
    assert "set scope: account to mean the whole account" in output(completed)
    assert sim.requests == []
    completed, result = endpoints(sim, tmp_path, "--check", config=[], state="overridden", scope="account")
    assert completed.returncode == 0, output(completed)
    assert len(result["actions"]) == len(sim.endpoints) and writes(sim) == []


# deleted ----------------------------------------------------------------------------------------------------

def test_deleted_removes_the_listed_endpoints_and_then_nothing(sim, tmp_path):
    doomed = lab(sim)[:2]
    config = [{"username": doomed[0]["username"]}, {"username": doomed[1]["username"], "endpoint_id": doomed[1]["endpoint_id"]},
              {"username": "never_existed"}]
    completed, result = endpoints(sim, tmp_path, config=config, state="deleted")
    assert completed.returncode == 0, output(completed)
    assert sorted(writes(sim)) == sorted(("DELETE", "/api/v1/Account/MA_DEMO0001/Endpoint/%s/" % endpoint["endpoint_id"]) for endpoint in doomed)
    assert not {endpoint["username"] for endpoint in doomed} & set(by_username(sim))
    again, result = endpoints(sim, tmp_path, config=config, state="deleted")
    assert again.returncode == 0 and result["changed"] is False


def test_deleted_never_rests_on_a_guess(sim, tmp_path):
    """qbert7 is not deleted for qbert: a rewritten username counts only when the alias confirms it."""
    sim.configure(rewrite_usernames=False)
    created, _created = endpoints(sim, tmp_path, config=[new_item("qbert7", alias="Qbert seven")], filters=SCOPE)
    assert created.returncode == 0, output(created)
    sim.reset_requests()
    completed, result = endpoints(sim, tmp_path, config=[{"username": "qbert"}], state="deleted")
    assert completed.returncode == 2
    assert "desired endpoint qbert: no endpoint has username 'qbert' exactly" in output(completed), output(completed)
    assert "refusing to delete on a guess" in output(completed) and "qbert7" in output(completed), output(completed)
    assert writes(sim) == [] and "qbert7" in by_username(sim)
    confirmed, _confirmed = endpoints(sim, tmp_path, config=[{"username": "qbert", "alias": "Qbert seven"}], state="deleted")
    assert confirmed.returncode == 0, output(confirmed)
    assert "qbert7" not in by_username(sim)


# a failure part-way, and the rerun ------------------------------------------------------------------------

def test_a_failure_part_way_says_what_was_done_and_a_rerun_finishes(sim, tmp_path):
    sim.configure(shape="rich")
    targets = lab(sim)[:4]
    config = [{"username": endpoint["username"], "alias": "Moved %d" % index} for index, endpoint in enumerate(targets)]
    # the third update fails for good (a 500 on every try); the others go through
    sim.configure(faults=[{"kind": "500", "method": "POST", "path_contains": "/Endpoint/%s/" % targets[2]["endpoint_id"], "times": 50}])
    completed, result = endpoints(sim, tmp_path, config=config, filters=SCOPE, retries=0)
    assert completed.returncode == 2
    outcomes = {entry["username"]: entry["outcome"] for entry in result["actions"]}
    assert outcomes[targets[2]["username"]] == "failed"
    assert "run the task again to finish" in output(completed)
    done = [name for name, outcome in outcomes.items() if outcome == "done"]
    assert done and all(by_username(sim)[name]["alias"].startswith("Moved") for name in done)
    assert result["changed"] is True
    sim.configure(faults=[])
    rerun, result = endpoints(sim, tmp_path, config=config, filters=SCOPE)
    assert rerun.returncode == 0, output(rerun)
    assert sorted(entry["username"] for entry in result["actions"]) == sorted(name for name, outcome in outcomes.items() if outcome != "done")
    assert [by_username(sim)[endpoint["username"]]["alias"] for endpoint in targets] == ["Moved %d" % index for index in range(4)]


# gathered ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["rich", "compact"])
def test_gathered_saved_to_a_file_is_a_desired_state_with_no_drift(sim, tmp_path, shape):
    sim.configure(shape=shape)
    completed, result = endpoints(sim, tmp_path, state="gathered")
    assert completed.returncode == 0, output(completed)
    assert result["changed"] is False and writes(sim) == []
    gathered = yaml.safe_load((tmp_path / "gathered.yml").read_text(encoding="utf-8"))
    assert [item["username"] for item in gathered] == [endpoint["username"] for endpoint in sim.endpoints]
    assert all("password" not in item and "endpoint_id" not in item for item in gathered)
    # fed back to the module with every state that writes: nothing to do
    for state in ("merged", "replaced"):
        again, result = endpoints(sim, tmp_path, config_file=str(tmp_path / "gathered.yml"), state=state)
        assert again.returncode == 0, output(again)
        assert result["changed"] is False and result["actions"] == [], state
    # and to the drift role: no drift
    role_vars = {"endpoint_drift_desired_file": str(tmp_path / "gathered.yml"), "endpoint_drift_report_dir": str(tmp_path / "reports"),
                 "out_dir": str(tmp_path)}
    (tmp_path / "drift-vars.json").write_text(json.dumps(role_vars), encoding="utf-8")
    drift = run_cli("ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, "roles", "drift.yml"),
                    "-e", "@%s" % (tmp_path / "drift-vars.json"), env=ansible_env(sim, tmp_path))
    assert drift.returncode == 0, output(drift)
    report = json.loads((tmp_path / "drift.json").read_text(encoding="utf-8"))
    assert report["drift"] is False and report["summary"]["in_sync"] == len(sim.endpoints)
    assert writes(sim) == []


# bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    ({"config": [{"username": "a", "colour": "red"}]}, "colour"),
    ({"config": [{"username": "a", "alias": "x"}, {"username": "a"}]}, "config items #1 and #2 have the same username a"),
    ({"config": [{"username": "brand_new", "alias": "x"}]}, "password is required to create endpoint brand_new"),
    ({"config": [], "state": "deleted"}, "deleted with an empty config deletes every endpoint in scope"),
    ({"config": [], "state": "overridden", "scope": "account", "filters": SCOPE}, "scope: account means every endpoint"),
], ids=["unknown-key", "duplicate", "no-password", "delete-all-unscoped", "scope-and-filters"])
def test_bad_input_is_one_clear_error_and_no_write(sim, tmp_path, extra, message):
    completed, _result = endpoints(sim, tmp_path, **extra)
    assert completed.returncode == 2
    assert message in " ".join(output(completed).split())
    assert writes(sim) == []
    assert "Traceback" not in output(completed)


# the drift role on top of the module -------------------------------------------------------------------------

def test_drift_remediation_failing_part_way_keeps_the_report_and_a_rerun_finishes(sim, tmp_path):
    """The connection comes only from module_defaults (no VOBIZ_* variables): the role honours them."""
    sim.configure(shape="rich")
    targets = lab(sim)[:3]
    desired = [{"username": endpoint["username"], "alias": "Drifted %d" % index} for index, endpoint in enumerate(targets)]
    sim.configure(faults=[{"kind": "503", "method": "POST", "path_contains": "/Endpoint/%s/" % targets[1]["endpoint_id"], "times": 50}])
    role_vars = {"endpoint_drift_desired": desired, "endpoint_drift_filters": SCOPE, "endpoint_drift_allow_unexpected": True,
                 "endpoint_drift_remediate": True, "endpoint_drift_report_dir": str(tmp_path / "reports"), "out_dir": str(tmp_path),
                 "conn": {"auth_id": "MA_DEMO0001", "auth_token": SAMPLE_TOKEN, "api_url": sim.url, "retries": 0}}
    (tmp_path / "vars.json").write_text(json.dumps(role_vars), encoding="utf-8")

    def run():
        completed = run_cli("ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, "roles", "drift_module_defaults.yml"),
                            "-e", "@%s" % (tmp_path / "vars.json"), env=ansible_env(None, tmp_path))
        assert SAMPLE_TOKEN not in completed.stdout + completed.stderr
        return completed, json.loads((tmp_path / "drift.json").read_text(encoding="utf-8"))

    completed, result = run()
    assert completed.returncode == 2, output(completed)
    assert "remediation through vobiz.sip.endpoints failed" in output(completed) and "run the task again to finish" in output(completed)
    assert result["summary"]["changed"] == 3 and len(result["actions"]) == 3  # the report and the fact are there all the same
    assert (tmp_path / "reports" / "endpoint_drift.md").exists()
    assert by_username(sim)[targets[1]["username"]]["alias"] == targets[1]["alias"]
    sim.configure(faults=[])
    completed, result = run()
    assert completed.returncode == 0, output(completed)
    assert [by_username(sim)[endpoint["username"]]["alias"] for endpoint in targets] == ["Drifted %d" % index for index in range(3)]
    completed, result = run()
    assert completed.returncode == 0 and result["drift"] is False
