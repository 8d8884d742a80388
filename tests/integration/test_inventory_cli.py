# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vobiz.sip.endpoints inventory plugin through the real ansible-inventory / ansible-playbook, against the simulator.

Golden output: tests/integration/golden/sample_list.json is the default `--list` of the sample account, normalised
(unsafe markers unwrapped, host lists sorted). Regenerate it after an intended change with

    VOBIZ_UPDATE_GOLDEN=1 make integration

"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.integration.conftest import (
    SAMPLE_AUTH_ID,
    SAMPLE_PAGES,
    SAMPLE_SIZE,
    SAMPLE_TOKEN,
    ansible_env,
    groups_of,
    hostvars,
    inventory_cli,
    list_inventory,
    normalise,
    run_cli,
    unwrap,
    write_config,
)

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "sample_list.json")
EXAMPLES = os.path.join(REPO_ROOT, "docs", "examples")
JINJA_ALIAS = "{{ lookup('pipe', 'id') }}"
JINJA_HOST = "heidi470"  # the sample endpoint whose alias is JINJA_ALIAS
# Record keys whose values every documented response shape carries (compact lacks allow_*, timestamps, contact...).
SHAPE_INDEPENDENT = ("endpoint_id", "username", "alias", "sip_uri", "sip_registered", "application_id",
                     "application_name", "sub_account", "resource_uri")
ALL_FILTERS = {
    "username__contains": "ei",
    "username__exact": "heidi470",
    "username__startswith": "hei",
    "alias__contains": "{{",
    "alias__exact": JINJA_ALIAS,
    "application_id__exact": "20000000000000005",
    "application_id__isnull": False,
    "sub_account": "SA_BRANCH01",
}


def endpoint_requests(sim):
    return [request for request in sim.requests if request["path"].endswith("/Endpoint/")]


def sample_usernames(sim):
    return {endpoint["username"] for endpoint in sim.endpoints}


# --list, --graph, --host, --export -------------------------------------------------------------

