# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The auth token and endpoint passwords never leave the process: not in output, logs, caches or files.

Runs the inventory (default verbosity and -vvvv, success and failure, jsonfile cache on) and the modules
(-vvvv, --diff, check mode, create and update with a password, failures) with a distinctive token, a distinctive
wrong token and a distinctive password, then searches every byte of stdout, stderr, Ansible's log file and every
file the runs left behind (inventory cache, ANSIBLE_HOME, temp dirs, saved results) for them.
Only the input files that hold the secrets on purpose (inventory config, vars file) are not searched.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError
from ansible_collections.vobiz.sip.tests.integration.conftest import ansible_env, run_cli, unwrap
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator, generate_data

RUN = uuid.uuid4().hex
TOKEN = "vbz-token-%s" % RUN
WRONG_TOKEN = "vbz-wrongtoken-%s" % uuid.uuid4().hex
PASSWORD = "vbz-password-%s" % uuid.uuid4().hex
NEW_PASSWORD = "vbz-newpassword-%s" % uuid.uuid4().hex
SECRETS = {"token": TOKEN, "wrong token": WRONG_TOKEN, "password": PASSWORD, "new password": NEW_PASSWORD}
AUTH_ID = "MA_LEAKTEST1"

MODULES_PLAYBOOK = """\
- name: vobiz.sip modules with secrets
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/vobiz.sip.vobiz:
      auth_id: "{{ conn.auth_id }}"
      auth_token: "{{ conn.auth_token }}"
      api_url: "{{ conn.api_url }}"
      timeout: 2
      retries: 1
  tasks:
    - name: Read the account
      vobiz.sip.endpoint_info:
      register: info

    - name: Create an endpoint with a password
      vobiz.sip.endpoint:
        username: leakcheck01
        password: "{{ password }}"
        alias: Leak check
      register: created

    - name: Change it and send a new password
      vobiz.sip.endpoint:
        username: leakcheck01
        password: "{{ new_password }}"
        update_password: always
        alias: Leak check renamed
        allow_video: true
      register: updated

    - name: Read it back
      vobiz.sip.endpoint_info:
        endpoint_id: "{{ created.endpoint.endpoint_id | default('000000000000000', true) }}"
      register: readback

    - name: Save every result
      ansible.builtin.copy:
        content: "{{ {'info': info, 'created': created, 'updated': updated, 'readback': readback} | to_json }}"
        dest: "{{ out_dir }}/modules-result.json"
        mode: "0600"

    - name: A wrong token fails
      vobiz.sip.endpoint_info:
        auth_token: "{{ wrong_token }}"
      register: unauthorized
      ignore_errors: true

    - name: A create that the API rejects keeps the password to itself
      vobiz.sip.endpoint:
        username: leakcheck02
        password: "{{ password }}"
        sub_account: SA_NOSUCH01
      register: failed_create
      ignore_errors: true

    - name: Save the failures
      ansible.builtin.copy:
        content: "{{ {'unauthorized': unauthorized, 'failed_create': failed_create} | to_json }}"
        dest: "{{ out_dir }}/modules-failures.json"
        mode: "0600"
"""


class Evidence:
    """Everything the runs produced, gathered for the search; inputs that carry secrets on purpose are set aside."""

    def __init__(self, root):
        self.root = root
        self.outputs = []
        self.inputs = set()

    def add_input(self, path, text):
        path.write_text(text, encoding="utf-8")
        self.inputs.add(str(path))
        return path

    def run(self, label, tool, *args, env):
        completed = run_cli(tool, *args, env=env)
        self.outputs.append(("%s stdout" % label, completed.stdout.encode("utf-8")))
        self.outputs.append(("%s stderr" % label, completed.stderr.encode("utf-8")))
        return completed

    def files(self):
        for directory, _dirs, names in os.walk(self.root):
            for name in names:
                path = os.path.join(directory, name)
                if path not in self.inputs and os.path.isfile(path):
                    with open(path, "rb") as handle:
                        yield path, handle.read()

    def leaks(self):
        found = []
        for where, data in self.outputs + list(self.files()):
            for what, secret in SECRETS.items():
                # the whole secret, and its random part alone (a secret cut short or reformatted still leaks)
                if secret.encode("utf-8") in data or secret.rsplit("-", 1)[1].encode("ascii") in data:
                    found.append("%s in %s" % (what, where))
        return found


