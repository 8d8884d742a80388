# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vobiz.sip.endpoint_audit role through the real ansible-playbook against the simulator.

The expected findings are computed from the simulator's data, not written down, so they follow the sample.
"""

from __future__ import annotations

import collections
import json
import os

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_PAGES, SAMPLE_TOKEN, ansible_env, run_cli

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "roles")
ALL_APPLICATIONS = ["Front Desk", "front-desk", "20000000000000003", "Sales & Support (EU)", "Night-Shift IVR #2", "20000000000000006"]


def audit(tmp_path, env, role_vars, playbook="audit", inventory="localhost,", options=(), **extra):
    """ansible-playbook on one of the audit playbooks; returns (completed process, the role's result or None)."""
    extra_vars = dict(role_vars, out_dir=str(tmp_path), **extra)
    extra_vars.setdefault("endpoint_audit_report_dir", str(tmp_path / "report"))
    vars_file = tmp_path / "audit-vars.json"
    vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
    saved = tmp_path / "audit.json"
    if saved.exists():
        saved.unlink()
    completed = run_cli("ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, playbook + ".yml"), "-e", "@%s" % vars_file,
                        *options, env=env)
    assert SAMPLE_TOKEN not in completed.stdout + completed.stderr
    result = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else None
    return completed, result


def inventory_file(tmp_path, **options):
    path = tmp_path / "sim.vobiz.yml"
    path.write_text(json.dumps(dict({"plugin": "vobiz.sip.endpoints"}, **options)), encoding="utf-8")
    return str(path)


def output(completed):
    return completed.stdout + completed.stderr


def statuses(result):
    return {item["check"]: item["status"] for item in result["results"]}


def by_check(result):
    return {item["check"]: item for item in result["results"] if item["status"] != "warning"}


def app_names(sim):
    return {app["app_id"]: app["app_name"] for app in sim.state()["applications"]}


# Every check passing, then every check failing ----------------------------------------------------

def test_every_check_passes_on_a_clean_selection(sim, tmp_path):
    sim.configure(shape="rich")
    with_app = [endpoint for endpoint in sim.endpoints if endpoint["app_id"]]
    names = app_names(sim)
    per_app = collections.Counter(names[endpoint["app_id"]] for endpoint in with_app)
    per_account = collections.Counter(endpoint["sub_account"] or "main" for endpoint in with_app)
    registered = [endpoint["username"] for endpoint in with_app if endpoint["sip_registered"]]
    role_vars = {
        "endpoint_audit_filters": {"application_id__isnull": False},
        "endpoint_audit_registered": registered[:3],
        "endpoint_audit_registered_groups": ["vobiz_registered"],
        "endpoint_audit_require_application": True,
        "endpoint_audit_allowed_applications": ALL_APPLICATIONS,
        "endpoint_audit_flags": {"allow_same_domain": True, "allow_phones": True},
        "endpoint_audit_counts_by_application": {"Branch 01 Queue": per_app["Branch 01 Queue"], "20000000000000001": {"min": 1}},
        "endpoint_audit_counts_by_sub_account": {"SA_LAB0002": {"max": per_account["SA_LAB0002"]}, "main": per_account["main"]},
    }
    inventory = inventory_file(tmp_path, filters={"application_id__isnull": False})
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars, inventory=inventory)
    assert completed.returncode == 0, output(completed)[-3000:]
    assert result["source"] == "api"
    assert set(statuses(result)) == {"registered", "registered_group vobiz_registered", "application_required", "allowed_applications",
                                     "allow_same_domain", "allow_phones", "count application Branch 01 Queue",
                                     "count application 20000000000000001", "count sub_account SA_LAB0002", "count sub_account main"}
    assert set(statuses(result).values()) == {"passed"}
    assert result["summary"]["line"] == "endpoint audit of %d endpoints: 10 checks, 10 passed, 0 failed" % len(with_app)
    assert result["summary"]["line"] in completed.stdout
    assert any(query.get("application_id__isnull") == "false" for query in (request["query"] for request in sim.requests))


