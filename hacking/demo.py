# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: start the bundled simulator with the sample account and show the collection at work.

Each step is a real Ansible command against the simulator on 127.0.0.1; the simulator stops at the end,
whatever happens. The demo fails (non-zero exit) when a step that should pass does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SAMPLE = os.path.join(REPO, "tests", "simulator", "data", "sample.yaml")
EXAMPLES = os.path.join(REPO, "docs", "examples")

# (title, command, exit codes that count as the expected outcome). "{reports}" is the demo's report folder.
# The audit and the first drift check find real problems in the sample account, so they are expected to fail
# (exit 2); README.md lists what they find.
STEPS = [
    ("The endpoints as an inventory graph",
     ["ansible-inventory", "-i", "demo.vobiz.yml", "--graph"], (0,)),
    ("A play on the registered endpoints",
     ["ansible-playbook", "-i", "demo.vobiz.yml", "registered.yml"], (0,)),
    ("Provisioning audit (expected to fail: 2 checks find problems)",
     ["ansible-playbook", "-i", "localhost,", "audit.yml"], (2,)),
    ("Drift check against desired_endpoints.yml (expected to fail: 4 differences)",
     ["ansible-playbook", "-i", "localhost,", "drift.yml"], (2,)),
    ("The drift report, as Markdown for a pull request",
     ["cat", "{reports}/endpoint_drift.md"], (0,)),
    ("What remediation would change (check mode: nothing is written)",
     ["ansible-playbook", "-i", "localhost,", "drift.yml", "-e", "endpoint_drift_remediate=true", "--check", "--diff"], (0,)),
    ("Remediation",
     ["ansible-playbook", "-i", "localhost,", "drift.yml", "-e", "endpoint_drift_remediate=true"], (0,)),
    ("Drift check again: no drift left",
     ["ansible-playbook", "-i", "localhost,", "drift.yml"], (0,)),
]


def start_simulator(workdir):
    sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))
    simulator = __import__("vobiz_simulator")
    try:
        return simulator.start_process(["--data", SAMPLE], os.path.join(workdir, "port"), start_timeout=20,
                                       stdout=subprocess.DEVNULL)
    except RuntimeError as exc:
        raise SystemExit("%s; run it by hand: python tests/simulator/vobiz_simulator.py --data %s" % (exc, SAMPLE)) from None


def demo_env(api_url, workdir):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VOBIZ_"))}
    env.update(
        PATH=BIN + os.pathsep + env.get("PATH", ""),
        ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections")),
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
        ANSIBLE_HOME=os.path.join(workdir, "ansible"),
        ANSIBLE_RETRY_FILES_ENABLED="False",
        VOBIZ_AUTH_ID="MA_DEMO0001",
        VOBIZ_AUTH_TOKEN="demo-token-not-secret",
        VOBIZ_API_URL=api_url,
        VOBIZ_DEMO_REPORT_DIR=os.path.join(workdir, "reports"),
    )
    return env


def main():
    failures = 0
    with tempfile.TemporaryDirectory(prefix="vobiz-demo-") as workdir:
        simulator, api_url = start_simulator(workdir)
        print("Vobiz simulator with the sample account (tests/simulator/data/sample.yaml) on %s\n" % api_url, flush=True)
        try:
            env = demo_env(api_url, workdir)
            for title, command, expected in STEPS:
                command = [part.format(reports=env["VOBIZ_DEMO_REPORT_DIR"]) for part in command]
                print("=== %s\n$ %s" % (title, " ".join(command)), flush=True)
                code = subprocess.call(command, cwd=EXAMPLES, env=env)
                if code not in expected:
                    failures += 1
                    print("!!! that step exited %s; expected %s" % (code, " or ".join(map(str, expected))), flush=True)
                print(flush=True)
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)
    print("demo finished: %s" % ("every step as expected" if not failures else "%d step(s) not as expected" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
