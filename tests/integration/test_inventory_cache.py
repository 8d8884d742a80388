# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin's cache with the jsonfile cache plugin, through the real ansible-inventory."""

from __future__ import annotations

import json

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
