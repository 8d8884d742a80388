# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reports of vobiz.sip.endpoint_audit: Markdown with the account dashboard, and JUnit XML (private to vobiz.sip).

Both render the result of the endpoint_audit filter (results, summary, dashboard) once, in Python.
The Markdown renders on GitHub and GitLab: tables, a Mermaid xychart (no image files), text from
the API escaped. The JUnit XML has one test case per check, in the layout Jenkins, GitLab and
GitHub test reporters read (testsuites > testsuite > testcase with failure or skipped).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ansible_collections.vobiz.sip.plugins.plugin_utils.markdown import report_text, table_cell

PASSED = "passed"
FAILED = "failed"
WARNING = "warning"
SUITE_NAME = "vobiz.sip.endpoint_audit"
BAR_WIDTH = 20        # characters of the longest text bar in the dashboard tables
CHART_BARS = 8        # applications in the chart before the rest are summed up as "other"
CHART_LABEL = 18      # characters of a chart label
_ICONS = {PASSED: "✅ passed", FAILED: "❌ failed", WARNING: "⚠️ warning", "skipped": "⚠️ not checked"}
# What XML 1.0 cannot carry and report_text() leaves: lone surrogates and the two non-characters.
_XML_INVALID = re.compile("[\ud800-\udfff\ufffe\uffff]")
# What a Mermaid label may hold: letters, digits and a little punctuation; quotes, brackets, # and ; could end it.
_CHART_JUNK = re.compile(r"[^\w .()/+'-]+")


# One test case per check -------------------------------------------------------------------------

def check_cases(results):
    """[{check, status, message, endpoints, notes}]: the results grouped by check, in order.

    A check can give two results (its verdict and a warning about endpoints it could not check). The case
    fails when the check failed, passes when it passed (the warning becomes a note), and is `skipped` when
    the check could check nothing (only a warning).
    """
    cases = {}
    for result in results:
        case = cases.setdefault(result["check"], {"check": result["check"], "status": None, "message": "", "endpoints": [], "notes": []})
        if result["status"] == WARNING:
            case["notes"].append(result)
        else:
            case.update(status=result["status"], message=result["message"], endpoints=list(result["endpoints"]))
    for case in cases.values():
        if case["status"] is None:
            warning = case["notes"].pop(0)
            case.update(status="skipped", message=warning["message"], endpoints=list(warning["endpoints"]))
    return list(cases.values())


# Markdown ----------------------------------------------------------------------------------------

def render_markdown(audit, title="Endpoint audit"):
    """The audit as Markdown: the verdict, the dashboard (tables and a bar chart), then one row per check."""
    lines = ["# %s" % table_cell(title), "", _verdict(audit), ""]
    lines += dashboard_markdown(audit["dashboard"])
    lines += _checks_markdown(check_cases(audit["results"]))
    return "\n".join(lines).rstrip("\n") + "\n"


def _verdict(audit):
    summary = audit["summary"]
    when = " at %s" % audit["audited_at"] if audit.get("audited_at") else ""
    source = " from the %s" % ("Vobiz API" if audit.get("source") == "api" else "inventory") if audit.get("source") else ""
    if summary["failed"]:
        verdict = "**%d of %d checks failed** (%s)" % (summary["failed"], summary["checks"], ", ".join(summary["failed_checks"]))
    elif summary["checks"]:
        verdict = "**All %d checks passed**" % summary["checks"]
    else:
        verdict = "**No check is switched on** (see the endpoint_audit role variables)"
    if summary["warnings"]:
        verdict += ", %d warning%s" % (summary["warnings"], _plural(summary["warnings"]))
    return "%s. %d endpoint%s audited%s%s." % (verdict, summary["endpoints"], _plural(summary["endpoints"]), source, when)


def dashboard_markdown(dashboard):
    """The account's figures as the Vobiz dashboard shows them: totals, by application, by sub-account."""
    total = dashboard["total"]
    lines = ["## Dashboard", "",
             "| endpoints | registered | unregistered | without application |", "|---:|---:|---:|---:|",
             "| %d | %s | %s | %s |" % (total, _share(dashboard["registered"], total), _share(dashboard["unregistered"], total),
                                        _share(dashboard["without_application"], total)), ""]
    applications = sorted(dashboard["by_application"].items(), key=lambda item: (-item[1], str(item[0])))
    if dashboard["without_application"]:
        applications.append((None, dashboard["without_application"]))
    if applications:
        lines += _count_table("application", applications, total)
        lines += _bar_chart("Endpoints by application", applications)
    accounts = sorted(dashboard["by_sub_account"].items(), key=lambda item: (-item[1], str(item[0])))
    if accounts:
        lines += _count_table("sub-account", accounts, total)
    return lines


