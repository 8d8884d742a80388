# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin's cache with the jsonfile cache plugin, through the real ansible-inventory."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.release import __version__ as ansible_version

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_PAGES, SAMPLE_TOKEN, ansible_env, run_cli
from ansible_collections.vobiz.sip.tests.integration.conftest import (
    SAMPLE_SIZE,
    inventory_cli,
    normalise,
    write_config,
)

ANSIBLE_VERSION = tuple(int(part) for part in ansible_version.split(".")[:2])


def cached_config(tmp_path, **options):
    options.update(cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(tmp_path / "cache"))
    return write_config(tmp_path, options)


def listing_of(result):
    assert result.returncode == 0, result.stderr
    return normalise(json.loads(result.stdout))


def summary_line(result):
    [line] = [line for line in result.stdout.splitlines() if line.startswith("vobiz.sip.endpoints: ")]
    return line


def test_second_run_is_served_from_the_cache_without_requests(sim, tmp_path):
    config = cached_config(tmp_path)
    first = inventory_cli(sim, tmp_path, "--list", "-v", "--output", tmp_path / "first.json", config=config)
    assert len(sim.requests) == SAMPLE_PAGES + 1 and "cache miss" in summary_line(first)
    sim.reset_requests()
    second = inventory_cli(sim, tmp_path, "--list", "-v", "--output", tmp_path / "second.json", config=config)
    assert second.returncode == 0, second.stderr
    assert sim.requests == []
    assert "cache hit, 0 requests" in summary_line(second)
    first_raw, second_raw = (json.loads((tmp_path / name).read_text(encoding="utf-8")) for name in ("first.json", "second.json"))
    assert normalise(second_raw) == normalise(first_raw)
    assert len(second_raw["_meta"]["hostvars"]) == SAMPLE_SIZE
    # API text from the cache is marked unsafe exactly like a fresh listing (2.19 prints it wrapped).
    alias = second_raw["_meta"]["hostvars"]["heidi470"]["vobiz_alias"]
    assert alias == first_raw["_meta"]["hostvars"]["heidi470"]["vobiz_alias"]
    if ANSIBLE_VERSION >= (2, 19):
        assert alias == {"__ansible_unsafe": "{{ lookup('pipe', 'id') }}"}


def test_a_changed_filter_is_not_served_from_the_cache(sim, tmp_path):
    inventory_cli(sim, tmp_path, "--list", config=cached_config(tmp_path))
    sim.reset_requests()
    result = inventory_cli(sim, tmp_path, "--list", config=cached_config(tmp_path, filters={"sub_account": "SA_LAB0002"}))
    assert len(listing_of(result)["_meta"]["hostvars"]) == 8
    assert [request["query"].get("sub_account") for request in sim.requests if request["path"].endswith("/Endpoint/")] == ["SA_LAB0002"]
    assert len(list((tmp_path / "cache").iterdir())) == 2  # one entry per selection, under the same config path


def test_flush_cache_lists_again(sim, tmp_path):
    config = cached_config(tmp_path)
    inventory_cli(sim, tmp_path, "--list", config=config)
    sim.reset_requests()
    # ansible-playbook has --flush-cache on every supported release (ansible-inventory only from 2.17).
    playbook = tmp_path / "noop.yml"
    playbook.write_text("- hosts: vobiz_registered[0]\n  gather_facts: false\n  tasks: []\n")
    result = run_cli("ansible-playbook", "-i", config, playbook, "--flush-cache", "-v", env=ansible_env(sim, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(sim.requests) == SAMPLE_PAGES + 1 and "cache refresh" in summary_line(result)
    sim.reset_requests()
    assert "cache hit" in summary_line(inventory_cli(sim, tmp_path, "--list", "-v", "--output", tmp_path / "out.json", config=config))
    assert sim.requests == []


def test_the_cache_file_never_holds_the_token(sim, tmp_path):
    inventory_cli(sim, tmp_path, "--list", config=cached_config(tmp_path))
    [entry] = list((tmp_path / "cache").iterdir())
    text = entry.read_text(encoding="utf-8")
    assert "heidi470" in text and SAMPLE_TOKEN not in text and SAMPLE_TOKEN not in entry.name
    payload = json.loads(text)
    payload = json.loads(payload["__payload__"]) if "__payload__" in payload else payload  # 2.19 wraps the entry
    assert payload["format"] == 1 and len(payload["records"]) == SAMPLE_SIZE


# A private cache (issue 22): what the cache holds is every endpoint's username, alias and SIP contact.

@pytest.fixture
def umask_022():
    """The common umask, under which ansible-core alone makes the cache folder 0755 (its files are always 0644)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def folder_config(tmp_path, folder, name="test.vobiz.yml"):
    return write_config(tmp_path, {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(folder)}, name=name)


def without_blanks(text):
    """Warnings are wrapped at the terminal width on older ansible-core: compare them without white space."""
    return "".join(text.split())


def test_a_missing_cache_folder_is_created_private(sim, tmp_path, umask_022):
    folder = tmp_path / "home" / ".cache" / "vobiz_inventory"
    result = inventory_cli(sim, tmp_path, "--list", config=folder_config(tmp_path, folder))
    assert len(listing_of(result)["_meta"]["hostvars"]) == SAMPLE_SIZE
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [entry] = list(folder.iterdir())
    assert "heidi470" in entry.read_text(encoding="utf-8")  # written into it by ansible-core (0644, reachable by no one else)
    assert "chmod700" not in without_blanks(result.stderr)


def test_a_cache_folder_others_can_read_is_warned_about_once(sim, tmp_path, umask_022):
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o755)
    # Two sources that share the folder: one warning.
    result = run_cli("ansible-inventory", "-i", folder_config(tmp_path, folder, "a.vobiz.yml"), "-i", folder_config(tmp_path, folder, "b.vobiz.yml"),
                     "--list", env=ansible_env(sim, tmp_path))
    assert len(listing_of(result)["_meta"]["hostvars"]) == SAMPLE_SIZE
    warning = ("the inventory cache folder %s can be read by other users (mode 0755), and its files hold the username, alias and SIP "
               "contact of every endpoint. Make it private: chmod 700 %s" % (folder, folder))
    assert without_blanks(result.stderr).count(without_blanks(warning)) == 1, result.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # the user's folder: told, not changed
    folder.chmod(0o700)
    again = inventory_cli(sim, tmp_path, "--list", config=folder_config(tmp_path, folder, "a.vobiz.yml"))
    assert again.returncode == 0 and "chmod700" not in without_blanks(again.stderr)
