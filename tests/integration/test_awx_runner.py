# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX path: ansible-runner's Python API, the library AWX and Automation Controller run inventory updates and
jobs with, against the simulator.

An inventory update is `ansible-inventory --list --export` run by ansible-runner; its result must be what the CLI
prints. A job is a playbook on a group of endpoints with the credential's environment variables (docs/awx.md);
the token must be in none of its job events, which AWX stores and shows to everyone who may see the job.
"""

from __future__ import annotations

import json
import os

import ansible_runner
import pytest
import yaml

from ansible_collections.vobiz.sip.tests.harness import hang_guard
from ansible_collections.vobiz.sip.tests.integration.conftest import (BIN_DIR, CLI_EXPECTED_SECONDS, SAMPLE_SIZE, SAMPLE_TOKEN,
                                                                      ansible_env, normalise, run_cli, write_config)

GROUP = "vobiz_sub_account_sa_lab0002"
GROUP_SUB_ACCOUNT = "SA_LAB0002"

# A job template's playbook: every endpoint of the group checked from its host variables, then the group held
# against a live listing of its sub-account with the token passed as a module argument (no_log must hide it).
PLAYBOOK = [{
    "name": "Endpoints of one sub-account",
    "hosts": GROUP,
    "gather_facts": False,
    "tasks": [
        {"name": "The inventory put the endpoint in its sub-account's group",
         "ansible.builtin.assert": {"that": ["vobiz_sub_account == %r" % GROUP_SUB_ACCOUNT, "ansible_connection == 'local'"],
                                    "quiet": True}},
        {"name": "List the sub-account through the API",
         "vobiz.sip.endpoint_info": {"auth_token": "{{ lookup('ansible.builtin.env', 'VOBIZ_AUTH_TOKEN') }}",
                                     "filters": {"sub_account": GROUP_SUB_ACCOUNT}},
         "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
         "run_once": True, "register": "listing"},
        {"name": "The group is the sub-account",
         "ansible.builtin.assert": {"that": ["listing.endpoints | map(attribute='username') | sort == ansible_play_hosts_all | sort"]},
         "run_once": True},
    ],
}]


@pytest.fixture
def runner_env(sim, tmp_path, monkeypatch):
    """The credential's environment for ansible-runner, with this venv's CLIs first on PATH (as in an EE, where
    ansible-runner finds ansible-playbook and ansible-inventory on PATH)."""
    path = BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    monkeypatch.setenv("PATH", path)  # ansible-runner looks the CLI up on its own PATH
    return ansible_env(sim, tmp_path, PATH=path)


def test_inventory_update_through_ansible_runner_is_the_cli_export(runner_env, tmp_path):
    config = write_config(tmp_path)
    out, err = ansible_runner.get_inventory("list", [str(config)], response_format="json", export=True, envvars=runner_env,
                                            private_data_dir=str(tmp_path / "runner"), quiet=True,
                                            timeout=int(hang_guard(CLI_EXPECTED_SECONDS)))
    assert isinstance(out, dict), "ansible-runner's get_inventory returned no inventory: %s %s" % (out, err)
    cli = run_cli("ansible-inventory", "-i", config, "--list", "--export", env=runner_env)
    assert cli.returncode == 0, cli.stderr
    exported = normalise(out)
    assert exported == normalise(json.loads(cli.stdout))
    assert len(exported["_meta"]["hostvars"]) == SAMPLE_SIZE


def test_job_on_a_group_of_endpoints_through_ansible_runner_keeps_the_token_out_of_its_events(runner_env, tmp_path):
    config = write_config(tmp_path)
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "project" / "job.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False), encoding="utf-8")
    job = ansible_runner.run(private_data_dir=str(private), playbook="job.yml", inventory=str(config), envvars=runner_env,
                             quiet=True, timeout=int(hang_guard(CLI_EXPECTED_SECONDS)))
    events = list(job.events)
    stdout = job.stdout.read()
    assert (job.status, job.rc) == ("successful", 0), stdout
    stats = next(event for event in events if event["event"] == "playbook_on_stats")["event_data"]
    assert 1 < len(stats["ok"]) <= 10 and not stats["failures"] and not stats["dark"], stats
    assert any(event["event"] == "runner_on_ok" and event["event_data"].get("task") == "List the sub-account through the API"
               for event in events)
    leaking = [event["event"] for event in events if SAMPLE_TOKEN in json.dumps(event)]
    assert not leaking, "the token is in these job events: %s" % leaking
    assert SAMPLE_TOKEN not in stdout
