# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text from the API is data, never code: hostile values flow through the inventory and the modules as inert text.

Aliases, usernames, application names and sub-account ids carry Jinja (expressions and statements), quotes,
newlines, shell syntax, very long strings and non-ASCII text. Each Jinja value is a canary that would touch a
file of its own if anything templated it: no canary file may ever appear. Every value must come out exactly as
the API sent it, and every group name the plugin makes must stay a valid Ansible group name.
"""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import ansible_env, run_cli
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

AUTH_ID = "MA_HOSTILE01"
TOKEN = "hostile-data-token"
GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
APP_IDS = ("30000000000000001", "30000000000000002", "30000000000000003", "30000000000000004")


def canary(directory, name):
    return "{{ lookup('pipe', 'touch %s/%s') }}" % (directory, name)


def canary_statement(directory, name):
    return "{%% set hit = lookup('pipe', 'touch %s/%s') %%}" % (directory, name)


def hostile_data(canaries):
    """An account whose every free-text field tries something; the canaries touch files under `canaries`."""
    return {
        "auth_id": AUTH_ID,
        "auth_token": TOKEN,
        "allow_any_username": True,
        "applications": [
            {"app_id": APP_IDS[0], "app_name": canary(canaries, "application_name")},
            {"app_id": APP_IDS[1], "app_name": "{% for x in [1] %}" + canary(canaries, "application_loop") + "{% endfor %}"},
            {"app_id": APP_IDS[2], "app_name": "Front \"Desk\"\n'second line' \\ {#"},
            {"app_id": APP_IDS[3], "app_name": "\u00d6" * 300},
        ],
        "sub_accounts": [
            {"auth_id": canary(canaries, "sub_account"), "name": canary(canaries, "sub_account_name")},
            {"auth_id": "SA_\u6771\u4eac_\u00fc", "name": "T\u014dky\u014d"},
        ],
        "endpoints": [
            {"username": "jinja_" + canary(canaries, "username"), "alias": canary(canaries, "alias"),
             "app_id": APP_IDS[0], "sub_account": canary(canaries, "sub_account"), "sip_registered": True},
            {"username": "block" + canary_statement(canaries, "username_statement"),
             "alias": "{% if lookup('pipe', 'touch " + str(canaries) + "/alias_statement') %}x{% endif %}",
             "app_id": APP_IDS[1]},
            {"username": "quote'\"user", "alias": "line one\nline two 'single' \"double\" \\backslash {{ unbalanced",
             "app_id": APP_IDS[2], "sub_account": "SA_\u6771\u4eac_\u00fc"},
            {"username": "long_" + "x" * 300, "alias": "A" * 5000, "app_id": APP_IDS[3]},
            {"username": "\u00fcn\u00efcode_\u6771\u4eac", "alias": "R\u00e9ception \u2013 \u6771\u4eac \U0001f4de"},
            {"username": "shell01", "alias": "$(touch %s/shell) `touch %s/backtick` ${HOME} !unsafe" % (canaries, canaries)},
            {"username": "new\nline", "alias": "{{ '{{' }} nested {{ '}}' }} " + canary(canaries, "nested")},
            {"username": "expr_{{7*7}}_{{no_such_variable}}", "alias": "{{ 7 * 7 }}", "app_id": APP_IDS[0]},
            {"username": "plain01", "alias": "Plain desk", "app_id": APP_IDS[0]},
            # Terminal codes: ESC c resets a terminal, ESC [31m turns it red, BEL rings.
            {"username": "esc\x1bcuser\x07", "alias": "bell\x07 \x1b[31mred\x1b[0m"},
        ],
    }


@pytest.fixture
def canaries(tmp_path):
    directory = tmp_path / "canaries"
    directory.mkdir()
    return directory


@pytest.fixture
def hostile_sim(canaries):
    with Simulator(hostile_data(canaries), shape="rich") as simulator:
        yield simulator


def assert_no_canary(canaries, after):
    fired = sorted(path.name for path in canaries.iterdir())
    assert fired == [], "API text was executed during %s: %s" % (after, fired)


def plain(value):
    """Undo the JSON form ansible-core 2.19 gives unsafe text in --list ({"__ansible_unsafe": "..."})."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def file_safe(text):
    """The host name of API text, by the rule docs/inventory.md states: runs of /, \\, control characters and line
    separators become _, and . and .. become _ and __ (written out again here, so a change to it shows)."""
    return {".": "_", "..": "__"}.get(text) or re.sub(r"[/\\\x00-\x1f\x7f-\x9f\u2028\u2029]+", "_", text)