@pytest.fixture
def secret_sim():
    data = generate_data(40, base={"auth_id": AUTH_ID, "auth_token": TOKEN})
    with Simulator(data, shape="rich") as simulator:
        yield simulator


def environment(sim, root, name, **extra):
    """A run's environment: the secret token, a log file, and every place Ansible writes kept under root."""
    home = root / name
    for sub in ("home", "local_tmp", "remote_tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env = ansible_env(sim, home, ANSIBLE_LOG_PATH=str(home / "ansible.log"), ANSIBLE_REMOTE_TMP=str(home / "remote_tmp"),
                      HOME=str(home / "home"), **extra)
    env.update(VOBIZ_AUTH_ID=AUTH_ID, VOBIZ_AUTH_TOKEN=TOKEN)
    return env


def inventory_config(evidence, name, cache_dir, **options):
    config = dict({"plugin": "vobiz.sip.endpoints", "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
                   "cache_connection": str(cache_dir), "timeout": 2, "retries": 1}, **options)
    return evidence.add_input(evidence.root / ("%s.vobiz.yml" % name), json.dumps(config))


def test_inventory_never_leaks_the_token(secret_sim, tmp_path):
    evidence = Evidence(tmp_path)
    cache_dir = tmp_path / "inventory_cache"
    from_env = inventory_config(evidence, "from_env", cache_dir)
    in_config = inventory_config(evidence, "in_config", cache_dir, auth_id=AUTH_ID, auth_token=TOKEN)
    host = secret_sim.endpoints[0]["username"]

    listed = evidence.run("list", "ansible-inventory", "-i", from_env, "--list", env=environment(secret_sim, tmp_path, "list"))
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert len(json.loads(listed.stdout)["_meta"]["hostvars"]) == 40
    for verbosity in ("-vvvv", "-vvvv"):  # a cache miss, then a hit
        completed = evidence.run("list %s" % verbosity, "ansible-inventory", "-i", in_config, "--list", verbosity,
                                 env=environment(secret_sim, tmp_path, "verbose"))
        assert completed.returncode == 0, completed.stderr[-2000:]
    assert "cache hit" in completed.stdout + completed.stderr
    completed = evidence.run("host", "ansible-inventory", "-i", in_config, "--host", host, "-vvvv",
                             env=environment(secret_sim, tmp_path, "host"))
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert unwrap(json.loads(completed.stdout[completed.stdout.index("\n{") + 1:]))["vobiz_username"] == host  # after -vvvv lines
    assert os.listdir(cache_dir), "the cache was never written, so it was never searched"

    # The failures get caches of their own, so that they miss and reach the API (--flush-cache needs ansible-core 2.17).
    wrong = environment(secret_sim, tmp_path, "wrong")
    wrong["VOBIZ_AUTH_TOKEN"] = WRONG_TOKEN
    rejected = inventory_config(evidence, "rejected", tmp_path / "rejected_cache")
    for verbosity in ("-v", "-vvvv"):
        completed = evidence.run("401 %s" % verbosity, "ansible-inventory", "-i", rejected, "--list", verbosity, env=wrong)
        assert completed.returncode != 0 and "HTTP 401" in completed.stderr
    secret_sim.configure(faults=[{"kind": "503", "times": 1000}])
    unavailable = inventory_config(evidence, "unavailable", tmp_path / "unavailable_cache", auth_id=AUTH_ID, auth_token=TOKEN)
    completed = evidence.run("503 -vvvv", "ansible-inventory", "-i", unavailable, "--list", "-vvvv",
                             env=environment(secret_sim, tmp_path, "unavailable"))
    assert completed.returncode != 0 and "HTTP 503" in completed.stderr

    assert TOKEN in (tmp_path / "in_config.vobiz.yml").read_text(encoding="utf-8")  # the search would see a copy
    assert sum(len(data) for _where, data in evidence.files()) > 10000, "nothing much was written to search"
    assert evidence.leaks() == []


