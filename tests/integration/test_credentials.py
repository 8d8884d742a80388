# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A missing auth_id or auth_token gives one message naming the option and its environment variable, from the
inventory plugin, both modules and both roles (not Ansible's "Required config ..." or "missing required arguments"),
before any request."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import ansible_env, inventory_cli, one_line, run_cli

MESSAGES = {
    "auth_id": "auth_id is required: set the auth_id option or the VOBIZ_AUTH_ID environment variable",
    "auth_token": "auth_token is required: set the auth_token option or the VOBIZ_AUTH_TOKEN environment variable",
}
GENERIC = ("Required config", "missing required arguments", "Traceback")

# One task per piece that takes the connection; each fails on its own (ignore_errors) and is counted below.
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: endpoint_info
      vobiz.sip.endpoint_info:
      ignore_errors: true
    - name: endpoint
      vobiz.sip.endpoint:
        username: nobody01
      ignore_errors: true
    - name: endpoint_audit
      block:
        - ansible.builtin.include_role:
            name: vobiz.sip.endpoint_audit
          vars:
            endpoint_audit_require_application: true
      rescue:
        - ansible.builtin.debug:
            msg: "rescued endpoint_audit"
    - name: endpoint_drift
      block:
        - ansible.builtin.include_role:
            name: vobiz.sip.endpoint_drift
          vars:
            endpoint_drift_desired: [{username: nobody01}]
            endpoint_drift_report_dir: "{{ report_dir }}"
      rescue:
        - ansible.builtin.debug:
            msg: "rescued endpoint_drift"
"""


@pytest.mark.parametrize("missing", sorted(MESSAGES))
def test_inventory_names_option_and_variable(sim, tmp_path, missing):
    env = ansible_env(sim, tmp_path)
    del env["VOBIZ_AUTH_ID" if missing == "auth_id" else "VOBIZ_AUTH_TOKEN"]
    completed = inventory_cli(sim, tmp_path, "--graph", env=env)
    output = one_line(completed.stdout + completed.stderr)
    assert completed.returncode != 0
    assert MESSAGES[missing] in output
    assert not any(text in output for text in GENERIC), output
    assert not sim.requests


@pytest.mark.parametrize("missing", sorted(MESSAGES))
def test_modules_and_roles_name_option_and_variable(sim, tmp_path, missing):
    env = ansible_env(sim, tmp_path)
    del env["VOBIZ_AUTH_ID" if missing == "auth_id" else "VOBIZ_AUTH_TOKEN"]
    playbook = tmp_path / "connect.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    completed = run_cli("ansible-playbook", "-i", "localhost,", playbook, "-e", "report_dir=%s" % (tmp_path / "reports"), env=env)
    output = one_line(completed.stdout + completed.stderr)
    assert completed.returncode == 0, output  # every failure was expected and caught
    # endpoint_info, endpoint, and the module call inside each role: four failures with our message.
    assert output.count('"msg": "%s"' % MESSAGES[missing]) == 4, output
    assert "rescued endpoint_audit" in output and "rescued endpoint_drift" in output
    assert not any(text in output for text in GENERIC), output
    assert not sim.requests
