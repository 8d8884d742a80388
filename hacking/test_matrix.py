#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make test-matrix`: the unit and integration suites on the oldest and the newest ansible-core vobiz.sip supports.

Each entry gets a venv under --root/<name> (reused while its Python and requirements stay the same). The
integration suite's CLIs load vobiz.sip from --collections (the collection installed from the built tarball).
One line per entry says which ansible-core and Python ran and the result; an entry whose Python is missing
gets a line saying what was not run. Exit status 1 when any entry that ran failed.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITES = ("unit", "integration")
# pytest workers per suite: as many as the machine has CPUs (the Makefile passes PYTEST_WORKERS the same way).
WORKERS = os.environ.get("PYTEST_WORKERS") or str(os.cpu_count() or 1)
# The integration suite prints its slowest tests, so that a CI log says where the time goes.
DURATIONS = {"integration": ["--durations=15"]}


def suite_requirements():
    """What `make test` installs into .venv (requirements-dev.txt, requirements.txt) except its ansible-core."""
    requirements = []
    for name in ("requirements-dev.txt", "requirements.txt"):
        with open(os.path.join(REPO_ROOT, name), encoding="utf-8") as handle:
            for line in handle:
                line = line.split("#", 1)[0].strip()
                if line and not re.match(r"ansible-core\b", line):
                    requirements.append(line)
    return tuple(requirements)


class Entry:
    def __init__(self, name, core_spec, pythons):
        self.name = name
        self.core_spec = core_spec
        self.pythons = pythons  # acceptable Python versions, preferred first


MATRIX = (
    # requires_ansible: >=2.16.0; 2.16 runs on Python 3.10 to 3.12, and 3.11 is the oldest Python `make test` takes.
    Entry("oldest", "ansible-core>=2.16,<2.17", ("3.11",)),
    # The newest release line; it needs Python 3.12 or later.
    Entry("newest", "ansible-core>=2.21,<2.22", ("3.13", "3.12")),
)
_SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|error|errors|skipped)\b.*?)\s*=*$")


def pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    if shutil.which("pyenv"):
        completed = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        if completed.returncode == 0 and completed.stdout.strip():
            return completed.stdout.strip()
    return os.path.expanduser("~/.pyenv")


def python_version(executable):
    """The X.Y.Z of an interpreter that really runs and can make venvs; None for a pyenv shim that exits 127."""
    try:
        completed = subprocess.run([executable, "-c", "import sys, venv, ensurepip; print('%d.%d.%d' % sys.version_info[:3])"],
                                   capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def find_python(versions):
    """(path, X.Y.Z) of the first working interpreter of the wanted versions: pyenv's real binaries, then PATH."""
    root = pyenv_root()
    for version in versions:
        candidates = sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python" + version)), reverse=True)
        on_path = shutil.which("python" + version)
        if on_path:
            candidates.append(on_path)
        for candidate in candidates:
            found = python_version(candidate)
            if found and found.startswith(version + "."):
                return os.path.realpath(candidate) if "shims" not in candidate else candidate, found
    return None, None


def prepare_venv(entry, python, venv):
    """The venv's python, (re)built when the interpreter or the requirements changed since the last run."""
    stamp = os.path.join(venv, ".matrix-stamp")
    requirements = (entry.core_spec,) + suite_requirements()
    wanted = "%s\n%s\n" % (python, " ".join(requirements))
    venv_python = os.path.join(venv, "bin", "python")
    if os.path.isfile(stamp) and os.path.isfile(venv_python):
        with open(stamp, encoding="utf-8") as handle:
            if handle.read() == wanted:
                return venv_python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", venv], check=True)
    subprocess.run([venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + list(requirements), check=True)
    with open(stamp, "w", encoding="utf-8") as handle:
        handle.write(wanted)
    return venv_python


def core_version(venv_python):
    completed = subprocess.run([venv_python, "-c", "from ansible.release import __version__; print(__version__)"],
                               capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def run_suite(venv_python, suite, collections, log_path):
    """pytest on tests/<suite>, streamed to the console and to log_path; (exit status, pytest's summary line)."""
    env = dict(os.environ, VOBIZ_TEST_COLLECTIONS_PATH=collections)
    command = [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", WORKERS] + DURATIONS.get(suite, []) + [
        os.path.join("tests", suite)]
    summary = ""
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
            match = _SUMMARY.match(line.strip())
            if match:
                summary = match.group(1)
        status = process.wait()
    # pytest exits 5 when it collected nothing: that is a failure here, never a pass.
    return status, summary or "no pytest summary (exit status %d)" % status


def run_entry(entry, root, collections):
    """One result line for the entry, and whether it failed."""
    python, version = find_python(entry.pythons)
    if python is None:
        return ("matrix %-6s NOT RUN: %s (unit + integration) needs Python %s, and none was found under %s/versions "
                "or on PATH" % (entry.name, entry.core_spec, " or ".join(entry.pythons), pyenv_root())), False
    venv = os.path.join(root, "%s-py%s" % (entry.name, ".".join(version.split(".")[:2])))
    print("=== matrix %s: %s on Python %s (%s), venv %s" % (entry.name, entry.core_spec, version, python, venv), flush=True)
    try:
        venv_python = prepare_venv(entry, python, venv)
    except subprocess.CalledProcessError as exc:
        return "matrix %-6s FAILED: could not build the venv for %s on Python %s: %s" % (entry.name, entry.core_spec, version, exc), True
    core = core_version(venv_python)
    results = []
    failed = False
    for suite in SUITES:
        started = time.monotonic()
        status, summary = run_suite(venv_python, suite, collections, os.path.join(venv, suite + ".log"))
        seconds = time.monotonic() - started
        print("=== matrix %s %s: %s in %d s" % (entry.name, suite, "ok" if status == 0 else "FAILED", seconds), flush=True)
        failed = failed or status != 0
        results.append("%s: %s (%d s)" % (suite, summary, seconds))
    verdict = "FAILED" if failed else "PASSED"
    return "matrix %-6s %s: ansible-core %s, Python %s: %s" % (entry.name, verdict, core, version, "; ".join(results)), failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="directory for the venvs and logs (.build/matrix)")
    parser.add_argument("--collections", required=True, help="collections path with vobiz.sip installed from the tarball")
    args = parser.parse_args()
    os.makedirs(args.root, exist_ok=True)
    lines = []
    failed = False
    for entry in MATRIX:
        started = time.monotonic()
        line, entry_failed = run_entry(entry, os.path.abspath(args.root), os.path.abspath(args.collections))
        line += " [%d s]" % (time.monotonic() - started)
        print(line, flush=True)
        lines.append(line)
        failed = failed or entry_failed
    print("\n=== test-matrix summary")
    for line in lines:
        print(line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