def env_for(sim, tmp_path):
    env = ansible_env(sim, tmp_path)
    env.update(VOBIZ_AUTH_ID=AUTH_ID, VOBIZ_AUTH_TOKEN=TOKEN)
    return env


def inventory_file(tmp_path, **options):
    config = tmp_path / ("%s.vobiz.yml" % (options.get("hostname") or "default"))
    config.write_text(json.dumps(dict({"plugin": "vobiz.sip.endpoints"}, **options)), encoding="utf-8")
    return config


def json_after_verbose_lines(stdout):
    return json.loads(stdout[stdout.index("{"):])


def expected_by_id(sim):
    """endpoint_id -> the values the inventory must show, straight from the simulator's data."""
    applications = {app["app_id"]: app["app_name"] for app in sim.state()["applications"]}
    return {endpoint["endpoint_id"]: {"vobiz_username": endpoint["username"], "vobiz_alias": endpoint["alias"],
                                      "vobiz_application_name": applications.get(endpoint["app_id"]),
                                      "vobiz_sub_account": endpoint["sub_account"]}
            for endpoint in sim.endpoints}


def test_the_canary_fires_when_text_is_templated(tmp_path, canaries):
    """The detector itself: a canary that Ansible does template touches its file."""
    completed = run_cli("ansible", "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
                        "-a", "msg=%s" % canary(canaries, "self_check"),
                        env=ansible_env(None, tmp_path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert [path.name for path in canaries.iterdir()] == ["self_check"]


def test_inventory_list_and_host_keep_hostile_text_literal(hostile_sim, tmp_path, canaries):
    env = env_for(hostile_sim, tmp_path)
    config = inventory_file(tmp_path)
    completed = run_cli("ansible-inventory", "-i", config, "--list", env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    listing = plain(json.loads(completed.stdout))
    expected = expected_by_id(hostile_sim)
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(file_safe(values["vobiz_username"]) for values in expected.values())
    for name, variables in hostvars.items():
        wanted = expected[variables["vobiz_endpoint_id"]]
        assert {key: variables[key] for key in wanted} == wanted, name
        assert name == file_safe(wanted["vobiz_username"])
    groups = [name for name in listing if name != "_meta"]
    assert all(GROUP_NAME.match(name) for name in groups), [name for name in groups if not GROUP_NAME.match(name)]
    assert len([name for name in groups if name.startswith("vobiz_app_")]) == 5  # four applications and none
    assert len([name for name in groups if name.startswith("vobiz_sub_account_")]) == 2
    assert_no_canary(canaries, "ansible-inventory --list")

    # --host takes a host pattern, which Ansible splits at commas and whitespace: only such names can be asked for.
    addressable = [endpoint for endpoint in hostile_sim.endpoints if not re.search(r"[,\s]", endpoint["username"])]
    assert {"quote'\"user", "expr_{{7*7}}_{{no_such_variable}}", "long_" + "x" * 300} <= {item["username"] for item in addressable}
    for endpoint in addressable:
        completed = run_cli("ansible-inventory", "-i", config, "--host", file_safe(endpoint["username"]), env=env)
        assert completed.returncode == 0, completed.stderr[-3000:]
        variables = plain(json_after_verbose_lines(completed.stdout))
        assert variables["vobiz_alias"] == endpoint["alias"] and variables["vobiz_username"] == endpoint["username"]
    assert_no_canary(canaries, "ansible-inventory --host")


def test_hostile_aliases_as_host_names_stay_literal(hostile_sim, tmp_path, canaries):
    completed = run_cli("ansible-inventory", "-i", inventory_file(tmp_path, hostname="alias"), "--list",
                        env=env_for(hostile_sim, tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    hostvars = plain(json.loads(completed.stdout))["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(file_safe(endpoint["alias"]) for endpoint in hostile_sim.endpoints)
    assert_no_canary(canaries, "ansible-inventory --list with hostname: alias")


# Usernames and aliases that would be paths, several lines or terminal codes as host names (and so as the file
# names of a jsonfile fact cache, and as lines of --graph and of the play output).
PATH_NAMES = ["../../etc/passwd", "a\nb", "x\x00y", "..", "\\\\srv\\share", ".", "esc\x1b[2J\x07", "next\u2028line"]
PATH_ALIASES = PATH_NAMES[1:] + PATH_NAMES[:1]  # each alias is another endpoint's username


@pytest.fixture
def path_sim():
    data = {"auth_id": AUTH_ID, "auth_token": TOKEN, "allow_any_username": True,
            "endpoints": [{"username": name, "alias": alias} for name, alias in zip(PATH_NAMES, PATH_ALIASES)]}
    with Simulator(data, shape="rich") as simulator:
        yield simulator


def graph_hosts(stdout):
    """The host lines of ansible-inventory --graph ("  |  |--name"), groups (@name) left out."""
    return [line.split("|--", 1)[1] for line in stdout.splitlines() if "|--" in line and not line.split("|--", 1)[1].startswith("@")]


@pytest.mark.parametrize("field, texts", [("username", PATH_NAMES), ("alias", PATH_ALIASES)])
def test_paths_and_control_characters_never_reach_a_host_name(path_sim, tmp_path, field, texts):
    env = env_for(path_sim, tmp_path)
    config = inventory_file(tmp_path, hostname=field)
    listed = run_cli("ansible-inventory", "-i", config, "--list", env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    hostvars = plain(json.loads(listed.stdout))["_meta"]["hostvars"]
    assert {name: variables["vobiz_" + field] for name, variables in hostvars.items()} == {file_safe(text): text for text in texts}
    graph = run_cli("ansible-inventory", "-i", config, "--graph", env=env)
    assert graph.returncode == 0, graph.stderr[-3000:]
    assert set(graph_hosts(graph.stdout)) == {file_safe(text) for text in texts}
    assert all(line.startswith("@") or "|--" in line for line in graph.stdout.splitlines())  # no name broke a line
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", graph.stdout)


FACT_CACHE_PLAYBOOK = """\
- name: Cache a fact for every endpoint host
  hosts: vobiz_endpoints
  gather_facts: false
  tasks:
    - name: A cacheable fact, which the jsonfile fact cache writes into <folder>/<host name>
      ansible.builtin.set_fact:
        seen: "{{ vobiz_endpoint_id }}"
        cacheable: true
"""


def test_a_jsonfile_fact_cache_keyed_by_host_name_stays_in_its_folder(path_sim, tmp_path):
    """ansible-core takes a host name as a file name: 2.16 and 2.17 wrote ../../etc/passwd outside the folder, and
    every release crashed on the NUL. The folder two levels down has an etc/ beside it to write into."""
    cache = tmp_path / "facts" / "cache"
    (tmp_path / "etc").mkdir()
    playbook = tmp_path / "facts.yml"
    playbook.write_text(FACT_CACHE_PLAYBOOK, encoding="utf-8")
    config = inventory_file(tmp_path)
    before = set(tmp_path.rglob("*"))
    env = env_for(path_sim, tmp_path)
    env.update(ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(cache))
    completed = run_cli("ansible-playbook", "-i", config, playbook, env=env)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert "[WARNING]" not in completed.stdout + completed.stderr
    written = {path for path in set(tmp_path.rglob("*")) - before if path.is_file()}
    ansible_own = (tmp_path / "ansible_tmp", tmp_path / "ansible_home")
    outside = sorted(str(path) for path in written if cache not in path.parents and not any(path.is_relative_to(own) for own in ansible_own))
    assert outside == []
    assert len([path for path in written if path.parent == cache]) == len(PATH_NAMES)  # one fact file per host, all in it
    assert "ok: [.._.._etc_passwd]" in completed.stdout and "ok: [x_y]" in completed.stdout


PLAYBOOK = """\
- name: Print and use hostile endpoint data
  hosts: vobiz_endpoints
  gather_facts: false
  tasks:
    - name: Print the alias
      ansible.builtin.debug:
        msg: "{{ vobiz_alias }}"

    - name: Build a value from several fields
      ansible.builtin.set_fact:
        label: "{{ vobiz_username ~ ' | ' ~ (vobiz_alias | default('', true)) ~ ' | ' ~ (vobiz_application_name | default('', true)) }}"

    - name: Branch on the text
      ansible.builtin.set_fact:
        looks_like_jinja: "{{ '{{' in (vobiz_alias | default('', true)) }}"

    - name: Write what the play saw
      ansible.builtin.copy:
        content: "{{ {'host': inventory_hostname, 'alias': vobiz_alias, 'username': vobiz_username,
                     'application': vobiz_application_name, 'sub_account': vobiz_sub_account, 'label': label,
                     'looks_like_jinja': looks_like_jinja, 'groups': group_names} | to_json }}"
        dest: "{{ out_dir }}/host-{{ vobiz_endpoint_id }}.json"
        mode: "0600"

    - name: Render a template that uses the fields
      ansible.builtin.template:
        src: "{{ template_file }}"
        dest: "{{ out_dir }}/host-{{ vobiz_endpoint_id }}.txt"
        mode: "0600"

- name: The same data through endpoint_info
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Read the account
      vobiz.sip.endpoint_info:
      register: info

    - name: Print every record
      ansible.builtin.debug:
        var: info.endpoints

    - name: Use the records in a loop
      ansible.builtin.debug:
        msg: "{{ item.alias }} / {{ item.application_name }} / {{ item.sub_account }}"
      loop: "{{ info.endpoints }}"
      loop_control:
        label: "{{ item.username }}"

    - name: Save what the module returned
      ansible.builtin.copy:
        content: "{{ info | to_json }}"
        dest: "{{ out_dir }}/info.json"
        mode: "0600"
"""


def test_playbook_prints_and_uses_hostile_text_without_running_it(hostile_sim, tmp_path, canaries):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    playbook = tmp_path / "hostile.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    template = tmp_path / "fields.j2"
    template.write_text("{{ vobiz_alias }}|{{ vobiz_username }}|{{ vobiz_application_name }}|{{ vobiz_sub_account }}", encoding="utf-8")
    completed = run_cli("ansible-playbook", "-i", inventory_file(tmp_path), playbook, "-e", "out_dir=%s" % out_dir,
                        "-e", "template_file=%s" % template, env=env_for(hostile_sim, tmp_path))
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert_no_canary(canaries, "ansible-playbook")

    expected = expected_by_id(hostile_sim)
    for endpoint_id, wanted in expected.items():
        seen = json.loads((out_dir / ("host-%s.json" % endpoint_id)).read_text(encoding="utf-8"))
        assert seen["host"] == file_safe(wanted["vobiz_username"]) and seen["alias"] == wanted["vobiz_alias"]
        assert seen["username"] == wanted["vobiz_username"] and seen["application"] == wanted["vobiz_application_name"]
        assert seen["sub_account"] == wanted["vobiz_sub_account"]
        assert seen["label"] == "%s | %s | %s" % (wanted["vobiz_username"], wanted["vobiz_alias"] or "",
                                                  wanted["vobiz_application_name"] or "")
        assert seen["looks_like_jinja"] == ("{{" in (wanted["vobiz_alias"] or ""))
        assert all(GROUP_NAME.match(group) for group in seen["groups"])
        rendered = (out_dir / ("host-%s.txt" % endpoint_id)).read_text(encoding="utf-8")
        assert rendered == "|".join("" if wanted[key] is None else wanted[key] for key in
                                    ("vobiz_alias", "vobiz_username", "vobiz_application_name", "vobiz_sub_account"))

    info = json.loads((out_dir / "info.json").read_text(encoding="utf-8"))
    records = {record["endpoint_id"]: record for record in info["endpoints"]}
    assert sorted(records) == sorted(expected)
    for endpoint_id, wanted in expected.items():
        record = records[endpoint_id]
        assert [record["username"], record["alias"], record["application_name"], record["sub_account"]] == [
            wanted["vobiz_username"], wanted["vobiz_alias"], wanted["vobiz_application_name"], wanted["vobiz_sub_account"]]
    assert canary(canaries, "alias") in completed.stdout  # printed as text, not run


ROLES_PLAYBOOK = """\
- name: The audit and drift roles over a hostile account
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Audit the account through the API
      ansible.builtin.include_role:
        name: vobiz.sip.endpoint_audit
      vars:
        endpoint_audit_source: api
        endpoint_audit_require_application: true
        endpoint_audit_allowed_applications: [No such application]
        endpoint_audit_registered: "{{ hostile_usernames }}"
        endpoint_audit_fail: false

    - name: Save the audit
      ansible.builtin.copy:
        content: "{{ endpoint_audit_result | to_json }}"
        dest: "{{ out_dir }}/audit.json"
        mode: "0600"

    - name: Compare with a desired list that names hostile endpoints
      ansible.builtin.include_role:
        name: vobiz.sip.endpoint_drift
      vars:
        endpoint_drift_desired: "{{ desired }}"
        endpoint_drift_fail: false
        endpoint_drift_report_dir: "{{ out_dir }}/drift"

- name: Audit the hosts of the hostile inventory
  hosts: vobiz_endpoints
  gather_facts: false
  tasks:
    - name: Audit from host variables
      ansible.builtin.include_role:
        name: vobiz.sip.endpoint_audit
      vars:
        endpoint_audit_source: inventory
        endpoint_audit_require_application: true
        endpoint_audit_fail: false

    - name: Save the audit
      ansible.builtin.copy:
        content: "{{ endpoint_audit_result | to_json }}"
        dest: "{{ out_dir }}/audit-inventory.json"
        mode: "0600"
      run_once: true
"""


def unsafe_yaml(value, indent=""):
    """YAML for extra vars in which every string is !unsafe: the desired list repeats API text, and extra vars
    are templates to Ansible, so without the tag the test itself would run the canaries."""
    if isinstance(value, dict):
        return "".join("\n%s%s: %s" % (indent, key, unsafe_yaml(item, indent + "  ")) for key, item in value.items())
    if isinstance(value, list):
        return "".join("\n%s- %s" % (indent, unsafe_yaml(item, indent + "  ").lstrip("\n").lstrip()) for item in value) or "[]"
    if isinstance(value, str):
        return "!unsafe %s" % json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def test_audit_and_drift_roles_report_hostile_text_without_running_it(hostile_sim, tmp_path, canaries):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    endpoints = hostile_sim.endpoints
    changed = endpoints[:3]
    desired = [{"username": endpoint["username"], "alias": "wanted {{ 6 * 7 }} for %d" % index} for index, endpoint in enumerate(changed)]
    desired.append({"username": "missing_one", "alias": canary(canaries, "desired_alias"), "password": "pw-untrusted-0001"})
    variables = tmp_path / "vars.yml"
    variables.write_text("---" + unsafe_yaml({"hostile_usernames": [endpoint["username"] for endpoint in endpoints],
                                              "desired": desired, "out_dir": str(out_dir)}) + "\n", encoding="utf-8")
    playbook = tmp_path / "roles.yml"
    playbook.write_text(ROLES_PLAYBOOK, encoding="utf-8")
    completed = run_cli("ansible-playbook", "-i", inventory_file(tmp_path), playbook, "-e", "@%s" % variables,
                        env=env_for(hostile_sim, tmp_path))
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert_no_canary(canaries, "the audit and drift roles")

    audit = json.dumps(json.loads((out_dir / "audit.json").read_text(encoding="utf-8")), ensure_ascii=False)
    audit_inventory = json.dumps(json.loads((out_dir / "audit-inventory.json").read_text(encoding="utf-8")), ensure_ascii=False)
    without_application = [endpoint for endpoint in endpoints if endpoint["app_id"] is None]
    for endpoint in without_application:  # the failing check names them, as they are
        assert json.dumps(endpoint["username"], ensure_ascii=False)[1:-1] in audit
        assert json.dumps(endpoint["username"], ensure_ascii=False)[1:-1] in audit_inventory

    report = json.loads((out_dir / "drift" / "endpoint_drift.json").read_text(encoding="utf-8"))
    by_username = {item["username"]: item for item in report["changed"]}
    for index, endpoint in enumerate(changed):
        alias = next(field for field in by_username[endpoint["username"]]["fields"] if field["field"] == "alias")
        assert alias["wanted"] == "wanted {{ 6 * 7 }} for %d" % index and alias["actual"] == endpoint["alias"]
    assert [item["fields"].get("alias") for item in report["missing"]] == [canary(canaries, "desired_alias")]
    markdown = (out_dir / "drift" / "endpoint_drift.md").read_text(encoding="utf-8")
    assert "missing_one" in markdown and "pw-untrusted-0001" not in markdown + json.dumps(report)

    # Terminal codes from the API are written out as text in every report file (JSON: as JSON escapes).
    reports = sorted((tmp_path / "audit_report").iterdir()) + sorted((out_dir / "drift").iterdir())
    assert {path.suffix for path in reports} == {".md", ".xml", ".json"}
    for path in reports:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), path.name
        assert re.search(r"esc\\+(x1b|u001b)cuser\\+(x07|u0007)", text), path.name  # Markdown doubles the backslash
