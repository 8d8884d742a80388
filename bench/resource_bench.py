# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift role and vobiz.sip.endpoints on a large account, against the endpoint_info playbook of the same run.

Usage: python bench/resource_bench.py [--endpoints 2000] [--latency 20] [--changes 100] [--creates 50] [--large 10000]
                                [--runs 1] [--collections PATH] [--skip module,remediate] [--output FILE]

The simulator serves N generated endpoints (`--generate N`, mixed shapes) at L ms per request. The desired file
lists every one of them as it is (username, alias, application by id), except `--changes` aliases, plus
`--creates` new endpoints with a password. Measured, as whole processes:
- info: a playbook that only runs vobiz.sip.endpoint_info (the yardstick: the ratios divide by it);
- check: the endpoint_drift role on the desired file, reports written, no remediation;
- remediate: the role with endpoint_drift_remediate (the simulator is reset before each run);
- module: vobiz.sip.endpoints with state merged on the same file, run alone as Ansible runs a module;
- check at --large endpoints (desired file of the same shape).
Each line gives the wall time, the ratio to the info playbook of the same size, and the API requests made.
`--collections` points at another checkout's collections root (for example main's, for "before" figures).
`make bench` runs this as one of its cases; run it alone with `python bench/resource_bench.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
benchlib = __import__("benchlib")

PAGE_SIZE = 100
MAX_CONCURRENCY = 8
PASSWORD = "bench-password-0001"
CASES = ("info", "check", "remediate", "module")

PLAYBOOK = """\
- name: vobiz.sip on a large account
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/vobiz.sip.vobiz:
      page_size: %(page_size)d
      max_concurrency: %(max_concurrency)d
  tasks:
    - name: List the endpoints
      vobiz.sip.endpoint_info:
      register: vobiz
      when: case == 'info'

    - name: Check the count
      ansible.builtin.assert:
        that: vobiz.summary.total == %(endpoints)d
        quiet: true
      when: case == 'info'

    - name: The drift role
      ansible.builtin.include_role:
        name: vobiz.sip.endpoint_drift
      vars:
        endpoint_drift_desired_file: "{{ desired_file }}"
        endpoint_drift_report_dir: "{{ report_dir }}"
        endpoint_drift_fail: false
        endpoint_drift_remediate: "{{ case == 'remediate' }}"
      when: case in ('check', 'remediate')
"""


def desired_items(endpoints, changes, creates):
    """The generated account as a desired list: every endpoint as it is, `changes` aliases changed, `creates` new ones."""
    data = benchlib._simulator_module().generate_data(endpoints)  # pylint: disable=protected-access
    items = []
    step = max(1, endpoints // max(changes, 1))
    changed = set(range(0, endpoints, step)[:changes]) if changes else set()
    for index, endpoint in enumerate(data["endpoints"]):
        item = {"username": endpoint["username"], "alias": endpoint["alias"]}
        if endpoint["app_id"]:
            item["application"] = endpoint["app_id"]
        if index in changed:
            item["alias"] = "Renamed %d" % index
        items.append(item)
    app_id = data["applications"][0]["app_id"]
    for index in range(creates):
        items.append({"username": "benchnew%04d" % index, "password": PASSWORD, "alias": "New phone %d" % index, "application": app_id})
    return items


def write_yaml(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    return path


def reset(sim):
    with urllib.request.urlopen(urllib.request.Request(sim.url + "/_sim/reset", method="POST"), timeout=60) as response:
        response.read()


def module_args_file(workdir, sim, desired_file):
    with open(desired_file, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    path = os.path.join(workdir, "module-args.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"auth_id": benchlib.AUTH_ID, "auth_token": benchlib.AUTH_TOKEN, "api_url": sim.url,
                                           "page_size": PAGE_SIZE, "max_concurrency": MAX_CONCURRENCY, "config": config,
                                           "state": "merged"}}, handle)
    return path


class ResourceBench:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.env = benchlib.ansible_env(workdir, VOBIZ_AUTH_ID=benchlib.AUTH_ID, VOBIZ_AUTH_TOKEN=benchlib.AUTH_TOKEN,
                                        ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        if args.resource_collections:
            self.env["ANSIBLE_COLLECTIONS_PATH"] = args.resource_collections
        self.module_env = dict(self.env, PYTHONPATH=args.resource_collections or benchlib.collections_root())

    def playbook(self, endpoints):
        path = os.path.join(self.workdir, "resource-%d.yml" % endpoints)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(PLAYBOOK % {"page_size": PAGE_SIZE, "max_concurrency": MAX_CONCURRENCY, "endpoints": endpoints})
        return path

    def run_case(self, case, sim, playbook, desired_file):
        """One whole process of `case`; returns (Run, requests made)."""
        output = os.path.join(self.workdir, "%s.out" % case)
        if case == "module":
            argv = [sys.executable, "-m", "ansible_collections.vobiz.sip.plugins.modules.endpoints",
                    module_args_file(self.workdir, sim, desired_file)]
            env = self.module_env
        else:
            argv = [os.path.join(benchlib.BIN_DIR, "ansible-playbook"), "-i", "localhost,", playbook, "-e", "case=" + case,
                    "-e", "desired_file=" + desired_file, "-e", "report_dir=" + os.path.join(self.workdir, "reports")]
            env = dict(self.env, VOBIZ_API_URL=sim.url)  # the role's connection variables default to the environment
        reset(sim)  # every case starts from the generated account (remediation and the module change it)
        sim.clear_requests()
        run = benchlib.run_measured(argv, env, output)
        requests = sim.requests_made()
        self.verify(case, output)
        log("    %s: %.1f s wall, %.1f s CPU, %d requests" % (case, run.wall, run.cpu, requests))
        return run, requests

    def verify(self, case, output):
        """A run that did not do its job measures nothing: check the reports and results it left."""
        if case in ("check", "remediate"):
            report = benchlib.load_json(os.path.join(self.workdir, "reports", "endpoint_drift.json"))
            wanted = self.args.resource_changes + self.args.resource_creates
            if report["summary"]["drift"] != wanted:
                raise benchlib.BenchError("%s: the drift report counts %s differences, not %d" % (case, report["summary"]["drift"], wanted))
        if case == "module":
            result = benchlib.load_json(output)
            if result.get("failed") or len(result.get("commands", [])) < self.args.resource_changes + self.args.resource_creates:
                raise benchlib.BenchError("module: %s" % json.dumps(result)[:2000])

    def measure(self, endpoints, cases):
        desired_file = write_yaml(os.path.join(self.workdir, "desired-%d.yml" % endpoints),
                                  desired_items(endpoints, self.args.resource_changes, self.args.resource_creates))
        playbook = self.playbook(endpoints)
        rows = {case: [] for case in cases}
        with benchlib.SimulatorProcess(endpoints, self.args.resource_latency, self.workdir) as sim:
            for round_number in range(self.args.runs):
                for case in cases:
                    log("  resource, %d endpoints, %s, round %d/%d" % (endpoints, case, round_number + 1, self.args.runs))
                    rows[case].append(self.run_case(case, sim, playbook, desired_file))
        return rows


def log(line):
    print(line, file=sys.stderr, flush=True)


def table(args, results):
    lines = ["| endpoints | case | wall (median) | / info playbook | requests | CPU |", "|---|---|---|---|---|---|"]
    for endpoints, rows in results:
        info = benchlib.median([run.wall for run, _requests in rows["info"]]) if rows.get("info") else None
        for case, runs in rows.items():
            wall = benchlib.median([run.wall for run, _requests in runs])
            ratio = "%.2f x" % (wall / info) if info else "-"
            lines.append("| %d | %s | %.1f s | %s | %d | %.1f s |" % (
                endpoints, case, wall, ratio, benchlib.median([requests for _run, requests in runs]),
                benchlib.median([run.cpu for run, _requests in runs])))
    lines += ["", "%d ms per request, page_size %d, max_concurrency %d; desired list: every endpoint, %d aliases changed, "
              "%d new endpoints; %d round(s) per case." % (args.resource_latency, PAGE_SIZE, MAX_CONCURRENCY, args.resource_changes,
                                                           args.resource_creates, args.runs)]
    return lines


def measure(args, workdir):
    bench = ResourceBench(args, benchlib.fresh_dir(os.path.join(workdir, "resource")))
    results = [(args.resource_endpoints, bench.measure(args.resource_endpoints, [case for case in CASES if case not in args.resource_skip]))]
    if args.resource_large:
        results.append((args.resource_large, bench.measure(args.resource_large, ["info", "check"])))
    return results


def add_arguments(parser, prefix=""):
    parser.add_argument("--%sendpoints" % prefix, dest="resource_endpoints", type=int, default=2000)
    parser.add_argument("--%slatency" % prefix, dest="resource_latency", type=int, default=20, help="simulated ms per request")
    parser.add_argument("--%schanges" % prefix, dest="resource_changes", type=int, default=100, help="aliases changed in the desired list")
    parser.add_argument("--%screates" % prefix, dest="resource_creates", type=int, default=50, help="new endpoints in the desired list")
    parser.add_argument("--%slarge" % prefix, dest="resource_large", type=int, default=10000, help="size of the extra check-only case; 0 skips it")
    parser.add_argument("--%sskip" % prefix, dest="resource_skip", default="", help="cases to leave out, e.g. module,remediate")
    parser.add_argument("--%scollections" % prefix, dest="resource_collections", help="collections root to measure instead of this checkout's")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args(argv)
    args.resource_skip = [case for case in args.resource_skip.split(",") if case]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vobiz-bench-") as workdir:
        text = "\n".join(table(args, measure(args, workdir))) + "\n"
    print(text)
    log("took %.0f s" % (time.monotonic() - started))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    try:
        main()
    except benchlib.BenchError as error:
        sys.exit("bench: %s" % error)