def _count_table(what, counts, total):
    largest = max(count for _label, count in counts) or 1
    rows = ["| %s | %d | %s |" % ("*(none)*" if label is None else table_cell(label), count,
                                  "█" * max(1, round(BAR_WIDTH * count / largest)) if count else "")
            for label, count in counts]
    return ["| %s | endpoints | share of %d |" % (what, total), "|---|---:|---|"] + rows + [""]


def _bar_chart(title, counts):
    """A Mermaid xychart (GitHub and GitLab render it; elsewhere it stays a readable code block)."""
    shown = counts[:CHART_BARS]
    rest = counts[CHART_BARS:]
    if rest:
        shown = shown + [("%d others" % len(rest), sum(count for _label, count in rest))]
    labels = ", ".join('"%s"' % _chart_label(label) for label, _count in shown)
    values = ", ".join(str(count) for _label, count in shown)
    top = max(count for _label, count in shown)
    return ["```mermaid", "xychart-beta", '    title "%s"' % title, "    x-axis [%s]" % labels,
            '    y-axis "endpoints" 0 --> %d' % max(top, 1), "    bar [%s]" % values, "```", ""]


def _chart_label(label):
    if label is None:
        return "(none)"
    text = " ".join(_CHART_JUNK.sub(" ", str(label)).split()) or "?"
    return text if len(text) <= CHART_LABEL else text[:CHART_LABEL - 1].rstrip() + "…"


def _checks_markdown(cases):
    if not cases:
        return []
    lines = ["## Checks", "", "| result | check | finding |", "|---|---|---|"]
    for case in cases:
        finding = table_cell(case["message"])
        for note in case["notes"]:
            finding += "<br>⚠️ %s" % table_cell(note["message"])
        lines.append("| %s | %s | %s |" % (_ICONS[case["status"]], table_cell(case["check"]), finding))
    lines.append("")
    for case in cases:
        faults = case["endpoints"] if case["status"] == FAILED else []
        if faults:
            lines += ["<details><summary>%s: %d endpoint%s at fault</summary>" % (table_cell(case["check"]), len(faults), _plural(len(faults))),
                      "", ", ".join(table_cell(name) for name in faults), "", "</details>", ""]
    return lines


def _share(count, total):
    return "%d (%d%%)" % (count, round(100.0 * count / total)) if total else str(count)


def _plural(count):
    return "" if count == 1 else "s"


# JUnit XML ---------------------------------------------------------------------------------------

def render_junit(audit, title="Endpoint audit"):
    """The audit as JUnit XML: one testsuite, one testcase per check (failure or skipped carry the message)."""
    cases = check_cases(audit["results"])
    failures = sum(1 for case in cases if case["status"] == FAILED)
    skipped = sum(1 for case in cases if case["status"] == "skipped")
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "skipped": str(skipped), "time": "0"}
    suites = ET.Element("testsuites", dict({"name": _xml_text(title)}, **counts))
    suite = ET.SubElement(suites, "testsuite", dict({"name": SUITE_NAME}, **counts))
    if audit.get("audited_at"):
        suite.set("timestamp", audit["audited_at"].rstrip("Z"))  # the schema's form: no zone (it is UTC)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("endpoints", audit["summary"]["endpoints"]), ("source", audit.get("source") or "")):
        ET.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
    for case in cases:
        element = ET.SubElement(suite, "testcase", {"classname": SUITE_NAME, "name": _xml_text(case["check"]), "time": "0"})
        if case["status"] == FAILED:
            failure = ET.SubElement(element, "failure", {"message": _xml_text(case["message"]), "type": "AuditCheckFailed"})
            failure.text = _xml_text(_fault_details(case))
        elif case["status"] == "skipped":
            ET.SubElement(element, "skipped", {"message": _xml_text(case["message"])})
        if case["notes"]:
            ET.SubElement(element, "system-out").text = _xml_text("\n".join("warning: %s" % note["message"] for note in case["notes"]))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _fault_details(case):
    lines = [case["message"]]
    if case["endpoints"]:
        lines += ["", "endpoints at fault (%d):" % len(case["endpoints"])] + [str(name) for name in case["endpoints"]]
    return "\n".join(lines)


def _xml_text(value):
    return _XML_INVALID.sub("\ufffd", report_text(value))
