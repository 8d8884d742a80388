# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A new user's first steps, on a fresh clone: `make demo`, then the README's "Try it on your account" commands
against `make simulator`, pasted into a shell as the README says.

The clone is `git clone` of this checkout (so it holds what is committed). Its `.venv` is a link to the venv running
the tests: a fresh one would pip-install ansible-core and the rest from PyPI, which `make setup` already covers.
Timeouts here are hang guards, generous on purpose; nothing is timed.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest
import requests

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.harness import group_members, hang_guard, start_in_own_session, stop_process_tree
from ansible_collections.vobiz.sip.tests.integration.test_docs_commands import fenced_blocks, run_shell_command
from ansible_collections.vobiz.sip.tests.integration.conftest import one_line

DEMO_STEPS = 7  # hacking/demo.py's STEPS
# What each part takes on an unloaded machine: make demo with a ready venv; the README's build, install and listing.
DEMO_SECONDS = 60
TRY_IT_SECONDS = 20


def user_env(home, **extra):
    """A user's shell: no venv on PATH, no Ansible or Vobiz settings, not inside our make."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "VOBIZ_", "PYTEST_", "MAKE")) and key not in ("MFLAGS", "VIRTUAL_ENV")}
    venv_bin = os.path.dirname(sys.executable)
    env.update(HOME=str(home), PATH=os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin))
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    root = tmp_path_factory.mktemp("onboarding")
    checkout = root / "vobiz.sip"
    cloned = run_shell_command(["git", "clone", "--quiet", REPO_ROOT, str(checkout)], env=user_env(root), cwd=str(root),
                               expected_seconds=5)
    assert cloned.returncode == 0, cloned.stdout
    os.symlink(sys.prefix, checkout / ".venv")
    return checkout


def test_make_demo_on_a_fresh_clone(clone, tmp_path):
    completed = run_shell_command(["make", "demo"], env=user_env(tmp_path), cwd=str(clone), expected_seconds=DEMO_SECONDS)
    lines = completed.stdout.splitlines()
    assert completed.returncode == 0, completed.stdout
    assert lines[-1] == "demo finished: every step as expected", completed.stdout
    assert len(lines) < 150, "make demo printed %d lines:\n%s" % (len(lines), completed.stdout)
    assert sum(line.endswith(": as expected") and line.startswith("--- exit ") for line in lines) == DEMO_STEPS, completed.stdout
    # Each command is shown, with the environment, before it runs.
    assert "export VOBIZ_AUTH_ID=MA_DEMO0001" in lines and "$ ansible-playbook -i localhost, audit.yml" in lines
    # The graph shows groups, not the 300 hosts; the registration play is one summary line.
    assert "  |--@vobiz_registered:" in lines and not any(line.endswith("|--zoe578") for line in lines)
    assert "summary: 138 registered endpoints, 162 unregistered" in lines
    assert not any(line.startswith("ok: [zoe578]") for line in lines)
    # The audit and drift results are shown in full.
    assert any("FAILED registered: 1 of 3 listed endpoints fail: 1 not registered: heidi909" in line for line in lines)
    assert any("changed rupert516 (113067043515650): alias: wanted 'Rupert516 Front Desk'" in line for line in lines)
    assert any("No drift." in line for line in lines)
    # What the README says of the demo's steps is what they print.
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        readme = " ".join(handle.read().split())
    check_mode = completed.stdout.split("endpoint_drift_remediate=true --check\n", 1)[1].split("\n--- exit ", 1)[0]
    assert "(`changed=%s`:" % re.search(r" changed=(\d+) ", check_mode).group(1) in readme
    audit = re.search(r"endpoint audit of 300 endpoints: (\d+) checks, (\d+) passed, (\d+) failed .*?, (\d+) warning", completed.stdout)
    checks, passed, failed, warnings = map(int, audit.groups())
    assert "of %d checks, %d pass and %d fail" % (checks, passed, failed) in readme
    # The audit names the checks it switched on; those the records could not answer are the summary's warnings.
    switched_on = re.search(r'"msg": "checks switched on: ([^;]*);', completed.stdout).group(1).split(", ")
    assert len(switched_on) == checks + warnings, switched_on


def try_it_blocks():
    """The README's "Try it on your account" commands, as a user pastes them (the marked credentials block aside)."""
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = re.search(r"^## Try it on your account\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README.md has no 'Try it on your account' section"
    blocks = fenced_blocks("README.md", section.group(1))
    assert [block.not_run for block in blocks if block.not_run and block.lang == "sh"], "the credentials block is not marked"
    commands = [block.text for block in blocks if block.lang == "sh" and not block.not_run]
    assert commands[-1].strip() == "ansible-inventory -i prod.vobiz.yml --graph"
    return commands


class SimulatorProcess:
    """`make simulator` in a process group of its own, as a user runs it in a second terminal."""

    def __init__(self, cwd, env):
        self.process = start_in_own_session(["make", "simulator", "SIMULATOR_PORT=0"], cwd=cwd, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.printed = []

    def export_lines(self):
        """Reads its output up to the `export` lines with VOBIZ_API_URL; {name: value} as a shell would set them."""
        exported = {}
        for line in self.process.stdout:  # ends if the process exits; the hang guard of the test covers the rest
            self.printed.append(line)
            if line.strip().startswith("export "):
                for assignment in shlex.split(line.strip())[1:]:
                    name, value = assignment.split("=", 1)
                    exported[name] = value
            if "VOBIZ_API_URL" in exported:
                return exported
        raise AssertionError("make simulator ended before printing its export lines:\n" + "".join(self.printed))

    def interrupt(self):
        """Ctrl-C, as the terminal sends it to the foreground group; the exit status, or None if it did not stop."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=hang_guard(2))
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        stop_process_tree(self.process)
        self.process.stdout.close()


def run_shell(commands, env, cwd):
    """The commands in one bash, stopping at the first failure (set -e), as pasted into a terminal."""
    return run_shell_command(["bash", "-c", "set -eo pipefail\n" + "\n".join(commands)], env=env, cwd=cwd,
                             expected_seconds=TRY_IT_SECONDS)


def test_try_it_on_your_account_with_make_simulator(clone, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    simulator = SimulatorProcess(str(clone), user_env(home))
    try:
        exported = simulator.export_lines()
        assert exported["VOBIZ_AUTH_ID"] == "MA_DEMO0001" and exported["VOBIZ_API_URL"].startswith("http://127.0.0.1:")
        rest_of_usage = [simulator.process.stdout.readline() for line in range(8)]
        assert "plugin: vobiz.sip.endpoints" in "".join(simulator.printed + rest_of_usage)
        env = user_env(home, **exported)
        completed = run_shell(try_it_blocks(), env, str(clone))
        assert completed.returncode == 0, completed.stdout
        assert "|--@vobiz_registered:" in completed.stdout and "|--zoe578" in completed.stdout, completed.stdout
        # The collection landed where every Ansible command finds it, not only ansible-playbook.
        assert (home / ".ansible" / "collections" / "ansible_collections" / "vobiz" / "sip" / "MANIFEST.json").is_file()
        paths = [request["path"] for request in requests.get(exported["VOBIZ_API_URL"] + "/_sim/requests", timeout=60).json()]
        assert any("/Endpoint/" in path for path in paths)

        # With the example ansible.cfg, a failed listing fails the command with our message, reported once.
        failed = run_shell(['export PATH="$PWD/.venv/bin:$PATH"', "cd ~/vobiz-inventory", "ansible-inventory -i prod.vobiz.yml --graph"],
                           dict(env, VOBIZ_AUTH_TOKEN="not-the-token"), str(clone))
        assert failed.returncode != 0, failed.stdout
        # One warning: 2.19 says "[WARNING]: Failed to parse inventory with <plugin>" (and repeats our message under
        # "caused by"), 2.16 "[WARNING]:  * Failed to parse <path> with <plugin> plugin", wrapped.
        shown = one_line(failed.stdout)
        assert len(re.findall(r"\[WARNING\]: (\* )?Failed to parse", shown)) == 1, failed.stdout
        assert "HTTP 401" in shown and "VOBIZ_AUTH_TOKEN" in shown, failed.stdout
        assert not re.search(r"'yaml' plugin|'ini' plugin|with (yaml|ini) plugin", shown), failed.stdout
        assert "not-the-token" not in failed.stdout

        # Ctrl-C stops it.
        assert simulator.interrupt() is not None, "make simulator did not stop on SIGINT"
    finally:
        simulator.stop()


def test_make_simulator_stops_when_make_is_killed(clone, tmp_path):
    """`kill` (SIGTERM) of make's own process, not its group as Ctrl-C, stops the simulator: nothing is left serving,
    re-parented to init. (GNU make passes SIGTERM on to its children; on SIGHUP or SIGINT it waits for them.)"""
    home = tmp_path / "home"
    home.mkdir()
    simulator = SimulatorProcess(str(clone), user_env(home))
    try:
        url = simulator.export_lines()["VOBIZ_API_URL"]
        assert requests.get(url + "/_sim/requests", timeout=60).ok
        group = group_members(simulator.process.pid)
        assert len(group) >= 2, "make simulator runs no process besides make: %s" % group  # make and the simulator
        os.kill(simulator.process.pid, signal.SIGTERM)
        simulator.process.wait(timeout=hang_guard(2))
        deadline = time.monotonic() + hang_guard(2)
        while time.monotonic() < deadline and any(alive(pid) for pid in group):
            time.sleep(0.1)
        left = sorted(pid for pid in group if alive(pid))
        assert not left, "processes of make simulator still running after make got SIGTERM: %s" % left
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/_sim/requests", timeout=60)
    finally:
        simulator.stop()


def alive(pid):
    """Whether a process runs (a zombie, dead but not yet reaped by its parent, does not count)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
