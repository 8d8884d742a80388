# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`: the vobiz.sip.endpoints inventory plugin and the endpoint_info module against Ansible's own floor.

Usage: python bench/run.py [--sizes 1000,10000] [--latencies 0,50] [--runs 3] [--large 100000] [--large-runs 1]
                           [--info-size 10000] [--audit-size 10000] [--hostvars-size 10000]
                           [--rate-size 10000] [--rate-runs 3] [--output bench/results.md] [--keep DIR]
                           [--only all|inventory|resource] [--resource-large 10000] [--resource-baseline GIT_REF]

The rate-limited listing runs idle and with both cores busy (bench/rate_limited.py); the drift remediation
(bench/resource_bench.py) shows where its wall time goes, and with --resource-baseline main, main's figures beside it.

Every number is a whole process (`ansible-inventory --list`, `ansible-playbook`), timed from outside, against the
simulator running in its own process on 127.0.0.1. For each size the simulator serves N generated endpoints (mixed
record shapes, five applications, two sub-accounts) at each latency, and the runs of one size are interleaved
round by round (plugin cold, plugin cached at every latency, then the two static inventories), so that load from
other processes falls on all of them alike; the table shows medians. See docs/performance.md for how to read it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
benchlib = __import__("benchlib")
resource = __import__("resource_bench")
audit_bench = __import__("audit_role")
rate_limited = __import__("rate_limited")

PAGE_SIZE = 100
MAX_CONCURRENCY = 8
# After the first round, a static inventory this much slower (CPU) than the other is not run again: it cannot be
# the floor, and a 10,000-host YAML inventory costs Ansible about 4 times the script's time.
STATIC_DROP_FACTOR = 1.5


# Inventory ---------------------------------------------------------------------------------------


class InventoryCase:
    """Measurements of one (endpoints, latency) case; the static floor runs are shared by the latencies of one size."""

    def __init__(self, endpoints, latency_ms, static):
        self.endpoints = endpoints
        self.latency_ms = latency_ms
        self.pages = math.ceil(endpoints / PAGE_SIZE)
        self.cold = []
        self.cached = []
        self.requests = []
        self.static = static  # {"yaml": [Run], "script": [Run]}

    def median(self, runs, field="wall"):
        return benchlib.median([getattr(run, field) for run in runs])

    def floor_kind(self, field="wall"):
        """The faster static inventory: Ansible's own cost for these hosts, variables and groups."""
        measured = {kind: self.median(runs, field) for kind, runs in self.static.items() if runs}
        return min(measured, key=measured.get)

    def floor(self, field="wall"):
        return self.median(self.static[self.floor_kind(field)], field)

    def floor_rss(self):
        """The smaller peak RSS of the two static inventories (stricter than the faster one's)."""
        return min(self.median(runs, "rss_kib") for runs in self.static.values() if runs)

    def network_floor(self):
        return benchlib.network_floor(self.endpoints, PAGE_SIZE, MAX_CONCURRENCY, self.latency_ms)


def plugin_config(path, url, cache_dir=None, **options):
    """A vobiz.yml inventory source; the credentials come from VOBIZ_AUTH_ID / VOBIZ_AUTH_TOKEN, as users are told to."""
    config = {"plugin": "vobiz.sip.endpoints", "api_url": url, "page_size": PAGE_SIZE, "max_concurrency": MAX_CONCURRENCY}
    config.update(options)
    if cache_dir:
        config.update(cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=cache_dir, cache_timeout=86400)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(config, handle)
    return path