def test_modules_never_leak_the_token_or_passwords(secret_sim, tmp_path):
    evidence = Evidence(tmp_path)
    playbook = evidence.add_input(tmp_path / "modules.yml", MODULES_PLAYBOOK)
    extra_vars = evidence.add_input(tmp_path / "vars.json", json.dumps({
        "conn": {"auth_id": AUTH_ID, "auth_token": TOKEN, "api_url": secret_sim.url},
        "password": PASSWORD, "new_password": NEW_PASSWORD, "wrong_token": WRONG_TOKEN, "out_dir": str(tmp_path),
    }))

    def play(label, *options):
        env = environment(secret_sim, tmp_path, label.replace(" ", "_"))
        return evidence.run(label, "ansible-playbook", "-i", "localhost,", playbook, "-e", "@%s" % extra_vars, *options, env=env)

    checked = play("check diff", "--check", "--diff", "-vvvv")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert [endpoint["username"] for endpoint in secret_sim.endpoints].count("leakcheck01") == 0  # check mode wrote nothing
    completed = play("real diff", "--diff", "-vvvv")
    assert completed.returncode == 0, completed.stdout[-3000:]
    results = json.loads((tmp_path / "modules-result.json").read_text(encoding="utf-8"))
    failures = json.loads((tmp_path / "modules-failures.json").read_text(encoding="utf-8"))
    assert results["created"]["changed"] and results["updated"]["changed"]
    assert results["readback"]["endpoints"][0]["alias"] == "Leak check renamed"
    assert failures["unauthorized"]["failed"] and "HTTP 401" in failures["unauthorized"]["msg"]
    assert failures["failed_create"]["failed"] and "HTTP 400" in failures["failed_create"]["msg"]
    posted = [request["body"] for request in secret_sim.requests if request["method"] == "POST" and request["body"]]
    sent = {body.get("password") for body in posted}
    assert {PASSWORD, NEW_PASSWORD} <= sent  # the secrets really went to the API, so the search is meaningful
    assert any(body.get("username") == "leakcheck02" and body.get("password") == PASSWORD for body in posted)
    assert "Leak check renamed" in checked.stdout and "Leak check renamed" in completed.stdout  # the diffs were shown
    assert evidence.leaks() == []


@pytest.fixture
def elsewhere():
    """A second server that would accept the token: any request reaching it with the token answers 200."""
    with Simulator(generate_data(3, base={"auth_id": AUTH_ID, "auth_token": TOKEN})) as simulator:
        yield simulator


def redirect_to(sim, elsewhere):
    target = "%s/api/v1/Account/%s/Endpoint/?limit=100&offset=0" % (elsewhere.url, AUTH_ID)
    sim.configure(faults=[{"kind": "redirect", "location": target, "times": 1000}])
    return target


def test_a_redirect_never_carries_the_token_to_another_server(secret_sim, elsewhere):
    target = redirect_to(secret_sim, elsewhere)
    client = VobizClient(AUTH_ID, TOKEN, api_url=secret_sim.url, retries=2, backoff_base=0.01)
    with pytest.raises(VobizError) as error:
        client.list_endpoints()
    assert "was redirected (HTTP 302) to %s" % target in str(error.value) and "set api_url" in str(error.value)
    assert len(secret_sim.requests) == 1  # not retried: a redirect will not go away by itself
    assert elsewhere.requests == []


def test_inventory_reports_a_redirect_and_sends_nothing_elsewhere(secret_sim, elsewhere, tmp_path):
    target = redirect_to(secret_sim, elsewhere)
    evidence = Evidence(tmp_path)
    config = inventory_config(evidence, "redirected", tmp_path / "cache")
    completed = evidence.run("redirect", "ansible-inventory", "-i", config, "--list", "-vvvv",
                             env=environment(secret_sim, tmp_path, "redirect"))
    # Whitespace removed: ansible-core before 2.19 wraps the message, even inside the URL.
    assert completed.returncode != 0 and "wasredirected(HTTP302)to%s" % target in "".join(completed.stderr.split())
    assert elsewhere.requests == []
    assert evidence.leaks() == []
