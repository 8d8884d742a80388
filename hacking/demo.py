# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: start the bundled simulator with the sample account and show the collection at work.

Each step is a real Ansible command, run in docs/examples/ (whose ansible.cfg enables the inventory plugins and
makes a failed source fatal) against the simulator on 127.0.0.1. The demo prints the environment it sets and each
command before running it, so any step can be repeated by hand; `--keep` (`make demo KEEP=1`) leaves the simulator
running for that. The demo fails (non-zero exit) when a step does not end as expected: its exit code, and for the
summarised steps the line the summary is made of.

Output stays short (under 150 lines): the inventory graph shows groups, not hosts; the play on every registered
endpoint and the last two drift runs print a one-line summary; the audit and the drift check print every result
the roles report, leaving out only the tasks that have nothing to say (a bare "ok"/"skipping") and the source
excerpt ansible-core 2.19 adds under an error.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SAMPLE = os.path.join(REPO, "tests", "simulator", "data", "sample.yaml")
EXAMPLES = os.path.join(REPO, "docs", "examples")
SAMPLE_AUTH_ID = "MA_DEMO0001"
SAMPLE_TOKEN = "demo-token-not-secret"  # the sample account's published token, not a secret

DRIFT = ["ansible-playbook", "-i", "localhost,", "drift.yml"]
REMEDIATE = ["-e", "endpoint_drift_remediate=true"]


class Step:
    """One command: how it must end (exit codes) and how much of its output the demo shows.

    show: "full" (every line but quiet tasks), "groups" (the graph's group lines), or a regular expression whose
    first match in the output is the step's one-line summary; a missing match fails the step.
    """

    def __init__(self, title, command, exit_codes=(0,), show="full"):
        self.title, self.command, self.exit_codes, self.show = title, command, exit_codes, show


# The audit and the first drift check find real problems in the sample account, so they are expected to fail
# (exit 2); README.md lists what they find.
STEPS = [
    Step("The endpoints as an inventory: its groups (--graph lists every host under them)",
         ["ansible-inventory", "-i", "demo.vobiz.yml", "--graph"], show="groups"),
    Step("A play on every registered endpoint, run on the controller",
         ["ansible-playbook", "-i", "demo.vobiz.yml", "registered.yml"],
         show=r'"msg": "(\d+ registered endpoints, \d+ unregistered)"'),
    Step("Provisioning audit (expected to fail: 2 of 5 checks find problems)",
         ["ansible-playbook", "-i", "localhost,", "audit.yml"], exit_codes=(2,)),
    Step("Drift check against desired_endpoints.yml (expected to fail: 4 differences)", DRIFT, exit_codes=(2,)),
    Step("What remediation would change (check mode: no endpoint changes; the two report files are rewritten)",
         DRIFT + REMEDIATE + ["--check"]),
    Step("Remediation", DRIFT + REMEDIATE, show=r'"msg": "(remediation made 4 change\(s\) of 4 planned[^"]*)"'),
    Step("Drift check again", DRIFT, show=r'"(No drift[^"]*)"'),
]


def start_simulator(workdir):
    sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))
    simulator = __import__("vobiz_simulator")
    try:
        # It runs in a session of its own, so the terminal's Ctrl-C and make's exit spare it: with --keep it stays up.
        return simulator.start_process(["--data", SAMPLE], os.path.join(workdir, "port"), start_timeout=60,
                                       stdout=subprocess.DEVNULL)
    except RuntimeError as exc:
        raise SystemExit("%s; run it by hand: python tests/simulator/vobiz_simulator.py --data %s" % (exc, SAMPLE)) from None


def demo_settings(api_url, workdir):
    """The variables the demo sets, in the order it prints them."""
    return {
        "PATH": BIN + os.pathsep + "$PATH",
        "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(REPO, ".build", "collections"),
        "ANSIBLE_HOME": os.path.join(workdir, "ansible"),
        "VOBIZ_AUTH_ID": SAMPLE_AUTH_ID,
        "VOBIZ_AUTH_TOKEN": SAMPLE_TOKEN,
        "VOBIZ_API_URL": api_url,
        "VOBIZ_DEMO_REPORT_DIR": os.path.join(workdir, "reports"),
    }