def test_every_check_fails_naming_the_endpoints_and_the_play_fails(sim, tmp_path):
    sim.configure(shape="rich")
    endpoints = sim.endpoints
    names = app_names(sim)
    unregistered = next(endpoint["username"] for endpoint in endpoints if not endpoint["sip_registered"])
    branch_queue = [endpoint for endpoint in endpoints if endpoint["app_id"] == "20000000000000006"]
    role_vars = {
        "endpoint_audit_registered": [unregistered, "nosuchphone"],
        "endpoint_audit_registered_groups": ["vobiz_app_branch_01_queue", "vobiz_app_no_such_app"],
        "endpoint_audit_require_application": True,
        "endpoint_audit_allowed_applications": ["Front Desk"],
        "endpoint_audit_flags": {"allow_other_domains": False},
        "endpoint_audit_counts_by_application": {"Front Desk": 1},
        "endpoint_audit_counts_by_sub_account": {"SA_LAB0002": {"min": 9}},
        "endpoint_audit_max_names": 0,
    }
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars, inventory=inventory_file(tmp_path))
    assert completed.returncode == 2, output(completed)[-3000:]
    checks = by_check(result)
    assert set(item["status"] for item in checks.values()) == {"failed"} and len(checks) == 8
    assert checks["registered"]["endpoints"] == [unregistered, "nosuchphone"]
    assert checks["registered_group vobiz_app_branch_01_queue"]["endpoints"] == [
        endpoint["username"] for endpoint in branch_queue if not endpoint["sip_registered"]]
    assert "group vobiz_app_no_such_app is not in the inventory" in checks["registered_group vobiz_app_no_such_app"]["message"]
    assert checks["application_required"]["endpoints"] == [endpoint["username"] for endpoint in endpoints if not endpoint["app_id"]]
    assert checks["allowed_applications"]["endpoints"] == [
        endpoint["username"] for endpoint in endpoints if endpoint["app_id"] and names[endpoint["app_id"]] != "Front Desk"]
    assert checks["allow_other_domains"]["endpoints"] == [endpoint["username"] for endpoint in endpoints if endpoint["allow_other_domains"]]
    assert checks["count application Front Desk"]["message"].endswith("expected exactly 1")
    assert checks["count sub_account SA_LAB0002"]["message"] == "8 endpoints, expected at least 9"
    # One line per failed check, naming the endpoints; then the summary; the play fails with it.
    for item in checks.values():
        line = "FAILED %s: %s" % (item["check"], item["message"])
        assert json.dumps(line, ensure_ascii=False) in completed.stdout, line
        assert all(name in line for name in item["endpoints"])
    assert "8 checks, 0 passed, 8 failed" in result["summary"]["line"]
    assert "fatal: [localhost]: FAILED!" in completed.stdout and result["summary"]["line"] in completed.stdout


def test_report_only_when_fail_is_off(sim, tmp_path):
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), {"endpoint_audit_require_application": True, "endpoint_audit_fail": False})
    assert completed.returncode == 0, output(completed)[-3000:]
    assert statuses(result) == {"application_required": "failed"}
    assert "FAILED application_required: 20 of 300 endpoints have no application" in completed.stdout


@pytest.mark.parametrize("policy, returncode, status", [("warn", 0, "warning"), ("fail", 2, "failed"), ("ignore", 0, "passed")])
def test_flags_the_compact_shape_does_not_report(sim, tmp_path, policy, returncode, status):
    role_vars = {"endpoint_audit_flags": {"allow_other_domains": False}, "endpoint_audit_unreported_flags": policy}
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars)
    assert completed.returncode == returncode, output(completed)[-3000:]
    assert [item["status"] for item in result["results"]] == [status]


# The inventory source ----------------------------------------------------------------------------

