# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/examples/audit.yml and drift.yml on the sample account, run as `make demo` runs them.

These outcomes are what the README and docs/drift.md promise; a change to the sample data or to the
roles that moves them has to move those texts too.
"""

from __future__ import annotations

import json
import os

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_TOKEN, ansible_env, run_cli

EXAMPLES = os.path.join(REPO_ROOT, "docs", "examples")
DEMO_PASSWORD = "demo-only-Lobby-2026"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def example(playbook, env, *options):
    completed = run_cli("ansible-playbook", "-i", "localhost,", playbook, *options, env=env, cwd=EXAMPLES)
    for secret in (SAMPLE_TOKEN, DEMO_PASSWORD):
        assert secret not in completed.stdout + completed.stderr
    return completed


def debug_lines(completed, task):
    """The list a debug task printed, parsed from the default callback's output."""
    text = completed.stdout.split("TASK [%s]" % task, 1)[1]
    block = text[text.index("{"):text.index("\n}\n") + 2]
    return json.loads(block)["msg"]


def writes(sim):
    return [request["method"] for request in sim.requests if request["method"] in WRITE_METHODS]


def test_example_audit_finds_the_sample_accounts_problems(sim, tmp_path):
    reports = tmp_path / "reports"
    completed = example("audit.yml", ansible_env(sim, tmp_path, VOBIZ_DEMO_REPORT_DIR=reports))
    assert completed.returncode == 2, completed.stdout[-3000:]
    lines = debug_lines(completed, "vobiz.sip.endpoint_audit : Report the checks")
    no_application = [endpoint["username"] for endpoint in sim.endpoints if not endpoint["app_id"]]
    assert lines == [
        "FAILED registered: 1 of 3 listed endpoints fail: 1 not registered: heidi909",
        "FAILED application_required: 20 of 300 endpoints have no application: %s" % ", ".join(no_application),
        "PASSED allowed_applications: every application in use is allowed (Front Desk, front-desk, Réception – Paris, "
        "Sales & Support (EU), Night-Shift IVR #2, Branch 01 Queue)",
        "WARNING allow_other_domains: no endpoint reports allow_other_domains (the API answered with compact records), so it was not checked",
        "PASSED count sub_account SA_BRANCH01: 40 endpoints, expected exactly 40",
        "PASSED count sub_account SA_LAB0002: 8 endpoints, expected at most 10",
        "endpoint audit of 300 endpoints: 5 checks, 3 passed, 2 failed (registered, application_required), 1 warning",
        "report: %s" % (reports / "endpoint_audit.md"),
    ]
    assert writes(sim) == []
    assert sorted(path.name for path in reports.iterdir()) == ["endpoint_audit.json", "endpoint_audit.junit.xml", "endpoint_audit.md"]


def test_example_audit_on_rich_records_also_finds_other_domains(sim, tmp_path):
    sim.configure(shape="rich")
    completed = example("audit.yml", ansible_env(sim, tmp_path, VOBIZ_DEMO_REPORT_DIR=tmp_path / "reports"))
    assert completed.returncode == 2, completed.stdout[-3000:]
    lines = debug_lines(completed, "vobiz.sip.endpoint_audit : Report the checks")
    offenders = [endpoint["username"] for endpoint in sim.endpoints if endpoint["allow_other_domains"]]
    assert "FAILED allow_other_domains: %d of 300 endpoints do not have allow_other_domains false: %s" % (
        len(offenders), ", ".join(offenders)) in lines
    assert lines[-2] == "endpoint audit of 300 endpoints: 6 checks, 3 passed, 3 failed (registered, application_required, allow_other_domains)"


def test_example_drift_report_check_converge_and_clean(sim, tmp_path):
    env = ansible_env(sim, tmp_path, VOBIZ_DEMO_REPORT_DIR=tmp_path / "reports")
    report = tmp_path / "reports" / "endpoint_drift.md"

    first = example("drift.yml", env)
    assert first.returncode == 2, first.stdout[-3000:]
    assert debug_lines(first, "vobiz.sip.endpoint_drift : Report the drift")[:-1] == [
        "Drift: 4 differences (1 missing, 1 unexpected, 2 changed) between the desired list (6 endpoints) and the account (300 endpoints).",
        "missing lobby_phone01",
        "changed rupert516 (113067043515650): alias: wanted 'Rupert516 Front Desk', actual 'Rupert516 Desk'",
        "changed sybil691 (115672353010270): application: wanted 'Front Desk', actual 'front-desk (20000000000000002)'",
        "unexpected heidi470 (105086468470592): listed with state: absent",
        "295 endpoints on the account not in the desired list (allowed)",
    ]
    markdown = report.read_text(encoding="utf-8")
    assert "| heidi470 | 105086468470592 | unexpected |  | absent | present, alias {{ lookup('pipe', 'id') }} |" in markdown
    assert DEMO_PASSWORD not in markdown and writes(sim) == []

    checked = example("drift.yml", env, "-e", "endpoint_drift_remediate=true", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "remediation would make 4 change(s) of 4 planned; drift it cannot fix: 0" in checked.stdout
    assert writes(sim) == []

    converged = example("drift.yml", env, "-e", "endpoint_drift_remediate=true")
    assert converged.returncode == 0, converged.stdout[-3000:]
    assert "remediation made 4 change(s) of 4 planned; drift it cannot fix: 0" in converged.stdout
    assert sorted(writes(sim)) == ["DELETE", "POST", "POST", "POST"]

    clean = example("drift.yml", env)
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert debug_lines(clean, "vobiz.sip.endpoint_drift : Report the drift")[0] == (
        "No drift. The account matches the desired list (6 endpoints; 300 endpoints on the account).")
    assert report.read_text(encoding="utf-8").startswith("# Endpoint drift\n\n**No drift.**")
