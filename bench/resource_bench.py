# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift role and vobiz.sip.endpoints on a large account, against the endpoint_info playbook of the same run.

Usage: python bench/resource_bench.py [--endpoints 2000] [--latency 20] [--changes 100] [--creates 50] [--large 10000]
                                [--runs 1] [--collections PATH] [--baseline GIT_REF] [--skip module,remediate] [--output FILE]

The simulator serves N generated endpoints (`--generate N`, mixed shapes) at L ms per request. The desired file
lists every one of them as it is (username, alias, application by id), except `--changes` aliases, plus
`--creates` new endpoints with a password. Measured, as whole processes:
- empty: the same playbook with every task skipped (Ansible's own start-up and exit);
- info: a playbook that only runs vobiz.sip.endpoint_info (the yardstick: the ratios divide by it);
- check: the endpoint_drift role on the desired file, reports written, no remediation;
- remediate: the role with endpoint_drift_remediate (the simulator is reset before each run);
- module: vobiz.sip.endpoints with state merged on the same file, run alone as Ansible runs a module;
- check at --large endpoints (desired file of the same shape).
Each line gives the wall time, the ratio to the info playbook of the same size, and the API requests made.
Each run's wall time is split into phases from the simulator's request log (see timeline()): the listings, the writes,
the read-backs, and the processes' own work between them (Ansible's start-up before the first request, the reports and
the role's last tasks after the last one).
`--collections` points at another checkout's collections root. `--baseline main` also runs remediate and module with
the collection as git ref `main` has it, each right after this checkout's, for before/after figures from one run.
`make bench` runs this as one of its cases; run it alone with `python bench/resource_bench.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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
CASES = ("empty", "info", "check", "remediate", "module")
BASELINE_CASES = ("remediate", "module")  # what --baseline measures again with the older collection

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
        self.roots = {"": args.resource_collections or benchlib.collections_root()}
        if args.resource_baseline:
            self.roots[args.resource_baseline] = baseline_collections(args.resource_baseline, os.path.join(workdir, "baseline"))

    def playbook(self, endpoints):
        path = os.path.join(self.workdir, "resource-%d.yml" % endpoints)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(PLAYBOOK % {"page_size": PAGE_SIZE, "max_concurrency": MAX_CONCURRENCY, "endpoints": endpoints})
        return path

    def run_case(self, case, sim, playbook, desired_file, version=""):
        """One whole process of `case` with the collection of `version` ("": this checkout); returns (Run, requests made)."""
        output = os.path.join(self.workdir, "%s.out" % case)
        env = dict(self.env, ANSIBLE_COLLECTIONS_PATH=self.roots[version])
        if case == "module":
            argv = [sys.executable, "-m", "ansible_collections.vobiz.sip.plugins.modules.endpoints",
                    module_args_file(self.workdir, sim, desired_file)]
            env["PYTHONPATH"] = self.roots[version]
        else:
            argv = [os.path.join(benchlib.BIN_DIR, "ansible-playbook"), "-i", "localhost,", playbook, "-e", "case=" + case,
                    "-e", "desired_file=" + desired_file, "-e", "report_dir=" + os.path.join(self.workdir, "reports")]
            env["VOBIZ_API_URL"] = sim.url  # the role's connection variables default to the environment
        reset(sim)  # every case starts from the generated account (remediation and the module change it)
        sim.clear_requests()
        started = time.monotonic()  # the simulator's request log is on the same (system-wide) monotonic clock
        run = benchlib.run_measured(argv, env, output)
        finished = time.monotonic()
        made = sim.requests()
        self.verify(case, output)
        run.phases = timeline(made, started, finished)
        summary = (label(case, version), run.wall, run.cpu, len(made), describe_timeline(run.phases))
        log("    %s: %.1f s wall, %.1f s CPU, %d requests; %s" % summary)
        return run, len(made)

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
        # Each round runs every case of this checkout, and the writing cases of the baseline right after their own:
        # load from other processes falls on both alike.
        runs = [(case, version) for case in cases for version in self.roots if not version or case in BASELINE_CASES]
        rows = {label(case, version): [] for case, version in runs}
        with benchlib.SimulatorProcess(endpoints, self.args.resource_latency, self.workdir) as sim:
            for round_number in range(self.args.runs):
                for case, version in runs:
                    log("  resource, %d endpoints, %s, round %d/%d" % (endpoints, label(case, version), round_number + 1, self.args.runs))
                    rows[label(case, version)].append(self.run_case(case, sim, playbook, desired_file, version))
        return rows


def label(case, version):
    return "%s @%s" % (case, version) if version else case


def baseline_collections(ref, workdir):
    """A collections root holding the collection as git commit `ref` has it (git archive: no worktree, no checkout)."""
    target = benchlib.fresh_dir(os.path.join(workdir, "ansible_collections", "vobiz", "sip"))
    try:
        archive = subprocess.run(["git", "-C", benchlib.REPO, "archive", "--format=tar", ref], capture_output=True, check=True, timeout=120)
        subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, capture_output=True, check=True, timeout=120)
    except subprocess.CalledProcessError as error:
        raise benchlib.BenchError("--resource-baseline %s: %s" % (ref, error.stderr.decode(errors="replace").strip())) from None
    return workdir


# Timeline of a run -------------------------------------------------------------------------------


def request_kind(request):
    """listing (a page of Endpoint/ or Application/), write (create, update, delete) or read-back (GET Endpoint/<id>/)."""
    path = request["path"].split("?")[0]
    if request["method"] != "GET":
        return "write"
    if path.endswith(("/Endpoint/", "/Application/")):
        return "listing"
    return "read-back"


def timeline(requests, started, finished):
    """Where a run's wall time went: [(phase, seconds, detail)] from the simulator's request log.

    Requests group into phases: a listing (its pages, from the one at offset 0; the Applications with it), and the
    writes with their read-backs (interleaved: each worker writes, then reads back). The gaps between them are the
    processes' own work: Ansible's start-up and the modules' (before the first request), comparing and planning
    (between phases), handing the result back, the reports and the role's last tasks (after the last request).
    """
    phases, last = [], started
    for request in sorted(requests, key=lambda request: request["started"]):
        kind = request_kind(request)
        group = "listing" if kind == "listing" else "writes"
        new_listing = kind == "listing" and request["path"].endswith("/Endpoint/") and request["query"].get("offset") == "0"
        if not phases or phases[-1]["group"] != group or new_listing:
            phases.append({"group": group, "started": request["started"], "finished": request["finished"], "kinds": {}, "busy": {}})
        phase = phases[-1]
        phase["finished"] = max(phase["finished"], request["finished"])
        phase["kinds"][kind] = phase["kinds"].get(kind, 0) + 1
        phase["busy"][kind] = phase["busy"].get(kind, 0.0) + request["finished"] - request["started"]
    rows = []
    for index, phase in enumerate(phases):
        gap = phase["started"] - last
        rows.append(("start-up" if index == 0 else "own work", gap, ""))
        span = phase["finished"] - phase["started"]
        if phase["group"] == "listing":
            rows.append(("listing", span, "%d requests" % sum(phase["kinds"].values())))
        else:
            # Workers overlap: the read-backs' share of the span is their share of the time requests were in flight.
            share = phase["busy"].get("read-back", 0.0) / max(sum(phase["busy"].values()), 1e-9)
            rows.append(("writes", span * (1 - share), "%d requests" % phase["kinds"].get("write", 0)))
            if phase["kinds"].get("read-back"):
                rows.append(("read-backs", span * share, "%d requests" % phase["kinds"]["read-back"]))
        last = max(last, phase["finished"])
    rows.append(("after the last request" if phases else "whole run", finished - last, ""))
    return rows


def describe_timeline(rows):
    return ", ".join("%s %.2f s%s" % (phase, seconds, " (%s)" % detail if detail else "") for phase, seconds, detail in rows)


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
    lines += ["", "Where the wall time goes (the run with the median wall time; from the simulator's request log):", "",
              "| endpoints | case | phases |", "|---|---|---|"]
    for endpoints, rows in results:
        for case, runs in rows.items():
            middle = sorted(runs, key=lambda entry: entry[0].wall)[len(runs) // 2][0]
            if middle.phases and case not in ("empty",):
                lines.append("| %d | %s | %s |" % (endpoints, case, describe_timeline(middle.phases)))
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
    parser.add_argument("--%sbaseline" % prefix, dest="resource_baseline", metavar="GIT_REF",
                        help="also measure remediate and module with the collection at this git ref (e.g. main), side by side")


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
