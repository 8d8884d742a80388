# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every EXAMPLES block of the vobiz.sip.endpoints inventory plugin, as written, through ansible-inventory.

The simulator serves the sample account under the examples' auth_id (MA_XXXXXXXX) with the demo token, which is
what the vaulted example decrypts to with the password its comment names; the test gives that password in a file.
Blocks are told apart by the options they set, so each gets a check of what it claims besides loading.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.vobiz.sip.plugins.inventory import endpoints
from ansible_collections.vobiz.sip.tests.integration.conftest import (
    SAMPLE_DATA,
    SAMPLE_SIZE,
    SAMPLE_TOKEN,
    ansible_env,
    groups_of,
    hostvars,
    normalise,
    run_cli,
)
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

EXAMPLE_AUTH_ID = "MA_XXXXXXXX"
VAULT_PASSWORD = "vobiz-example-vault-password"  # named in the vaulted example's comment
BLOCKS = [block.strip() + "\n" for block in re.split(r"^---$", endpoints.EXAMPLES, flags=re.MULTILINE)]


@pytest.fixture
def example_sim():
    """The sample account as MA_XXXXXXXX, in the rich shape (so allow_* flags have values for the groups)."""
    with open(SAMPLE_DATA, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    data["auth_id"] = EXAMPLE_AUTH_ID
    assert data["auth_token"] == SAMPLE_TOKEN
    with Simulator(data, shape="rich") as simulator:
        yield simulator


def options_of(block):
    """The block's options; a vaulted value is not needed to tell which example it is."""
    return yaml.safe_load(block.replace("!vault |", "|"))


def run_example(sim, tmp_path, block, *args):
    config = tmp_path / "example.vobiz.yml"
    config.write_text(block, encoding="utf-8")
    (tmp_path / "vault-pass").write_text(VAULT_PASSWORD, encoding="utf-8")
    env = ansible_env(sim, tmp_path, HOME=tmp_path, VOBIZ_AUTH_ID=EXAMPLE_AUTH_ID, VOBIZ_PROD_TOKEN=SAMPLE_TOKEN)
    if "auth_token" in options_of(block):
        del env["VOBIZ_AUTH_TOKEN"]  # the example's own way to the token must work alone
    result = run_cli("ansible-inventory", "-i", config, "--list", "--vault-password-file", tmp_path / "vault-pass", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert "[WARNING]" not in result.stderr and "[ERROR]" not in result.stderr, result.stderr
    return normalise(json.loads(result.stdout))


def test_the_examples_are_the_ones_checked_here():
    assert len(BLOCKS) == 9
    assert all(options_of(block)["plugin"] == "vobiz.sip.endpoints" for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs_as_written(example_sim, tmp_path, index):
    block = BLOCKS[index]
    options = options_of(block)
    listing = run_example(example_sim, tmp_path, block)
    hosts = hostvars(listing)
    assert hosts
    prefix = options.get("hostvars_prefix", "vobiz_")
    sample = {endpoint["endpoint_id"]: endpoint for endpoint in example_sim.endpoints}
    by_id = {variables[prefix + "endpoint_id"] if prefix + "endpoint_id" in variables else name: variables
             for name, variables in hosts.items()}
    if "include_filters" in options:
        wanted = {endpoint_id for endpoint_id, endpoint in sample.items()
                  if (endpoint["sub_account"] == "SA_BRANCH01" or endpoint["username"].startswith("zoe"))
                  and endpoint["app_id"] is not None}
        assert set(by_id) == wanted
    elif "filters" in options:
        assert set(by_id) == {endpoint_id for endpoint_id, endpoint in sample.items()
                              if endpoint["sub_account"] == "SA_BRANCH01" and endpoint["app_id"] is not None}
    else:
        assert len(hosts) == SAMPLE_SIZE
    if "hostnames" in options:
        assert all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in hosts)
        assert len({variables["vobiz_alias"] for variables in hosts.values()}) < len(hosts)  # shared aliases were suffixed
    if "hostvars_keys" in options:
        assert set(hosts) == set(sample)  # hostname: endpoint_id
        assert all(sorted(name for name in variables if name.startswith("sip_")) ==
                   sorted("sip_" + key for key in options["hostvars_keys"]) for variables in hosts.values())
        assert set(listing["all"]["children"]) >= {"desk_endpoints", "desk_registered", "desk_unregistered"}
    if "groups" in options:  # the constructed example, strict
        video = {endpoint_id for endpoint_id, endpoint in sample.items() if endpoint["allow_video"] is True}
        assert video and {hosts[name]["vobiz_endpoint_id"] for name in groups_of(listing)["video_phones"]} == video
        assert all(variables["phone_label"] for variables in hosts.values())
        assert any(group.startswith("agent_") for group in groups_of(listing))
    if options.get("cache"):
        assert os.listdir(tmp_path / ".cache" / "vobiz_inventory")
        before = len(example_sim.requests)
        assert run_example(example_sim, tmp_path, block) == listing
        assert len(example_sim.requests) == before  # the second run is a cache hit