def test_default_list_matches_the_golden_file(sim, tmp_path):
    config = write_config(tmp_path)
    assert config.read_text() == "plugin: vobiz.sip.endpoints\n"  # credentials only from VOBIZ_* env vars
    listing = list_inventory(sim, tmp_path, config=config)
    text = json.dumps(listing, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("VOBIZ_UPDATE_GOLDEN"):
        with open(GOLDEN, "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(GOLDEN, encoding="utf-8") as handle:
        golden = handle.read()
    assert text == golden, "the --list output differs from tests/integration/golden/sample_list.json; " \
                           "if that is intended, regenerate it with VOBIZ_UPDATE_GOLDEN=1 make integration"
    assert len(hostvars(listing)) == SAMPLE_SIZE


@pytest.mark.parametrize("responses", ["prose", "openapi"])  # the simulator's two response variants
def test_default_list_groups_hosts_and_requests(sim, tmp_path, responses):
    sim.configure(responses=responses)
    listing = list_inventory(sim, tmp_path)
    groups = groups_of(listing)
    assert set(groups["vobiz_endpoints"]) == sample_usernames(sim)
    registered = {endpoint["username"] for endpoint in sim.endpoints if endpoint["sip_registered"]}
    assert set(groups["vobiz_registered"]) == registered
    assert set(groups["vobiz_unregistered"]) == sample_usernames(sim) - registered
    assert len(groups["vobiz_sub_account_sa_branch01"]) == 40 and len(groups["vobiz_sub_account_sa_lab0002"]) == 8
    assert len(groups["vobiz_app_none"]) == 20
    # "Front Desk" and "front-desk" share the slug front_desk, so both get their id.
    assert {"vobiz_app_front_desk_20000000000000001", "vobiz_app_front_desk_20000000000000002",
            "vobiz_app_r_ception_paris", "vobiz_app_night_shift_ivr_2", "vobiz_main_account"} <= set(groups)
    assert "vobiz_app_front_desk" not in groups
    # 300 endpoints at 100 per page, plus the Application list once to name the application groups.
    assert len(endpoint_requests(sim)) == SAMPLE_PAGES and len(sim.requests) == SAMPLE_PAGES + 1


def test_graph(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--graph", "vobiz_sub_account_sa_lab0002")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "@vobiz_sub_account_sa_lab0002:"
    assert len(lines) == 9
    lab = {endpoint["username"] for endpoint in sim.endpoints if endpoint["sub_account"] == "SA_LAB0002"}
    assert {line.strip(" |-") for line in lines[1:]} == lab


def test_host_shows_api_values_literally_and_the_connection_defaults(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--host", JINJA_HOST)
    assert result.returncode == 0, result.stderr
    host = unwrap(json.loads(result.stdout))
    assert host["vobiz_alias"] == JINJA_ALIAS
    assert host["vobiz_username"] == JINJA_HOST and host["vobiz_sip_registered"] is False
    assert host["vobiz_application_name"] == "Night-Shift IVR #2"
    assert host["ansible_connection"] == "local"
    assert host["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"


def test_list_yaml_keeps_the_jinja_alias_literal(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--list", "--yaml")
    assert result.returncode == 0, result.stderr
    listing = yaml.safe_load(result.stdout)
    host = listing["all"]["children"]["vobiz_endpoints"]["hosts"][JINJA_HOST]
    assert host["vobiz_alias"] == JINJA_ALIAS


def test_export_puts_connection_defaults_on_each_host(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--list", "--export")
    assert result.returncode == 0, result.stderr
    listing = normalise(json.loads(result.stdout))
    assert "vars" not in listing["vobiz_endpoints"]
    host = hostvars(listing)[JINJA_HOST]
    assert host["ansible_connection"] == "local" and host["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert host["vobiz_alias"] == JINJA_ALIAS


# Options ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("hostname, options, expected", [
    ("endpoint_id", {}, lambda endpoint: endpoint["endpoint_id"]),
    ("sip_uri", {}, lambda endpoint: "sip:%s@registrar.vobiz.ai" % endpoint["username"]),
    # The sample has two endpoints aliased "Sybil231 Desk", so only part of it can be named by alias;
    # victor341 has no alias and falls back to its endpoint_id.
    ("alias", {"filters": {"username__startswith": "victor"}}, lambda endpoint: endpoint["alias"] or endpoint["endpoint_id"]),
])
def test_hostname_choices(sim, tmp_path, hostname, options, expected):
    listing = list_inventory(sim, tmp_path, dict(options, hostname=hostname))
    prefix = options.get("filters", {}).get("username__startswith", "")
    wanted = [endpoint for endpoint in sim.endpoints if endpoint["username"].startswith(prefix)]
    assert set(hostvars(listing)) == {expected(endpoint) for endpoint in wanted}
    for endpoint in wanted:
        assert hostvars(listing)[expected(endpoint)]["vobiz_username"] == endpoint["username"]
    if hostname == "alias":
        assert "111138223161608" in hostvars(listing)  # victor341: alias null
        assert """She said "hi" and 'bye'""" in hostvars(listing)


def test_prefixes(sim, tmp_path):
    listing = list_inventory(sim, tmp_path, {"hostvars_prefix": "sip_", "group_prefix": "pbx_"})
    groups = groups_of(listing)
    assert {"pbx_endpoints", "pbx_registered", "pbx_unregistered", "pbx_app_none", "pbx_main_account",
            "pbx_sub_account_sa_branch01", "pbx_app_front_desk_20000000000000001"} <= set(groups)
    assert not [group for group in groups if group.startswith("vobiz_")]
    host = hostvars(listing)[JINJA_HOST]
    assert host["sip_alias"] == JINJA_ALIAS and host["sip_endpoint_id"] == "105086468470592"
    assert not [name for name in host if name.startswith("vobiz_")]


@pytest.mark.parametrize("group_by, expected_families", [
    ([], set()),
    (["registration", "sub_account"], {"registered", "unregistered", "main_account", "sub_account"}),
])
def test_group_by_subsets(sim, tmp_path, group_by, expected_families):
    listing = list_inventory(sim, tmp_path, {"group_by": group_by})
    families = set()
    for group in groups_of(listing):
        assert group.startswith("vobiz_")
        name = group[len("vobiz_"):]
        families.add("sub_account" if name.startswith("sub_account_") else "app" if name.startswith("app_") else name)
    assert families == expected_families | {"endpoints"}


def test_every_filter_is_sent_to_the_server(sim, tmp_path):
    listing = list_inventory(sim, tmp_path, {"filters": ALL_FILTERS})
    assert hostvars(listing) == {}  # heidi470 is not in SA_BRANCH01
    [request] = endpoint_requests(sim)
    sent = dict(ALL_FILTERS, application_id__isnull="false")
    assert {key: request["query"][key] for key in ALL_FILTERS} == sent


def test_filters_select_endpoints(sim, tmp_path):
    listing = list_inventory(sim, tmp_path, {"filters": {"sub_account": "SA_LAB0002", "username__contains": "a"}})
    lab = {endpoint["username"] for endpoint in sim.endpoints if endpoint["sub_account"] == "SA_LAB0002" and "a" in endpoint["username"]}
    assert lab and set(hostvars(listing)) == lab
    assert set(groups_of(listing)["vobiz_sub_account_sa_lab0002"]) == lab


def test_compose_groups_and_keyed_groups(sim, tmp_path):
    listing = list_inventory(sim, tmp_path, {
        "strict": True,
        "compose": {"phone_label": "vobiz_alias | default(vobiz_username, true)", "app_key": "vobiz_application_name | default('none', true)"},
        "groups": {"kiosks": "'Kiosk' in phone_label", "branch": "vobiz_sub_account == 'SA_BRANCH01'"},
        "keyed_groups": [{"key": "app_key", "prefix": "application"}],
    })
    host = hostvars(listing)[JINJA_HOST]
    assert host["phone_label"] == JINJA_ALIAS  # composed from API text, still not templated
    assert hostvars(listing)["victor341"]["phone_label"] == "victor341"
    groups = groups_of(listing)
    assert set(groups["kiosks"]) == {endpoint["username"] for endpoint in sim.endpoints if "Kiosk" in (endpoint["alias"] or "")}
    assert len(groups["branch"]) == 40
    assert JINJA_HOST in groups["application_Night_Shift_IVR__2"]  # keyed_groups: Ansible replaces each bad character
    assert len(groups["application_none"]) == 20


def test_token_from_an_env_lookup_template(sim, tmp_path):
    env = ansible_env(sim, tmp_path, MY_VOBIZ_TOKEN=SAMPLE_TOKEN)
    del env["VOBIZ_AUTH_TOKEN"]
    listing = list_inventory(sim, tmp_path, {"auth_token": "{{ lookup('ansible.builtin.env', 'MY_VOBIZ_TOKEN') }}"}, env=env)
    assert len(hostvars(listing)) == SAMPLE_SIZE


def test_token_from_vault(sim, tmp_path):
    secret = b"vault-password-for-tests"
    (tmp_path / "vault-pass").write_bytes(secret)
    vaulted = VaultLib([("default", VaultSecret(secret))]).encrypt(SAMPLE_TOKEN).decode()
    config = tmp_path / "vault.vobiz.yml"
    config.write_text("plugin: vobiz.sip.endpoints\nauth_id: %s\nauth_token: !vault |\n  %s\n"
                      % (SAMPLE_AUTH_ID, "\n  ".join(vaulted.splitlines())), encoding="utf-8")
    env = ansible_env(sim, tmp_path)
    del env["VOBIZ_AUTH_TOKEN"], env["VOBIZ_AUTH_ID"]
    listing = list_inventory(sim, tmp_path, config=config, env=env, extra_args=("--vault-password-file", tmp_path / "vault-pass"))
    assert len(hostvars(listing)) == SAMPLE_SIZE


# Robustness ----------------------------------------------------------------------------------

def shape_view(listing):
    """Hosts, groups and the host variables every response shape carries."""
    return groups_of(listing), {host: {key: variables["vobiz_" + key] for key in SHAPE_INDEPENDENT}
                                for host, variables in hostvars(listing).items()}


def test_compact_rich_and_mixed_shapes_give_the_same_inventory(sim, tmp_path):
    views = {}
    for shape, nulls in (("compact", "present"), ("rich", "present"), ("mixed", "omit")):
        sim.configure(shape=shape, nulls=nulls)
        listing = list_inventory(sim, tmp_path)
        views[shape] = shape_view(listing)
        assert len(hostvars(listing)) == SAMPLE_SIZE
        if shape == "rich":
            assert hostvars(listing)["zoe578"]["vobiz_sip_user_agent"] == "Grandstream GXP2170 1.0.11.23"
            assert hostvars(listing)["zoe578"]["vobiz_allow_voice"] is True
    assert views["compact"] == views["rich"] == views["mixed"]


def test_injected_429_and_5xx_are_retried_and_the_inventory_is_complete(sim, tmp_path):
    sim.configure(faults=[
        {"kind": "429", "times": 2, "retry_after": "0", "path_contains": "offset=99"},
        {"kind": "503", "times": 1, "retry_after": "0", "path_contains": "Endpoint"},
        {"kind": "500", "times": 1, "retry_after": "0", "path_contains": "Application"},
        {"kind": "502", "times": 1, "retry_after": "0"},
    ])
    listing = list_inventory(sim, tmp_path)
    assert set(hostvars(listing)) == sample_usernames(sim)
    assert len(groups_of(listing)["vobiz_app_front_desk_20000000000000001"]) > 0  # the Application list got through
    statuses = [request["status"] for request in sim.requests]
    assert statuses.count(429) == 2 and {500, 502, 503} <= set(statuses)


def test_records_inserted_while_paging_are_all_listed(sim, tmp_path):
    before = sample_usernames(sim)
    sim.configure(page_mutations=[{"after_list_requests": 1, "add": 3, "where": "start"}])
    listing = list_inventory(sim, tmp_path)
    after = sample_usernames(sim)
    assert len(after) == SAMPLE_SIZE + 3
    assert set(hostvars(listing)) == after and before < after
    assert len(endpoint_requests(sim)) > SAMPLE_PAGES  # total_count moved, so the listing was walked again


def test_verbose_lines_per_listing_and_per_request(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--graph", "-vvv")
    assert result.returncode == 0, result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith("vobiz.sip.endpoints: ")]
    assert len(summary) == 1
    requests_made = SAMPLE_PAGES + 1  # the endpoint pages and the Application page
    assert "300 endpoints of MA_DEMO0001" in summary[0]
    assert "%d requests, %d pages, concurrency 4, 0 retries, cache off" % (requests_made, requests_made) in summary[0]
    per_request = [line for line in result.stdout.splitlines() if line.startswith("GET /api/v1/Account/MA_DEMO0001/")]
    assert len(per_request) == SAMPLE_PAGES + 1
    assert SAMPLE_TOKEN not in result.stdout + result.stderr


# Plays -----------------------------------------------------------------------------------------

def test_a_play_prints_the_jinja_alias_without_running_it(sim, tmp_path):
    playbook = tmp_path / "alias.yml"
    playbook.write_text(
        "- hosts: %s\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        var: vobiz_alias\n"
        "    - ansible.builtin.debug:\n        msg: 'alias is {{ vobiz_alias }} / {{ hostvars[inventory_hostname].vobiz_alias }}'\n"
        % JINJA_HOST)
    result = run_cli("ansible-playbook", "-i", write_config(tmp_path), playbook, env=ansible_env(sim, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alias is %s / %s" % (JINJA_ALIAS, JINJA_ALIAS) in result.stdout
    assert "uid=" not in result.stdout + result.stderr


def test_plays_run_on_the_controller_by_default(sim, tmp_path):
    config = write_config(tmp_path, {"filters": {"username__startswith": "zoe5"}})
    result = run_cli("ansible-playbook", "-i", config, os.path.join(EXAMPLES, "registered.yml"), env=ansible_env(sim, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    registered = [e["username"] for e in sim.endpoints if e["username"].startswith("zoe5") and e["sip_registered"]]
    assert registered and "%d registered endpoints" % len(registered) in result.stdout
    playbook = tmp_path / "ping.yml"  # a real module run: needs ansible_connection=local and the controller's Python
    playbook.write_text("- hosts: vobiz_endpoints\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
    result = run_cli("ansible-playbook", "-i", config, playbook, env=ansible_env(sim, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unreachable=0" in result.stdout and "failed=0" in result.stdout


def test_group_vars_for_real_machines_do_not_reach_endpoints(sim, tmp_path):
    config = write_config(tmp_path, {"filters": {"username__exact": JINJA_HOST}})
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("ansible_connection: ssh\nansible_python_interpreter: /nonexistent/python\n")
    playbook = tmp_path / "ping.yml"
    playbook.write_text("- hosts: vobiz_endpoints\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
    result = run_cli("ansible-playbook", "-i", config, playbook, env=ansible_env(sim, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok=1" in result.stdout


@pytest.mark.parametrize("options, expected", [
    ({"connection_vars": {"ansible_connection": "ssh"}}, {"ansible_connection": "ssh"}),
    ({"connection_vars": {}}, {}),
    ({"compose": {"ansible_connection": "'ssh'"}}, {"ansible_connection": "ssh",
                                                    "ansible_python_interpreter": "{{ ansible_playbook_python }}"}),
])
def test_connection_defaults_can_be_overridden(sim, tmp_path, options, expected):
    result = inventory_cli(sim, tmp_path, "--host", JINJA_HOST, options=dict(options, filters={"username__exact": JINJA_HOST}))
    assert result.returncode == 0, result.stderr
    host = unwrap(json.loads(result.stdout))
    assert {name: value for name, value in host.items() if name.startswith("ansible_")} == expected


def test_demo_example_config_and_docs(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--graph", "vobiz_registered", config=os.path.join(EXAMPLES, "demo.vobiz.yml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("@vobiz_registered:\n")
    doc = run_cli("ansible-doc", "-t", "inventory", "vobiz.sip.endpoints", env=ansible_env(sim, tmp_path))
    assert doc.returncode == 0, doc.stderr
    for option in ("auth_token", "VOBIZ_AUTH_TOKEN", "filters", "resolve_applications", "hostname", "hostvars_prefix",
                   "group_prefix", "group_by", "keyed_groups", "cache_plugin", "EXAMPLES"):
        assert option in doc.stdout