def write_static_inventories(reference, workdir):
    """A YAML inventory and a script inventory with the plugin's hosts, variables and groups (plain text, not unsafe)."""
    yaml_path = os.path.join(workdir, "static.yml")
    json_path = os.path.join(workdir, "static.json")
    script_path = os.path.join(workdir, "static_script.sh")
    children = {}
    for group in reference["all"].get("children", []):
        members = reference.get(group, {}).get("hosts", [])
        children[group] = {"hosts": dict.fromkeys(members)} if members else {}
    document = {"all": {"hosts": reference["_meta"]["hostvars"], "children": children}}
    with open(yaml_path, "w", encoding="utf-8") as handle:
        yaml.dump(document, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, default_flow_style=False)
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(reference, handle)
    with open(script_path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n# what `ansible-inventory --list` printed for the plugin, unsafe markers removed\nexec cat '%s'\n" % json_path)
    os.chmod(script_path, 0o755)
    return {"yaml": yaml_path, "script": script_path}


def digest(inventory):
    """A digest of --list JSON, ignoring the order of all's children (a YAML inventory lists them in its own order)."""
    inventory = dict(inventory)
    inventory["all"] = dict(inventory["all"], children=sorted(inventory["all"].get("children", [])))
    return hashlib.sha256(json.dumps(inventory, sort_keys=True).encode("utf-8")).hexdigest()


class InventoryBench:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.env = benchlib.ansible_env(workdir, VOBIZ_AUTH_ID=benchlib.AUTH_ID, VOBIZ_AUTH_TOKEN=benchlib.AUTH_TOKEN)
        self.output = os.path.join(workdir, "list.json")

    def list_inventory(self, source, enabled=None):
        env = dict(self.env, ANSIBLE_INVENTORY_ENABLED=enabled) if enabled else self.env
        run = benchlib.run_measured([os.path.join(benchlib.BIN_DIR, "ansible-inventory"), "-i", source, "--list"], env, self.output)
        return run, benchlib.load_json(self.output)

    def measure_size(self, endpoints, latencies, runs, static_kinds):
        """Every latency of one size, interleaved round by round; returns one InventoryCase per latency."""
        workdir = benchlib.fresh_dir(os.path.join(self.workdir, "n%d" % endpoints))
        static = {kind: [] for kind in static_kinds}
        cases = [InventoryCase(endpoints, latency, static) for latency in latencies]
        with contextlib.ExitStack() as stack:
            sims = [stack.enter_context(benchlib.SimulatorProcess(endpoints, latency, workdir)) for latency in latencies]
            cold = [plugin_config(os.path.join(workdir, "cold-%d.vobiz.yml" % sim.latency_ms), sim.url) for sim in sims]
            cached = [plugin_config(os.path.join(workdir, "cached-%d.vobiz.yml" % sim.latency_ms), sim.url,
                                    benchlib.fresh_dir(os.path.join(workdir, "cache-%d" % sim.latency_ms))) for sim in sims]
            # The first listing is the reference every other run must reproduce; it counts as the first cold run.
            sims[0].clear_requests()
            run, reference = self.list_inventory(cold[0])
            cases[0].cold.append(run)
            cases[0].requests.append(sims[0].requests_made())
            hosts = len(reference["_meta"]["hostvars"])
            if hosts != endpoints:
                raise benchlib.BenchError("the plugin listed %d hosts, expected %d" % (hosts, endpoints))
            # Plugin runs must match it unsafe markers and all; the static inventories hold the same text, not unsafe.
            plain = benchlib.unwrap_unsafe(reference)
            sources = write_static_inventories(plain, workdir)
            reference, plain = digest(reference), digest(plain)
            # Not measured: a cache miss, which fills the cache the cached runs hit.
            for sim, source in zip(sims, cached):
                sim.clear_requests()
                self.check(self.list_inventory(source)[1], reference, "filling the cache")
                if not sim.requests_made():
                    raise benchlib.BenchError("the first cached run made no request: the cache was not empty")
            for round_number in range(runs):
                self.log("  %d endpoints, round %d/%d" % (endpoints, round_number + 1, runs))
                for case, sim, cold_source, cached_source in zip(cases, sims, cold, cached):
                    self.measure_plugin(case, sim, cold_source if len(case.cold) <= round_number else None, cached_source, reference)
                for kind in static_kinds:
                    if round_number and self.clearly_slower(static, kind):
                        continue
                    run, listed = self.list_inventory(sources[kind], enabled=kind)
                    self.check(listed, plain, "static %s inventory" % kind)
                    static[kind].append(run)
        return cases

    @staticmethod
    def clearly_slower(static, kind):
        cpu = {other: benchlib.median([run.cpu for run in runs]) for other, runs in static.items()}
        return any(cpu[kind] > STATIC_DROP_FACTOR * cpu[other] for other in cpu if other != kind)

    def measure_plugin(self, case, sim, cold_source, cached_source, reference):
        if cold_source:
            sim.clear_requests()
            run, listed = self.list_inventory(cold_source)
            case.requests.append(sim.requests_made())
            self.check(listed, reference, "plugin, cold")
            case.cold.append(run)
        sim.clear_requests()
        run, listed = self.list_inventory(cached_source)
        if sim.requests_made():
            raise benchlib.BenchError("a cached run made %d requests: not a cache hit" % sim.requests_made())
        self.check(listed, reference, "plugin, cached")
        case.cached.append(run)

    @staticmethod
    def check(listed, reference, what):
        if digest(listed) != reference:
            raise benchlib.BenchError("%s: ansible-inventory --list differs from the plugin's first listing" % what)

    @staticmethod
    def log(line):
        print(line, file=sys.stderr, flush=True)


# hostvars_keys -----------------------------------------------------------------------------------

# What a play that only checks registration needs; the groups still come from the whole record.
HOSTVARS_KEYS = ["endpoint_id", "username", "sip_registered"]


def measure_hostvars_keys(args, workdir):
    """Cached `ansible-inventory --list` with every record key as host variables and with HOSTVARS_KEYS, interleaved.

    Both read the same cache entry kind (the cache holds records, not variables), so the difference is Ansible's
    and the plugin's work on the variables alone.
    """
    endpoints = args.hostvars_size
    workdir = benchlib.fresh_dir(os.path.join(workdir, "hostvars"))
    env = benchlib.ansible_env(workdir, VOBIZ_AUTH_ID=benchlib.AUTH_ID, VOBIZ_AUTH_TOKEN=benchlib.AUTH_TOKEN)
    output = os.path.join(workdir, "list.json")
    runs = {"all": [], "selected": []}
    json_bytes = {}
    with benchlib.SimulatorProcess(endpoints, 0, workdir) as sim:
        sources = {kind: plugin_config(os.path.join(workdir, "%s.vobiz.yml" % kind), sim.url,
                                       benchlib.fresh_dir(os.path.join(workdir, "cache-" + kind)),
                                       **({"hostvars_keys": HOSTVARS_KEYS} if kind == "selected" else {}))
                   for kind in runs}
        listings = {}
        for kind, source in sources.items():  # fills each cache; checked, not measured
            benchlib.run_measured([os.path.join(benchlib.BIN_DIR, "ansible-inventory"), "-i", source, "--list"], env, output)
            listings[kind] = benchlib.load_json(output)
            json_bytes[kind] = os.path.getsize(output)
        check_hostvars_selection(listings, endpoints)
        for round_number in range(args.runs):
            InventoryBench.log("  hostvars_keys, %d endpoints, round %d/%d" % (endpoints, round_number + 1, args.runs))
            for kind, source in sources.items():
                sim.clear_requests()
                runs[kind].append(benchlib.run_measured(
                    [os.path.join(benchlib.BIN_DIR, "ansible-inventory"), "-i", source, "--list"], env, output))
                if sim.requests_made():
                    raise benchlib.BenchError("a cached hostvars_keys run made requests: not a cache hit")
    return {"endpoints": endpoints, "runs": runs, "json_bytes": json_bytes,
            "variables": {kind: len(next(iter(listing["_meta"]["hostvars"].values()))) for kind, listing in listings.items()}}


def check_hostvars_selection(listings, endpoints):
    """Same hosts and groups; the selected listing holds only HOSTVARS_KEYS (and the connection variables)."""
    full, selected = listings["all"], listings["selected"]
    if len(selected["_meta"]["hostvars"]) != endpoints or set(selected["_meta"]["hostvars"]) != set(full["_meta"]["hostvars"]):
        raise benchlib.BenchError("hostvars_keys changed the hosts")
    if {name: group for name, group in selected.items() if name != "_meta"} != {name: group for name, group in full.items() if name != "_meta"}:
        raise benchlib.BenchError("hostvars_keys changed the groups")
    wanted = sorted("vobiz_" + key for key in HOSTVARS_KEYS)
    if any(sorted(name for name in variables if name.startswith("vobiz_")) != wanted
           for variables in selected["_meta"]["hostvars"].values()):
        raise benchlib.BenchError("hostvars_keys left other vobiz_ variables")


def hostvars_table(result):
    runs = result["runs"]

    def median(kind, field):
        return benchlib.median([getattr(run, field) for run in runs[kind]])

    lines = [
        "| host variables | variables per host | wall s | CPU s | peak RSS MiB | `--list` JSON MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {"all": "every record key (default)", "selected": "`hostvars_keys: [%s]`" % ", ".join(HOSTVARS_KEYS)}
    for kind in ("all", "selected"):
        lines.append("| %s | %d | %s | %s | %s | %.1f |" % (
            labels[kind], result["variables"][kind], _s(median(kind, "wall")), _s(median(kind, "cpu")),
            _mib(median(kind, "rss_kib")), result["json_bytes"][kind] / 1048576.0))
    lines.append("| **selected / all** | | **%.2f** | **%.2f** | **%.2f** | **%.2f** |" % (
        median("selected", "wall") / median("all", "wall"), median("selected", "cpu") / median("all", "cpu"),
        median("selected", "rss_kib") / median("all", "rss_kib"), result["json_bytes"]["selected"] / result["json_bytes"]["all"]))
    return lines


# Info module -------------------------------------------------------------------------------------

INFO_PLAYBOOK = """\
- name: List every endpoint with vobiz.sip.endpoint_info
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: List the endpoints
      vobiz.sip.endpoint_info:
        api_url: "{{ api_url }}"
        page_size: %(page_size)d
        max_concurrency: %(max_concurrency)d
      register: vobiz
      when: not (baseline | bool)
    - name: Check the count
      ansible.builtin.assert:
        that: (baseline | bool) or vobiz.summary.total == %(endpoints)d
        quiet: true
"""


def measure_info(args, workdir):
    """ansible-playbook with endpoint_info (and the same play without it: Ansible's start-up), per latency."""
    endpoints = args.info_size
    workdir = benchlib.fresh_dir(os.path.join(workdir, "info"))
    playbook = os.path.join(workdir, "info.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(INFO_PLAYBOOK % {"page_size": PAGE_SIZE, "max_concurrency": MAX_CONCURRENCY, "endpoints": endpoints})
    env = benchlib.ansible_env(workdir, VOBIZ_AUTH_ID=benchlib.AUTH_ID, VOBIZ_AUTH_TOKEN=benchlib.AUTH_TOKEN,
                               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    # The module alone, run as Ansible runs it on the target (arguments from a file, JSON result on stdout).
    module_env = dict(env, PYTHONPATH=benchlib.collections_root())
    module_argv = [sys.executable, "-m", "ansible_collections.vobiz.sip.plugins.modules.endpoint_info"]
    output = os.path.join(workdir, "playbook.out")
    results = []
    with contextlib.ExitStack() as stack:
        sims = [stack.enter_context(benchlib.SimulatorProcess(endpoints, latency, workdir)) for latency in args.latencies]
        rows = {sim.latency_ms: {"playbook": [], "baseline": [], "module": [], "requests": []} for sim in sims}
        for round_number in range(args.runs):
            InventoryBench.log("  endpoint_info, %d endpoints, round %d/%d" % (endpoints, round_number + 1, args.runs))
            for sim in sims:
                argv = [os.path.join(benchlib.BIN_DIR, "ansible-playbook"), "-i", "localhost,", playbook, "-e", "api_url=" + sim.url]
                sim.clear_requests()
                rows[sim.latency_ms]["playbook"].append(benchlib.run_measured(argv + ["-e", "baseline=false"], env, output))
                rows[sim.latency_ms]["requests"].append(sim.requests_made())
                rows[sim.latency_ms]["baseline"].append(benchlib.run_measured(argv + ["-e", "baseline=true"], env, output))
                rows[sim.latency_ms]["module"].append(benchlib.run_measured(module_argv + [module_args(workdir, sim)], module_env, output))
                if benchlib.load_json(output)["summary"]["total"] != endpoints:
                    raise benchlib.BenchError("endpoint_info run alone did not list %d endpoints" % endpoints)
        for sim in sims:
            row = rows[sim.latency_ms]
            results.append({
                "endpoints": endpoints, "latency_ms": sim.latency_ms, "requests": benchlib.median(row["requests"]),
                "playbook": row["playbook"], "baseline": row["baseline"], "module": row["module"],
                "network_floor": benchlib.network_floor(endpoints, PAGE_SIZE, MAX_CONCURRENCY, sim.latency_ms),
            })
    return results


def measure_rate(args, workdir):
    """The client alone under 10 requests/s, burst 5, with and without Retry-After; and overlap's extra requests."""
    settings = dict(rate=10, burst=5, max_concurrency=MAX_CONCURRENCY)
    workdir = benchlib.fresh_dir(os.path.join(workdir, "rate"))
    rows = rate_limited.measure_rate_limited(args.rate_size, runs=args.rate_runs, workdir=workdir, log=InventoryBench.log,
                                             **settings)
    overlap = rate_limited.measure_overlap(sorted({1000, args.rate_size} | set(args.sizes)), workdir)
    return rate_limited.tables(rows, overlap, args.rate_size, **settings)


def module_args(workdir, sim):
    path = os.path.join(workdir, "args-%d.json" % sim.latency_ms)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"auth_id": benchlib.AUTH_ID, "auth_token": benchlib.AUTH_TOKEN, "api_url": sim.url,
                                           "page_size": PAGE_SIZE, "max_concurrency": MAX_CONCURRENCY}}, handle)
    return path


# Report ------------------------------------------------------------------------------------------


def _s(seconds):
    return "%.2f" % seconds


def _mib(kib):
    return "%.0f" % (kib / 1024)


def inventory_tables(cases):
    median = benchlib.median
    lines = [
        "| endpoints | latency | pages | requests (cold) | plugin cold s | plugin cached s | static YAML s | static script s "
        "| network floor s | cold / (static floor + network floor) | cached / static floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        floor = case.floor()
        static = {kind: _s(case.median(runs)) + (" *" if kind == case.floor_kind() else "")
                  + (" (%d run%s)" % (len(runs), "s"[len(runs) == 1:]) if len(runs) != len(case.cached) else "")
                  if runs else "not run" for kind, runs in case.static.items()}
        lines.append("| %d | %d ms | %d | %d | %s | %s | %s | %s | %s | **%.2f** | **%.2f** |" % (
            case.endpoints, case.latency_ms, case.pages, median(case.requests), _s(case.median(case.cold)),
            _s(case.median(case.cached)), static.get("yaml", "not run"), static.get("script", "not run"),
            _s(case.network_floor()), case.median(case.cold) / (floor + case.network_floor()), case.median(case.cached) / floor))
    lines += [
        "",
        "Peak RSS (MiB, median) and CPU seconds (user + system, median; steadier than wall time on a busy machine):",
        "",
        "| endpoints | latency | RSS cold | RSS cached | RSS static YAML | RSS static script | RSS cold / static | RSS cached / static "
        "| CPU cold | CPU cached | CPU static YAML | CPU static script | CPU cold / static | CPU cached / static |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        rss_floor, cpu_floor = case.floor_rss(), case.floor("cpu")
        static_rss = {kind: _mib(case.median(runs, "rss_kib")) if runs else "not run" for kind, runs in case.static.items()}
        static_cpu = {kind: _s(case.median(runs, "cpu")) if runs else "not run" for kind, runs in case.static.items()}
        lines.append("| %d | %d ms | %s | %s | %s | %s | **%.2f** | **%.2f** | %s | %s | %s | %s | %.2f | %.2f |" % (
            case.endpoints, case.latency_ms, _mib(case.median(case.cold, "rss_kib")), _mib(case.median(case.cached, "rss_kib")),
            static_rss.get("yaml", "not run"), static_rss.get("script", "not run"),
            case.median(case.cold, "rss_kib") / rss_floor, case.median(case.cached, "rss_kib") / rss_floor,
            _s(case.median(case.cold, "cpu")), _s(case.median(case.cached, "cpu")),
            static_cpu.get("yaml", "not run"), static_cpu.get("script", "not run"),
            case.median(case.cold, "cpu") / cpu_floor, case.median(case.cached, "cpu") / cpu_floor))
    return lines


def scaling_table(cases):
    """Per-endpoint cost at 0 ms latency, by size: does it stay flat?

    A whole run has a fixed part (starting Python and Ansible, loading the plugin, one request), measured on an empty
    account; the marginal cost per endpoint is what each size adds to it, so it is comparable across sizes.
    """
    cases = sorted((case for case in cases if case.latency_ms == 0), key=lambda case: case.endpoints)
    empty = next((case for case in cases if case.endpoints == 0), None)
    lines = [
        "| endpoints | runs | plugin cold s | µs/endpoint: plugin cold | plugin cached | static floor | plugin cold − static floor "
        "| CPU µs/endpoint: plugin cold | plugin cached | static floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        if case is empty:
            lines.append("| 0 (fixed cost, s) | %d | %s | | %s | %s | | %s | %s | %s |" % (
                len(case.cold), _s(case.median(case.cold)), _s(case.median(case.cached)), _s(case.floor()),
                _s(case.median(case.cold, "cpu")), _s(case.median(case.cached, "cpu")), _s(case.floor("cpu"))))
            continue

        def marginal(measure, case=case):
            return (measure(case) - (measure(empty) if empty else 0.0)) * 1e6 / case.endpoints

        lines.append("| %d | %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
            case.endpoints, len(case.cold), _s(case.median(case.cold)),
            marginal(lambda c: c.median(c.cold)), marginal(lambda c: c.median(c.cached)), marginal(lambda c: c.floor()),
            marginal(lambda c: c.median(c.cold) - c.floor()), marginal(lambda c: c.median(c.cold, "cpu")),
            marginal(lambda c: c.median(c.cached, "cpu")), marginal(lambda c: c.floor("cpu"))))
    return lines


def info_table(results):
    def median(runs, field="wall"):
        return benchlib.median([getattr(run, field) for run in runs])

    lines = [
        "| endpoints | latency | requests | playbook s | same play without the task s | task s (difference) | module alone s "
        "| network floor s | playbook peak RSS MiB | without the task MiB | module alone MiB | CPU playbook | CPU without the task "
        "| CPU module alone |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        playbook, baseline, module = row["playbook"], row["baseline"], row["module"]
        lines.append("| %d | %d ms | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["endpoints"], row["latency_ms"], row["requests"], _s(median(playbook)), _s(median(baseline)),
            _s(median(playbook) - median(baseline)), _s(median(module)), _s(row["network_floor"]),
            _mib(median(playbook, "rss_kib")), _mib(median(baseline, "rss_kib")), _mib(median(module, "rss_kib")),
            _s(median(playbook, "cpu")), _s(median(baseline, "cpu")), _s(median(module, "cpu"))))
    return lines


def report(args, machine, cases, info, seconds, audit=None, hostvars=None, rate=None, resource_results=None):
    lines = [
        "# vobiz.sip benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`); docs/performance.md explains the columns and what limits them.",
        "",
        "## Machine",
        "",
    ]
    lines += ["- %s: %s" % item for item in machine.items()]
    lines += [
        "- load average at end: %.2f %.2f %.2f" % os.getloadavg(),
        "- settings: page_size %d, max_concurrency %d, simulator `--generate N --shape mixed` (5 applications, 2 sub-accounts, "
        "no application on 10%%); %d rounds per case (%d for %s endpoints); `make bench` took %.0f s"
        % (PAGE_SIZE, MAX_CONCURRENCY, args.runs, args.large_runs, args.large or "no", seconds),
        "",
    ]
    if cases:
        lines += [
            "## Inventory: whole `ansible-inventory --list` runs, medians",
            "",
            "Static floor = the faster (*) of a YAML inventory and a script inventory holding the plugin's hosts, variables and groups.",
            "",
        ]
        lines += inventory_tables(cases)
        lines += ["", "## Per-endpoint cost at 0 ms latency (marginal: the empty account's fixed cost taken off)", ""]
        lines += scaling_table(cases)
    if info:
        lines += ["", "## Info module: whole `ansible-playbook` runs with `vobiz.sip.endpoint_info`, medians", ""]
        lines += info_table(info)
    if audit:
        lines += ["", "## Audit role: whole `ansible-playbook` runs of `vobiz.sip.endpoint_audit` (10 checks, 3 reports) "
                  "against `vobiz.sip.endpoint_info` alone, 0 ms, medians", ""]
        lines += audit_bench.audit_table(audit)
    if hostvars:
        lines += ["", "## Inventory with `hostvars_keys`: cached `ansible-inventory --list` of %d endpoints, medians"
                  % hostvars["endpoints"], "", "Same hosts and groups; only the host variables differ (the two connection "
                  "variables are in both counts).", ""]
        lines += hostvars_table(hostvars)
    if rate:
        lines += ["", "## Listing under a rate limit (bench/rate_limited.py), and what overlapping pages cost", ""]
        lines += rate
    if resource_results:
        lines += ["", "## The drift role and vobiz.sip.endpoints (`bench/resource_bench.py`): whole runs, medians", ""]
        lines += resource.table(args, resource_results)
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="endpoint counts measured at every latency")
    parser.add_argument("--latencies", default="0,50", help="simulated ms per request")
    parser.add_argument("--runs", type=int, default=3, help="rounds per case (medians)")
    parser.add_argument("--large", type=int, default=100000, help="an extra size at 0 ms to show how cost grows; 0 skips it")
    parser.add_argument("--large-runs", type=int, default=1)
    parser.add_argument("--large-static", default="script", choices=("script", "yaml,script"),
                        help="static floors for the large size (a 100,000-host YAML inventory needs about 9 GB)")
    parser.add_argument("--info-size", type=int, default=10000, help="endpoints for the endpoint_info case; 0 skips it")
    parser.add_argument("--audit-size", type=int, default=10000, help="endpoints for the endpoint_audit case; 0 skips it")
    parser.add_argument("--hostvars-size", type=int, default=10000, help="endpoints for the hostvars_keys case; 0 skips it")
    parser.add_argument("--rate-size", type=int, default=10000,
                        help="endpoints for the rate-limited case (10 requests/s, burst 5, max_concurrency 8); 0 skips it")
    parser.add_argument("--rate-runs", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(benchlib.REPO, "bench", "results.md"))
    parser.add_argument("--only", choices=("all", "inventory", "resource"), default="all",
                        help="run only the inventory cases (listing, info, audit, hostvars_keys, rate limit), "
                        "or only the drift role / vobiz.sip.endpoints case")
    resource.add_arguments(parser, prefix="resource-")
    parser.add_argument("--keep", help="keep the work files (inventories, caches, outputs) in this directory")
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",") if size]
    args.latencies = [int(latency) for latency in args.latencies.split(",") if latency]
    args.resource_skip = [case for case in args.resource_skip.split(",") if case]
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    machine = benchlib.machine_description()
    with contextlib.ExitStack() as stack:
        workdir = benchlib.fresh_dir(args.keep) if args.keep else stack.enter_context(tempfile.TemporaryDirectory(prefix="vobiz-bench-"))
        cases, info, audit, hostvars, rate, resource_results = [], [], None, None, [], []
        if args.only in ("all", "inventory"):
            bench = InventoryBench(args, workdir)
            # An empty account: the fixed cost of a run, which the per-endpoint costs leave out.
            cases = bench.measure_size(0, [0], args.runs, ("yaml", "script"))
            for size in args.sizes:
                cases += bench.measure_size(size, args.latencies, args.runs, ("yaml", "script"))
            if args.large:
                cases += bench.measure_size(args.large, [0], args.large_runs, tuple(args.large_static.split(",")))
            info = measure_info(args, workdir) if args.info_size else []
            audit = audit_bench.measure_audit(args, workdir, InventoryBench.log) if args.audit_size else None
            hostvars = measure_hostvars_keys(args, workdir) if args.hostvars_size else None
            rate = measure_rate(args, workdir) if args.rate_size else []
        if args.only in ("all", "resource"):
            resource_results = resource.measure(args, workdir)
    text = report(args, machine, cases, info, time.monotonic() - started, audit, hostvars, rate, resource_results)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    print("written to %s" % os.path.relpath(args.output))


if __name__ == "__main__":
    try:
        main()
    except benchlib.BenchError as error:
        sys.exit("bench: %s" % error)
