# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every test that waits or starts a process uses: hang guards and process groups.

Hang guards, not speed checks: a time bound in a test exists only so that a hung run fails instead of blocking CI.
It is `hang_guard(expected)`: ten times what the case is expected to take, scaled by how slow this machine is
today (measured once per process against a plain Python loop), and never under a minute. How fast something is
belongs in `make bench`, which reports ratios measured side by side.

Process groups: every CLI and simulator a test starts runs in a session of its own, and when a guard expires the
whole group is killed, with every descendant that left it (ansible-playbook's workers, ansible-runner's
pexpect children), so no orphan is left blocked on a pipe nobody reads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

# A hang guard is this many times the expected time...
HANG_GUARD_MARGIN = 10
# ...and never less than this many seconds (process start-up alone can take seconds on a loaded machine).
HANG_GUARD_MINIMUM = 60.0
# Seconds the calibration loop takes on an unloaded machine of CI's kind (2 cores, CPython 3.11).
CALIBRATION_REFERENCE = 0.06
_CALIBRATION_LOOP = 2_000_000
_speed_factor = None


def speed_factor():
    """How many times slower than the reference this machine runs plain Python now (1.0 at least); measured once.

    VOBIZ_TEST_SPEED_FACTOR overrides the measurement (for example on a machine known to be slow).
    """
    global _speed_factor  # pylint: disable=global-statement
    if _speed_factor is None:
        override = os.environ.get("VOBIZ_TEST_SPEED_FACTOR")
        if override:
            _speed_factor = max(1.0, float(override))
        else:
            # The best of three, so one unlucky scheduling slice does not count; slowness that lasts does.
            _speed_factor = max(1.0, min(_calibration_run() for _attempt in range(3)) / CALIBRATION_REFERENCE)
    return _speed_factor


def _calibration_run():
    started = time.perf_counter()
    total = 0
    for number in range(_CALIBRATION_LOOP):
        total += number & 7
    return time.perf_counter() - started


def hang_guard(expected_seconds):
    """Seconds after which a run that was expected to take `expected_seconds` counts as hung."""
    return max(HANG_GUARD_MINIMUM, expected_seconds * HANG_GUARD_MARGIN * speed_factor())


def start_in_own_session(command, **popen_options):
    """subprocess.Popen in a new session (so a new process group), to be ended with stop_process_tree()."""
    return subprocess.Popen(command, start_new_session=True, **popen_options)  # pylint: disable=consider-using-with


def run_bounded(command, timeout, **popen_options):
    """subprocess.run(capture_output=True, text=True) in a session of its own; on timeout the whole tree is killed.

    Raises subprocess.TimeoutExpired (carrying what was printed so far) after killing the tree.
    """
    process = start_in_own_session(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen_options)
    return finish_bounded(process, command, timeout)


def finish_bounded(process, command, timeout):
    """Wait for a process started by start_in_own_session() with pipes; kill its tree when `timeout` expires."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_tree(process)
        try:
            stdout, stderr = process.communicate(timeout=HANG_GUARD_MINIMUM)
        except subprocess.TimeoutExpired:  # a process that escaped the tree still holds the pipes: give up on them
            stdout = stderr = ""
        raise subprocess.TimeoutExpired(command, timeout, output=stdout, stderr=stderr) from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def stop_process_tree(process, grace=5.0):
    """End a process started in its own session: its group, and every descendant that moved to another group.

    SIGTERM first (the simulator and ansible-rulebook clean up on it), SIGKILL for what is left after `grace`.
    Returns the pids that were signalled.
    """
    pids = {process.pid} | descendants(process.pid) | group_members(process.pid)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        alive = {pid for pid in pids if _alive(pid)}
        if not alive:
            break
        _signal_group(process.pid, signum)
        for pid in alive:
            _signal(pid, signum)
        deadline = time.monotonic() + (grace if signum == signal.SIGTERM else 30.0)
        while time.monotonic() < deadline and any(_alive(pid) for pid in alive):
            process.poll()  # reap our own child as soon as it ends
            time.sleep(0.05)
    process.poll()
    return pids


def group_members(pgid):
    """The pids whose process group is `pgid` (a session leader's pid is its group's id)."""
    return {pid for pid, (_parent, group) in _process_table().items() if group == pgid}


def descendants(pid):
    """Every pid below `pid` in the process tree, whatever group or session it moved to."""
    children = {}
    for child, (parent, _group) in _process_table().items():
        children.setdefault(parent, set()).add(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _process_table():
    """{pid: (parent pid, process group)} from /proc; processes that end while we read are left out."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as handle:
                    stat = handle.read()
            except OSError:
                continue
            # The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
            fields = stat[stat.rfind(")") + 2:].split()
            if fields[0] != "Z":  # a zombie has ended; only its parent's wait() is missing
                table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
