# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures of the integration suite: the simulator on 127.0.0.1 and the real Ansible CLIs.

The CLIs find the collection through ANSIBLE_COLLECTIONS_PATH: VOBIZ_TEST_COLLECTIONS_PATH when set
(the Makefile points it at the collection installed from the built tarball), else the checkout.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
import yaml

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT, collections_root
from ansible_collections.vobiz.sip.tests.harness import hang_guard, run_bounded
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

SAMPLE_DATA = os.path.join(REPO_ROOT, "tests", "simulator", "data", "sample.yaml")
BIN_DIR = os.path.dirname(sys.executable)
# Used only against the simulator; distinctive so that leak checks can search output for it.
SAMPLE_AUTH_ID = "MA_DEMO0001"
SAMPLE_TOKEN = "demo-token-not-secret"
SAMPLE_SIZE = 300  # endpoints in the sample account


def listing_pages(endpoints, page_size=100):
    """Endpoint pages one listing of an unchanging account takes: consecutive pages overlap by one record, so that
    a shift while paging is seen (docs/design.md), and the stride is page_size - 1."""
    return 1 + max(0, -(-(endpoints - page_size) // (page_size - 1)))


SAMPLE_PAGES = listing_pages(SAMPLE_SIZE)  # 4: offsets 0, 99, 198 and 297


@pytest.fixture
def sim():
    """The simulator seeded with the sample data set, fresh for each test."""
    with Simulator(SAMPLE_DATA) as simulator:
        yield simulator


def ansible_env(sim=None, tmp_path=None, **extra):
    """Environment for a CLI run: our collection, failures fatal, no colour, the simulator's credentials."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VOBIZ_"))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=os.environ.get("VOBIZ_TEST_COLLECTIONS_PATH") or collections_root(),
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        PYTHONWARNINGS="ignore",
    )
    if tmp_path is not None:
        env.update(ANSIBLE_HOME=str(tmp_path / "ansible_home"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible_tmp"))
    if sim is not None:
        env.update(VOBIZ_AUTH_ID=SAMPLE_AUTH_ID, VOBIZ_AUTH_TOKEN=SAMPLE_TOKEN, VOBIZ_API_URL=sim.url)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def one_line(text):
    """Output with every run of whitespace as one space: ansible-core before 2.19 wraps warnings and errors."""
    return " ".join(text.split())


# What one CLI run against the simulator is expected to take at most on an unloaded machine (start-up, a few hundred
# hosts, a role run with remediation), so the default hang guard is at least 200 s.
CLI_EXPECTED_SECONDS = 20


def run_cli(tool, *args, env, cwd=None, timeout=None):
    """Run one of the venv's Ansible CLIs (ansible-inventory, ansible-playbook, ansible-doc...) in its own session.

    `timeout` is a hang guard (default: hang_guard(CLI_EXPECTED_SECONDS)); when it expires the CLI and every
    process it started are killed and subprocess.TimeoutExpired is raised.
    """
    command = [os.path.join(BIN_DIR, tool)] + [str(arg) for arg in args]
    return run_bounded(command, hang_guard(CLI_EXPECTED_SECONDS) if timeout is None else timeout, env=env, cwd=cwd)


# ansible-inventory helpers ---------------------------------------------------------------------

def write_config(tmp_path, options=None, name="test.vobiz.yml"):
    """An inventory config file of the plugin with these options."""
    config = {"plugin": "vobiz.sip.endpoints"}
    config.update(options or {})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def inventory_cli(sim, tmp_path, *args, options=None, env=None, config=None):
    """Run ansible-inventory on a config (written from options unless given) with the simulator's credentials."""
    config = config or write_config(tmp_path, options)
    return run_cli("ansible-inventory", "-i", config, *args, env=env or ansible_env(sim, tmp_path))


def unwrap(value):
    """The data without 2.19's {"__ansible_unsafe": ...} markers (older releases print plain values)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def normalise(listing):
    """`--list` output unwrapped, with every host and child list sorted (and without 2.19's serialisation profile)."""
    listing = unwrap(listing)
    listing.get("_meta", {}).pop("profile", None)
    for name, group in listing.items():
        if name != "_meta":
            for key in ("hosts", "children"):
                if key in group:
                    group[key] = sorted(group[key])
    return listing


def list_inventory(sim, tmp_path, options=None, env=None, config=None, extra_args=()):
    result = inventory_cli(sim, tmp_path, "--list", *extra_args, options=options, env=env, config=config)
    assert result.returncode == 0, result.stderr
    return normalise(json.loads(result.stdout))


def hostvars(listing):
    return listing["_meta"]["hostvars"]


def groups_of(listing):
    """{group: sorted hosts} for every group that has hosts."""
    return {name: group["hosts"] for name, group in listing.items() if name != "_meta" and group.get("hosts")}