def test_inventory_source_audits_the_plays_hosts_without_listing_again(sim, tmp_path):
    lab = [endpoint for endpoint in sim.endpoints if endpoint["sub_account"] == "SA_LAB0002"]
    role_vars = {"endpoint_audit_require_application": True, "endpoint_audit_registered_groups": ["vobiz_sub_account_sa_lab0002"],
                 "endpoint_audit_counts_by_sub_account": {"SA_LAB0002": len(lab)}}
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars, playbook="audit_inventory",
                              inventory=inventory_file(tmp_path), target="vobiz_sub_account_sa_lab0002")
    assert completed.returncode == 2, output(completed)[-3000:]
    assert result["source"] == "inventory" and result["summary"]["endpoints"] == len(lab)
    checks = by_check(result)
    assert checks["application_required"]["endpoints"] == [endpoint["username"] for endpoint in lab if not endpoint["app_id"]]
    assert checks["registered_group vobiz_sub_account_sa_lab0002"]["endpoints"] == [
        endpoint["username"] for endpoint in lab if not endpoint["sip_registered"]]
    assert checks["count sub_account SA_LAB0002"]["status"] == "passed"
    endpoint_lists = [request for request in sim.requests if request["method"] == "GET" and request["path"].endswith("/Endpoint/")]
    assert len(endpoint_lists) == SAMPLE_PAGES  # the inventory's pages (300 endpoints, 100 a page); the role listed nothing
    assert completed.stdout.count(json.dumps(result["lines"][0])) == 1  # reported once, not once per host


def test_inventory_source_with_another_prefix(sim, tmp_path):
    role_vars = {"endpoint_audit_source": "inventory", "endpoint_audit_hostvars_prefix": "sip_",
                 "endpoint_audit_counts_by_application": {"Branch 01 Queue": {"min": 1}}}
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars, playbook="audit_inventory",
                              inventory=inventory_file(tmp_path, hostvars_prefix="sip_"), target="vobiz_sub_account_sa_branch01")
    assert completed.returncode == 0, output(completed)[-3000:]
    assert result["summary"]["endpoints"] == 40 and statuses(result) == {"count application Branch 01 Queue": "passed"}


# Connection and variables --------------------------------------------------------------------------

def test_connection_from_role_variables(sim, tmp_path):
    role_vars = {"endpoint_audit_auth_id": SAMPLE_AUTH_ID, "endpoint_audit_auth_token": SAMPLE_TOKEN, "endpoint_audit_api_url": sim.url,
                 "endpoint_audit_counts_by_sub_account": {"SA_BRANCH01": 40}}
    completed, result = audit(tmp_path, ansible_env(None, tmp_path), role_vars)  # no VOBIZ_* in the environment
    assert completed.returncode == 0, output(completed)[-3000:]
    assert statuses(result) == {"count sub_account SA_BRANCH01": "passed"}


def test_a_wrong_token_fails_readably_without_showing_it(sim, tmp_path):
    secret = "wrong-token-4f1d-never-shown"
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), {"endpoint_audit_auth_token": secret,
                                                                     "endpoint_audit_require_application": True})
    assert completed.returncode == 2 and result is None
    assert "401" in completed.stdout and "VOBIZ_AUTH_TOKEN" in completed.stdout
    assert secret not in output(completed)


@pytest.mark.parametrize("role_vars, message", [
    ({"endpoint_audit_require_aplication": True},
     "unknown role variable endpoint_audit_require_aplication (did you mean endpoint_audit_require_application?)"),
    ({"endpoint_audit_registerd": ["a"], "endpoint_audit_zzz": 1},
     "unknown role variables endpoint_audit_registerd (did you mean endpoint_audit_registered?), endpoint_audit_zzz"),
    ({"endpoint_audit_require_application": "maybe"}, "endpoint_audit_require_application"),
    ({"endpoint_audit_registered": {"alice": True}}, "endpoint_audit_registered"),
    ({"endpoint_audit_source": "somewhere"}, "endpoint_audit_source"),
    ({"endpoint_audit_flags": {"allow_others": False}}, "unknown flag allow_others"),
    ({"endpoint_audit_counts_by_sub_account": {"main": "many"}}, "endpoint_audit_counts_by_sub_account[main] must be a count"),
], ids=["misspelt", "two-misspelt", "bool-type", "list-type", "choice", "flag-name", "count"])
def test_bad_role_variables_fail_before_any_request(sim, tmp_path, role_vars, message):
    completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars)
    assert completed.returncode == 2, output(completed)[-3000:]
    assert message in output(completed)
    assert result is None
    assert sim.requests == []
