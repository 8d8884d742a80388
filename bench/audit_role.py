# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`, audit case: the vobiz.sip.endpoint_audit role (every check, all three reports) against endpoint_info alone.

Both are whole `ansible-playbook` runs against one simulator process with N generated endpoints (mixed shapes), in
alternating rounds so that load from other processes falls on both alike. The difference is the role's own cost:
its variable checks, the checks themselves and the report rendering, which run in Python once, not per endpoint in Jinja.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
benchlib = __import__("benchlib")

PLAYS = {
    "info": """\
- name: List every endpoint with vobiz.sip.endpoint_info
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: List the endpoints (the options the role uses; the rest at their defaults, as in the role)
      vobiz.sip.endpoint_info:
        api_url: "{{ api_url }}"
        filters: {}
      register: vobiz
    - name: Check the count
      ansible.builtin.assert:
        that: vobiz.summary.total == %(endpoints)d
        quiet: true
""",
    "audit": """\
- name: Audit every endpoint with vobiz.sip.endpoint_audit
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: vobiz.sip.endpoint_audit
      vars:
        endpoint_audit_api_url: "{{ api_url }}"
        endpoint_audit_source: api
        endpoint_audit_fail: false
        endpoint_audit_report_dir: "%(report_dir)s"
        endpoint_audit_require_application: true
        endpoint_audit_flags: {allow_other_domains: false, allow_video: false}
        endpoint_audit_counts_by_sub_account: {main: {min: 1}}
        endpoint_audit_registration_min_minutes: 5
        endpoint_audit_user_agents: ['^Yealink SIP-\\S+ \\d+\\.8[6-9]\\.', '^Zoiper', '^Linphone']
        endpoint_audit_username_patterns: ['^[a-z][a-z0-9_]*$']
        endpoint_audit_alias_patterns: ['^[A-Z]', '^$']
        endpoint_audit_unique_aliases: true
        endpoint_audit_contact_networks: [198.51.100.0/25, 10.0.0.0/8, '2001:db8::/32']
  post_tasks:
    - name: Check the count
      ansible.builtin.assert:
        that: endpoint_audit_result.summary.endpoints == %(endpoints)d and endpoint_audit_result.summary.checks == 10
        quiet: true
""",
}


def measure_audit(args, workdir, log):
    """{endpoints, requests, info: [Run], audit: [Run], reports: {name: bytes}} for args.audit_size endpoints at 0 ms."""
    endpoints = args.audit_size
    workdir = benchlib.fresh_dir(os.path.join(workdir, "audit"))
    report_dir = os.path.join(workdir, "report")
    playbooks = {}
    for name, play in PLAYS.items():
        playbooks[name] = os.path.join(workdir, name + ".yml")
        with open(playbooks[name], "w", encoding="utf-8") as handle:
            handle.write(play % {"endpoints": endpoints, "report_dir": report_dir})
    env = benchlib.ansible_env(workdir, VOBIZ_AUTH_ID=benchlib.AUTH_ID, VOBIZ_AUTH_TOKEN=benchlib.AUTH_TOKEN,
                               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    output = os.path.join(workdir, "playbook.out")
    runs = {"info": [], "audit": []}
    requests = {"info": [], "audit": []}
    with benchlib.SimulatorProcess(endpoints, 0, workdir) as sim:
        for round_number in range(args.runs):
            log("  endpoint_audit against endpoint_info, %d endpoints, round %d/%d" % (endpoints, round_number + 1, args.runs))
            for name in ("info", "audit"):
                sim.clear_requests()
                argv = [os.path.join(benchlib.BIN_DIR, "ansible-playbook"), "-i", "localhost,", playbooks[name], "-e", "api_url=" + sim.url]
                runs[name].append(benchlib.run_measured(argv, env, output))
                requests[name].append(sim.requests_made())
    if requests["info"] != requests["audit"]:
        raise benchlib.BenchError("the audit made %s requests, endpoint_info %s: not the same listing" % (requests["audit"], requests["info"]))
    reports = {name: os.path.getsize(os.path.join(report_dir, name)) for name in sorted(os.listdir(report_dir))}
    return {"endpoints": endpoints, "requests": benchlib.median(requests["info"]), "info": runs["info"], "audit": runs["audit"],
            "reports": reports}


def audit_table(result):
    def median(name, field="wall"):
        return benchlib.median([getattr(run, field) for run in result[name]])

    info, audit = median("info"), median("audit")
    return [
        "| endpoints | requests | endpoint_info alone s | audit role s | audit / endpoint_info | role's own s (difference) "
        "| CPU endpoint_info s | CPU audit s | peak RSS endpoint_info MiB | peak RSS audit MiB | reports (bytes) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %s |" % (
            result["endpoints"], result["requests"], info, audit, audit / info, audit - info, median("info", "cpu"),
            median("audit", "cpu"), median("info", "rss_kib") / 1024.0, median("audit", "rss_kib") / 1024.0,
            ", ".join("%s %d" % item for item in result["reports"].items())),
    ]
