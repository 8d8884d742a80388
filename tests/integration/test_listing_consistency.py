# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regression: a create and a delete that balance while paging never hide an endpoint (issue 11).

250 endpoints, page_size 50, max_concurrency 4. After the first page is served, the first endpoint is deleted
and a new one is created at the end: total_count never moves, and the 51st endpoint moves across the page
boundary. Pages that only add up to total_count miss it with exit 0; the listing must hold every endpoint that
lived throughout (here: all but the deleted one), each once, through ansible-inventory and endpoint_info alike.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_TOKEN, ansible_env, run_cli
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator, generate_data

OPTIONS = {"page_size": 50, "max_concurrency": 4, "resolve_applications": False}
BALANCED = [{"after_list_requests": 1, "remove": 1, "where": "start"},
            {"after_list_requests": 1, "add": 1, "where": "end"}]
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - vobiz.sip.endpoint_info:
        page_size: 50
        max_concurrency: 4
      register: listed
    - ansible.builtin.copy:
        content: "{{ listed.endpoints | map(attribute='endpoint_id') | list | to_json }}"
        dest: "{{ out_file }}"
"""


@pytest.fixture
def balanced_sim():
    data = generate_data(250)
    data.update(auth_id=SAMPLE_AUTH_ID, auth_token=SAMPLE_TOKEN)
    with Simulator(data) as simulator:
        before = [(endpoint["endpoint_id"], endpoint["username"]) for endpoint in simulator.endpoints]
        simulator.configure(page_mutations=BALANCED)
        yield simulator, before


def lived_throughout(sim, before, field):
    """The ids (field 0) or usernames (field 1) of the endpoints present before and after the listing."""
    after = {endpoint["endpoint_id"] for endpoint in sim.endpoints}
    assert len(after) == len(before) and before[0][0] not in after, "the balanced change did not happen"
    return [pair[field] for pair in before if pair[0] in after]


def test_inventory_lists_every_endpoint_when_creates_and_deletes_balance(balanced_sim, tmp_path):
    sim, before = balanced_sim
    config = tmp_path / "balanced.vobiz.yml"
    config.write_text(json.dumps(dict(OPTIONS, plugin="vobiz.sip.endpoints")), encoding="utf-8")
    completed = run_cli("ansible-inventory", "-i", config, "--list", env=ansible_env(sim, tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    hosts = json.loads(completed.stdout)["vobiz_endpoints"]["hosts"]
    assert len(hosts) == len(set(hosts))
    missing = set(lived_throughout(sim, before, 1)) - set(hosts)
    assert not missing, "endpoints that lived throughout are missing: %s" % sorted(missing)


def test_endpoint_info_lists_every_endpoint_when_creates_and_deletes_balance(balanced_sim, tmp_path):
    sim, before = balanced_sim
    playbook = tmp_path / "balanced.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    out_file = tmp_path / "ids.json"
    completed = run_cli("ansible-playbook", "-i", "localhost,", playbook, "-e", "out_file=%s" % out_file,
                        env=ansible_env(sim, tmp_path))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    ids = json.loads(out_file.read_text(encoding="utf-8"))
    assert len(ids) == len(set(ids))
    missing = set(lived_throughout(sim, before, 0)) - set(ids)
    assert not missing, "endpoints that lived throughout are missing: %s" % sorted(missing)
