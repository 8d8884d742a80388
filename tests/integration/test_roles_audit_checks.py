# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registration, user agent, naming and contact network checks of vobiz.sip.endpoint_audit, and its reports,
through the real ansible-playbook against the simulator.

The account is made here, with expiry times relative to the moment of the test, so that each check has
endpoints that pass it and endpoints that fail it for a reason the test names. The JUnit report is read
with junitparser (PyPI), as CI systems read it.
"""

from __future__ import annotations

import datetime
import json

import pytest

from junitparser import Failure, JUnitXml, Skipped

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_TOKEN, ansible_env, run_cli
from ansible_collections.vobiz.sip.tests.integration.test_roles_audit import audit, by_check, output, statuses
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

NEW_CHECKS = ["registration_fresh", "user_agents", "username_patterns", "alias_patterns", "unique_aliases", "contact_networks"]
SETTINGS = {
    "endpoint_audit_registration_min_minutes": 10,
    "endpoint_audit_user_agents": [r"^Yealink SIP-\S+ \d+\.8[6-9]\.", r"^Yealink SIP-\S+ \d+\.9\d\."],
    "endpoint_audit_username_patterns": [r"^desk\d{2}$"],
    "endpoint_audit_alias_patterns": ["^[A-Z]"],
    "endpoint_audit_unique_aliases": True,
    "endpoint_audit_contact_networks": ["10.0.0.0/8", "2001:db8::/32"],
}


def at(minutes):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def endpoint(username, alias, registered=True, expires=None, agent=None, contact=None):
    return {"username": username, "alias": alias, "app_id": "20000000000000001", "sub_account": None, "sip_registered": registered,
            "sip_expires": expires, "sip_user_agent": agent, "sip_contact": contact}


def good_endpoints():
    """Every new check passes on these: fresh Yealink 86+ registrations from 10/8 and 2001:db8::/32."""
    return [
        endpoint("desk01", "Lobby Phone", expires=at(120), agent="Yealink SIP-T46S 66.86.0.15",
                 contact="sip:desk01@10.1.2.3:5060;transport=udp"),
        endpoint("desk02", "Reception", expires=at(180), agent="Yealink SIP-T54W 96.90.0.5",
                 contact="sips:desk02@[2001:db8::5]:5061;transport=tls"),
        endpoint("desk03", "Back Office", expires=at(60), agent="Yealink SIP-T46S 66.86.0.1",
                 contact='"Desk 3" <sip:desk03@10.9.9.9:5062>;expires=3600'),
        endpoint("desk04", "Spare", registered=False),  # unregistered: no registration check looks at it
    ]


def faulty_endpoints():
    return good_endpoints() + [
        # Expires in 2 minutes, old firmware, registers from a documentation network, its alias repeats desk01's.
        endpoint("lab05", "lobby  phone", expires=at(2), agent="Yealink SIP-T46S 66.84.0.1", contact="sip:lab05@192.0.2.10:5060"),
        # Expired, reports no user agent, registers under a host name, has no alias.
        endpoint("lab06", None, expires="2020-01-01T00:00:00Z", contact="sip:lab06@pbx.example.com"),
        # A sip_expires that is no timestamp, a softphone, an IPv4-mapped IPv6 address inside 10/8 (passes).
        endpoint("lab07", "Kiosk", expires="soon", agent="Zoiper rv2.10.20.2", contact="sip:lab07@[::ffff:10.1.1.1]:5060"),
    ]


def account(endpoints):
    return {"auth_id": SAMPLE_AUTH_ID, "auth_token": SAMPLE_TOKEN, "sub_accounts": [],
            "applications": [{"app_id": "20000000000000001", "app_name": "Front Desk"},
                             {"app_id": "20000000000000002", "app_name": "Night IVR"}],
            "endpoints": endpoints}


@pytest.fixture
def run_audit(tmp_path):
    """ansible-playbook with the audit role against a simulator serving the given endpoints."""
    def run(endpoints, role_vars, shape="rich", options=()):
        with Simulator(account(endpoints), shape=shape) as sim:
            completed, result = audit(tmp_path, ansible_env(sim, tmp_path), role_vars, options=list(options))
            requests = list(sim.requests)
        return completed, result, requests
    return run


def junit_cases(path):
    cases = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            cases[case.name] = case
    return cases


def test_each_new_check_passes_and_the_reports_say_so(run_audit, tmp_path):
    completed, result, _requests = run_audit(good_endpoints(), SETTINGS)
    assert completed.returncode == 0, output(completed)[-3000:]
    assert statuses(result) == {check: "passed" for check in NEW_CHECKS}
    assert "PASSED contact_networks: all 3 registered endpoints that report sip_contact register from the allowed networks " \
           "(10.0.0.0/8, 2001:db8::/32)" in completed.stdout
    report = tmp_path / "report"
    assert json.loads((report / "endpoint_audit.json").read_text(encoding="utf-8"))["summary"] == result["summary"]
    cases = junit_cases(report / "endpoint_audit.junit.xml")
    assert list(cases) == NEW_CHECKS
    assert all(case.is_passed for case in cases.values())
    markdown = (report / "endpoint_audit.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Endpoint audit\n\n**All 6 checks passed**. 4 endpoints audited from the Vobiz API at ")
    assert "| 4 | 3 (75%) | 1 (25%) | 0 (0%) |" in markdown


def test_each_new_check_fails_naming_the_endpoints_at_fault(run_audit, tmp_path):
    completed, result, _requests = run_audit(faulty_endpoints(), dict(SETTINGS, endpoint_audit_max_names=0))
    assert completed.returncode == 2, output(completed)[-3000:]
    checks = by_check(result)
    assert {check: checks[check]["endpoints"] for check in NEW_CHECKS} == {
        "registration_fresh": ["lab06", "lab05", "lab07"],   # expired, expiring within 10 minutes, unreadable
        "user_agents": ["lab05", "lab07"],
        "username_patterns": ["lab05", "lab06", "lab07"],
        "alias_patterns": ["lab05", "lab06"],
        "unique_aliases": ["desk01", "lab05"],
        "contact_networks": ["lab05", "lab06"],
    }
    assert set(item["status"] for item in checks.values()) == {"failed"}
    assert checks["registration_fresh"]["message"] == (
        "3 of 6 registered endpoints fail: 1 expired: lab06; 1 expire within 10 minutes: lab05; "
        "1 have a sip_expires that is not a timestamp: lab07 (soon)")
    assert checks["contact_networks"]["message"] == (
        "2 of 6 registered endpoints fail: 1 register from outside the allowed networks: lab05 (192.0.2.10); "
        "1 have a sip_contact without an IP address: lab06 (host name pbx.example.com, not an address)")
    assert checks["unique_aliases"]["message"] == "1 alias is shared by 2 endpoints: 'Lobby Phone' (desk01, lab05)"
    # The endpoint that reports no user agent is counted apart: a warning line, not a user agent failure.
    warnings = [item for item in result["results"] if item["status"] == "warning"]
    assert [(item["check"], item["endpoints"]) for item in warnings] == [("user_agents", ["lab06"])]
    for item in checks.values():
        assert json.dumps("FAILED %s: %s" % (item["check"], item["message"]), ensure_ascii=False) in completed.stdout
    assert "6 checks, 0 passed, 6 failed" in result["summary"]["line"]

    cases = junit_cases(tmp_path / "report" / "endpoint_audit.junit.xml")
    assert list(cases) == NEW_CHECKS
    for name, case in cases.items():
        failures = [entry for entry in case.result if isinstance(entry, Failure)]
        assert len(failures) == 1 and failures[0].message == checks[name]["message"]
        assert all(endpoint_name in failures[0].text for endpoint_name in checks[name]["endpoints"])
    assert "lab06" in cases["user_agents"].system_out


@pytest.mark.parametrize("policy, returncode, status", [("warn", 0, "skipped"), ("fail", 2, "failed"), ("ignore", 0, "passed")])
def test_compact_records_carry_no_registration_details(run_audit, tmp_path, policy, returncode, status):
    role_vars = {key: SETTINGS[key] for key in ("endpoint_audit_registration_min_minutes", "endpoint_audit_user_agents",
                                                "endpoint_audit_contact_networks")}
    completed, result, _requests = run_audit(faulty_endpoints(), dict(role_vars, endpoint_audit_unreported_registration=policy),
                                             shape="compact")
    assert completed.returncode == returncode, output(completed)[-3000:]
    cases = junit_cases(tmp_path / "report" / "endpoint_audit.junit.xml")
    assert list(cases) == ["registration_fresh", "user_agents", "contact_networks"]
    kinds = {"skipped": Skipped, "failed": Failure}
    for case in cases.values():
        if status == "passed":
            assert case.is_passed
        else:
            assert [type(entry) for entry in case.result] == [kinds[status]]
    if policy == "warn":
        assert ("WARNING registration_fresh: no registered endpoint reports sip_expires (the API answered with compact records), "
                "so it was not checked") in completed.stdout


def test_reports_are_written_in_check_mode_and_the_dashboard_opens_the_markdown(run_audit, tmp_path):
    completed, result, requests = run_audit(faulty_endpoints(), {"endpoint_audit_unique_aliases": True,
                                                                 "endpoint_audit_fail": False}, options=["--check"])
    assert completed.returncode == 0, output(completed)[-3000:]
    assert all(request["method"] == "GET" for request in requests)
    report = tmp_path / "report"
    assert sorted(path.name for path in report.iterdir()) == ["endpoint_audit.json", "endpoint_audit.junit.xml", "endpoint_audit.md"]
    saved = json.loads((report / "endpoint_audit.json").read_text(encoding="utf-8"))
    assert saved["results"] == result["results"] and saved["dashboard"] == {
        "total": 7, "registered": 6, "unregistered": 1, "without_application": 0,
        "by_application": {"Front Desk": 7}, "by_sub_account": {"main": 7}}
    markdown = (report / "endpoint_audit.md").read_text(encoding="utf-8")
    dashboard = markdown.index("## Dashboard")
    assert dashboard < markdown.index("```mermaid\nxychart-beta\n") < markdown.index("## Checks")
    assert '    x-axis ["Front Desk"]\n    y-axis "endpoints" 0 --> 7\n    bar [7]\n' in markdown
    assert "| ❌ failed | unique_aliases | 1 alias is shared by 2 endpoints: 'Lobby Phone' (desk01, lab05) |" in markdown
    assert "report: %s" % (report / "endpoint_audit.md") in completed.stdout


def test_no_report_when_the_directory_is_empty(run_audit, tmp_path):
    completed, result, _requests = run_audit(good_endpoints(), {"endpoint_audit_unique_aliases": True, "endpoint_audit_report_dir": ""})
    assert completed.returncode == 0, output(completed)[-3000:]
    # No path for any report: null on ansible-core 2.19 and later, "" before (Jinja rendered None as text).
    assert sorted(result["reports"]) == ["json", "junit", "markdown"] and not any(result["reports"].values())
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("role_vars, message", [
    ({"endpoint_audit_user_agents": ["Yealink ("]}, "endpoint_audit_user_agents: 'Yealink (' is not a valid regular expression"),
    ({"endpoint_audit_contact_networks": ["10.0.0.1/8"]}, "endpoint_audit_contact_networks: text '10.0.0.1/8' is not a network: 10.0.0.1/8 has host bits set"),
    ({"endpoint_audit_contact_networks": ["10.0.0.1/8"]}, "(did you mean 10.0.0.0/8?)"),
    ({"endpoint_audit_registration_min_minutes": "soon"}, "endpoint_audit_registration_min_minutes"),
    ({"endpoint_audit_unreported_registration": "maybe"}, "endpoint_audit_unreported_registration"),
], ids=["regex", "cidr", "cidr-hint", "minutes", "policy"])
def test_bad_settings_of_the_new_checks_fail_before_any_request(run_audit, role_vars, message):
    completed, result, requests = run_audit(good_endpoints(), role_vars)
    assert completed.returncode == 2, output(completed)[-3000:]
    assert message in " ".join(output(completed).split())
    assert result is None and requests == []


MODULE_DEFAULTS_PLAYBOOK = """\
- name: The audit with its connection from module_defaults only
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/vobiz.sip.vobiz: {auth_id: "%(auth_id)s", auth_token: "{{ token }}", api_url: "%(url)s"}
  roles:
    - role: vobiz.sip.endpoint_audit
      vars:
        endpoint_audit_unique_aliases: true
        endpoint_audit_report_dir: "%(report_dir)s"
"""


def test_connection_from_module_defaults(tmp_path):
    """docs/audit.md promises module_defaults for group/vobiz.sip.vobiz; an omitted role variable must not hide them."""
    with Simulator(account(good_endpoints()), shape="rich") as sim:
        playbook = tmp_path / "audit.yml"
        playbook.write_text(MODULE_DEFAULTS_PLAYBOOK % {"auth_id": SAMPLE_AUTH_ID, "url": sim.url, "report_dir": tmp_path / "report"},
                            encoding="utf-8")
        completed = run_cli("ansible-playbook", "-i", "localhost,", playbook, "-e", "token=" + SAMPLE_TOKEN,
                            env=ansible_env(None, tmp_path))  # no VOBIZ_* in the environment
    assert completed.returncode == 0, output(completed)[-3000:]
    assert "PASSED unique_aliases: all 4 aliases are distinct" in completed.stdout
    assert SAMPLE_TOKEN not in output(completed)
