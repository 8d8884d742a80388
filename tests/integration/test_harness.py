# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test harness itself: a CLI whose hang guard expires leaves no process behind (tests/harness.py)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.vobiz.sip.tests.harness import (
    descendants, finish_bounded, group_members, hang_guard, speed_factor, start_in_own_session,
)
from ansible_collections.vobiz.sip.tests.integration.conftest import BIN_DIR, CLI_EXPECTED_SECONDS, ansible_env

HANGING_PLAYBOOK = """\
- name: A play that hangs in a worker process
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Write the shell's pid, then wait far longer than any guard
      ansible.builtin.shell: "echo $$ > {{ pid_file }}.tmp && mv {{ pid_file }}.tmp {{ pid_file }} && exec sleep 3600"
      changed_when: false
"""


def wait_for_file(path, process, guard):
    deadline = time.monotonic() + guard
    while not path.exists():
        assert process.poll() is None, "ansible-playbook ended before its task started: %s" % (process.communicate(),)
        assert time.monotonic() < deadline, "the task did not start within the hang guard"
        time.sleep(0.1)
    return int(path.read_text(encoding="ascii").strip())


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_forced_timeout_kills_the_cli_and_all_its_workers(tmp_path):
    playbook = tmp_path / "hang.yml"
    playbook.write_text(HANGING_PLAYBOOK, encoding="utf-8")
    pid_file = tmp_path / "shell.pid"
    command = [os.path.join(BIN_DIR, "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", "pid_file=%s" % pid_file]
    process = start_in_own_session(command, env=ansible_env(None, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
    shell_pid = wait_for_file(pid_file, process, hang_guard(CLI_EXPECTED_SECONDS))
    below = descendants(process.pid)
    # ansible-playbook runs the task in a forked worker, which runs the module, which runs the shell.
    assert shell_pid in below and len(below) >= 2, below
    assert os.getpgid(process.pid) == process.pid  # a group (and session) of its own

    with pytest.raises(subprocess.TimeoutExpired):
        finish_bounded(process, command, timeout=0.5)  # the guard expires now: forced

    assert process.returncode is not None
    assert group_members(process.pid) == set(), "processes of the CLI's group are left"
    assert [pid for pid in below if alive(pid)] == [], "workers of the CLI are left"


def test_the_speed_factor_is_measured_and_scales_the_guard():
    factor = speed_factor()
    assert factor >= 1.0
    assert hang_guard(100) == pytest.approx(100 * 10 * factor)
    assert hang_guard(0.1) == 60.0  # never under a minute