def demo_env(settings):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VOBIZ_"))}
    env.update(settings, PATH=settings["PATH"].replace("$PATH", env.get("PATH", "")), ANSIBLE_NOCOLOR="1")
    return env


def export_lines(settings):
    return ["export %s=%s" % (name, value if name == "PATH" else shlex.quote(value)) for name, value in settings.items()]


# The numbered source lines and the caret under them that follow 2.19's "Origin:" line, and blank lines.
EXCERPT_LINE = re.compile(r"\s*$|\d+(\s|$)|\s+\^ column")


def quiet_tasks_removed(output):
    """Playbook output without blank lines, tasks that only say ok/skipping, and 2.19's source excerpt of an error."""
    shown, task, in_excerpt = [], [], False
    for line in output.splitlines():
        in_excerpt = in_excerpt and bool(EXCERPT_LINE.match(line))
        if in_excerpt or not line.strip():
            continue
        if line.startswith("Origin: "):
            in_excerpt = True
            continue
        if line.startswith(("TASK [", "PLAY [", "PLAY RECAP")):
            shown.extend(_unless_quiet(task))
            task = [line]
        else:
            task.append(line)
    shown.extend(_unless_quiet(task))
    return shown


# What a task that has nothing to say prints: its status, once per host or loop item.
QUIET_RESULT = re.compile(r"(ok|skipping): \[[^]]*\]( => \(item=.*\))? ?$")


def _unless_quiet(task):
    quiet = task and task[0].startswith("TASK [") and all(QUIET_RESULT.match(line) for line in task[1:])
    return [] if quiet else task


def show_output(step, output):
    """The lines to print for a step's output, or None when its summary line is missing (the step failed)."""
    if step.show == "full":
        return quiet_tasks_removed(output)
    if step.show == "groups":
        groups = [line for line in output.splitlines() if "@" in line]
        return groups + ["(%d host lines left out)" % (len(output.splitlines()) - len(groups))]
    match = re.search(step.show, output)
    return ["summary: " + match.group(1)] if match else None


def run_step(step, env):
    print("=== %s\n$ %s" % (step.title, shlex.join(step.command)), flush=True)
    completed = subprocess.run(step.command, cwd=EXAMPLES, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, check=False)
    lines = show_output(step, completed.stdout)
    ok = completed.returncode in step.exit_codes and lines is not None
    if not ok:
        lines = completed.stdout.splitlines()  # all of it, to show why
    print("\n".join(lines), flush=True)
    print("--- exit %s: %s" % (completed.returncode, "as expected" if ok else "NOT AS EXPECTED (expected exit %s%s)" % (
        " or ".join(map(str, step.exit_codes)), "" if step.show in ("full", "groups") else " and a line matching %s" % step.show)),
        flush=True)
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the simulator running afterwards (make demo KEEP=1)")
    args = parser.parse_args(argv)
    if args.keep:
        os.makedirs(os.path.join(REPO, ".build"), exist_ok=True)
        workdir = tempfile.mkdtemp(prefix="demo.", dir=os.path.join(REPO, ".build"))
    else:
        scratch = tempfile.TemporaryDirectory(prefix="vobiz-demo-")  # pylint: disable=consider-using-with
        workdir = scratch.name
    simulator, api_url = start_simulator(workdir)
    failures = 0
    try:
        settings = demo_settings(api_url, workdir)
        print("Vobiz simulator with the sample account (tests/simulator/data/sample.yaml) on %s.\n"
              "The demo runs these commands in docs/examples/ with this environment:" % api_url)
        print("\n".join(export_lines(settings)) + "\n$ cd %s" % os.path.relpath(EXAMPLES), flush=True)
        env = demo_env(settings)
        for step in STEPS:
            failures += not run_step(step, env)
    finally:
        if args.keep:
            print("The simulator keeps running on %s, with the drift reports in %s (the changes of the\n"
                  "remediation step stay until it restarts). Repeat any step with the lines above; stop it with: kill %d"
                  % (api_url, os.path.join(workdir, "reports"), simulator.pid))
        else:
            simulator.terminate()
            simulator.wait(timeout=30)
            scratch.cleanup()
    print("demo finished: %s" % ("every step as expected" if not failures else "%d step(s) not as expected" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
