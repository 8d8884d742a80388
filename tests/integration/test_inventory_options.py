# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The second wave's inventory options through the real ansible-inventory and ansible, against the simulator.

Unknown option names, hostnames, sanitize_hostnames, duplicate_hostnames, include_filters / exclude_filters and
hostvars_keys. The defaults they leave alone are the golden test's business (test_inventory_cli.py).
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import (
    SAMPLE_SIZE,
    ansible_env,
    groups_of,
    hostvars,
    inventory_cli,
    list_inventory,
    one_line,
    run_cli,
    write_config,
)

PATTERN_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def listings_made(sim):
    """The Endpoint listings the simulator served (each starts with its offset-0 page)."""
    return [request["query"] for request in sim.requests
            if request["path"].endswith("/Endpoint/") and request["query"].get("offset", "0") == "0"]


# Unknown options ---------------------------------------------------------------------------------

TYPOS = {
    # The three the issue found silently ignored: each listed all 302 hosts of the account with exit 0.
    "filter": ({"filter": {"sub_account": "SA_LAB0002"}}, "unknown option 'filter' in test.vobiz.yml; did you mean 'filters'?"),
    "page_szie": ({"page_szie": 50}, "unknown option 'page_szie' in test.vobiz.yml; did you mean 'page_size'?"),
    # hostnames is an option now; the aws_ec2 habit is its values.
    "hostnames (aws_ec2 values)": ({"hostnames": ["tag:Name", "private-ip-address"]},
                                   "hostnames[0] 'tag:Name' is neither a field of the endpoint record nor a template ({{ ... }}); "
                                   "fields: endpoint_id, username, alias, sip_uri,"),
    "hostnames (aws_ec2 mapping)": ({"hostnames": [{"name": "tag:Name", "separator": "_", "prefix": "vobiz"}]},
                                    "hostnames[0] must be a field of the endpoint record or a Jinja template, got mapping"),
    "constructed option": ({"keyed_group": [{"key": "vobiz_username"}]},
                           "unknown option 'keyed_group' in test.vobiz.yml; did you mean 'keyed_groups'?"),
    "cache option": ({"cache_plugn": "ansible.builtin.jsonfile"},
                     "unknown option 'cache_plugn' in test.vobiz.yml; did you mean 'cache_plugin'?"),
}


@pytest.mark.parametrize("case", list(TYPOS))
def test_unknown_options_fail_before_any_request(sim, tmp_path, case):
    options, message = TYPOS[case]
    result = inventory_cli(sim, tmp_path, "--list", options=options)
    assert result.returncode != 0
    assert message in one_line(result.stderr), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sim.requests == []


# Host names ----------------------------------------------------------------------------------------

def test_hostnames_sanitized_and_suffixed_names_work_as_patterns(sim, tmp_path):
    options = {"hostnames": ["alias", "username"], "sanitize_hostnames": True, "duplicate_hostnames": "suffix"}
    listing = list_inventory(sim, tmp_path, options)
    names = hostvars(listing)
    assert len(names) == SAMPLE_SIZE
    assert all(PATTERN_SAFE.fullmatch(name) for name in names)
    by_id = {variables["vobiz_endpoint_id"]: name for name, variables in names.items()}
    # Two sample endpoints share the alias "Sybil231 Desk": each gets its endpoint_id.
    assert by_id["627778393157350"] == "Sybil231_Desk_627778393157350"
    assert by_id["804710188004471"] == "Sybil231_Desk_804710188004471"
    assert names[by_id["627778393157350"]]["vobiz_alias"] == "Sybil231 Desk"  # variables keep the API's text
    jinja = next(name for name, variables in names.items() if variables["vobiz_alias"] == "{{ lookup('pipe', 'id') }}")
    assert jinja == "lookup_pipe_id"
    # Colon-separated patterns and intersections work with sanitised names (a ":" or "," in a name breaks them).
    pattern = "%s:%s:&vobiz_endpoints" % (by_id["627778393157350"], jinja)
    config = write_config(tmp_path, options)
    result = run_cli("ansible", "-i", config, pattern, "--list-hosts", env=ansible_env(sim, tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(line.strip() for line in result.stdout.splitlines()[1:]) == sorted([by_id["627778393157350"], jinja])


def test_duplicate_host_names_stay_an_error_by_default(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--list", options={"hostnames": ["alias"]})
    assert result.returncode != 0
    assert ("endpoints 627778393157350 and 804710188004471 both have the host name 'Sybil231 Desk' (hostnames: [alias]). "
            "Set hostname to a field that is unique") in one_line(result.stderr)
    assert "duplicate_hostnames: suffix" in one_line(result.stderr)


def test_hostnames_template_names_hosts_and_its_result_stays_literal(sim, tmp_path):
    template = "{{ vobiz_alias | default(vobiz_username, true) }}@{{ vobiz_sub_account | default('main', true) }}"
    listing = list_inventory(sim, tmp_path, {"hostnames": [template], "duplicate_hostnames": "suffix"})
    names = hostvars(listing)
    assert len(names) == SAMPLE_SIZE
    assert "{{ lookup('pipe', 'id') }}@main" in names  # the Jinja alias, rendered once as text, never run
    branch = [name for name, variables in names.items() if variables["vobiz_sub_account"] == "SA_BRANCH01"]
    assert branch and all("@SA_BRANCH01" in name for name in branch)


# include_filters / exclude_filters ----------------------------------------------------------------

def test_include_filters_union_and_exclude_filters_locally(sim, tmp_path):
    options = {
        "filters": {"sub_account": "SA_BRANCH01"},
        "include_filters": [{"username__startswith": "zoe"}, {"sub_account": "SA_BRANCH01", "username__contains": "a"}],
        "exclude_filters": [{"application_id__isnull": True}, {"username__contains": "9"}],
    }
    listing = list_inventory(sim, tmp_path, options)
    endpoints = sim.endpoints
    wanted = {endpoint["username"] for endpoint in endpoints
              if (endpoint["sub_account"] == "SA_BRANCH01" or endpoint["username"].startswith("zoe"))
              and endpoint["app_id"] is not None and "9" not in endpoint["username"]}
    assert wanted and set(hostvars(listing)) == wanted
    # One listing per entry of filters and include_filters; exclude_filters made no request.
    assert [{key: value for key, value in query.items() if key not in ("limit", "offset")} for query in listings_made(sim)] == [
        {"sub_account": "SA_BRANCH01"}, {"username__startswith": "zoe"}, {"sub_account": "SA_BRANCH01", "username__contains": "a"}]


def test_bad_include_filter_key_is_an_error_like_filters(sim, tmp_path):
    result = inventory_cli(sim, tmp_path, "--list", options={"include_filters": [{"username__icontains": "x"}]})
    assert result.returncode != 0
    assert ("unknown filter key username__icontains in include_filters[0]; the Vobiz API filters endpoints by: "
            "username__contains") in one_line(result.stderr)
    assert sim.requests == []


# hostvars_keys ---------------------------------------------------------------------------------------

def test_hostvars_keys_trims_variables_not_groups(sim, tmp_path):
    full = list_inventory(sim, tmp_path)
    trimmed = list_inventory(sim, tmp_path, {"hostvars_keys": ["endpoint_id", "sip_registered"]})
    assert groups_of(trimmed) == groups_of(full)
    for name, variables in hostvars(trimmed).items():
        assert sorted(variables) == ["ansible_connection", "ansible_python_interpreter",
                                     "vobiz_endpoint_id", "vobiz_sip_registered"]
        assert variables["vobiz_sip_registered"] == hostvars(full)[name]["vobiz_sip_registered"]
