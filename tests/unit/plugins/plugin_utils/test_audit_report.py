# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's Markdown and JUnit reports (plugin_utils/audit_report.py and the endpoint_audit_* report filters)."""

from __future__ import annotations

import datetime

import pytest

from ansible.errors import AnsibleFilterError
from junitparser import Failure, JUnitXml, Skipped

from ansible_collections.vobiz.sip.plugins.filter.endpoint_audit import audit
from ansible_collections.vobiz.sip.plugins.filter.endpoint_audit_report import endpoint_audit_junit, endpoint_audit_markdown
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS
from ansible_collections.vobiz.sip.plugins.plugin_utils.audit_report import CHART_BARS

NOW = datetime.datetime(2026, 4, 2, 12, 0, tzinfo=datetime.timezone.utc)
HOSTILE = 'Lobby | <b>"x"</b> ]\x07#quot;; `{{ lookup("pipe", "id") }}`\nline'


def record(username, app=("1", "Front Desk"), registered=True, sub_account=None, **fields):
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id="id-" + username, username=username, sip_registered=registered, sub_account=sub_account,
                application_id=app[0] if app else None, application_name=app[1] if app else None, **fields)
    return base


RECORDS = [record("a", alias=HOSTILE), record("b", alias=HOSTILE, registered=False), record("c", app=None, sub_account="SA_X"),
           record("d", app=("2", HOSTILE), allow_video=True)]


def the_audit(**checks):
    return dict(audit(RECORDS, dict({"unique_aliases": True, "require_application": True, "flags": {"allow_video": False}}, **checks),
                      now=NOW), source="api")


def parsed(xml, tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def test_junit_one_case_per_check_failures_carry_the_message(tmp_path):
    result = the_audit(registration_min_minutes=5)
    suites = list(parsed(endpoint_audit_junit(result, title="Nightly"), tmp_path))
    assert len(suites) == 1 and suites[0].name == "vobiz.sip.endpoint_audit"
    cases = {case.name: case for case in suites[0]}
    assert list(cases) == ["application_required", "allow_video", "registration_fresh", "unique_aliases"]
    assert (suites[0].tests, suites[0].failures, suites[0].skipped, suites[0].errors) == (4, 3, 1, 0)
    failure = cases["unique_aliases"].result[0]
    assert isinstance(failure, Failure)
    assert failure.message.startswith("1 alias is shared by 2 endpoints: 'Lobby | <b>\"x\"</b> ]\\x07#quot;;")
    assert failure.text.endswith("endpoints at fault (2):\na\nb")
    # Only a warning (nothing reported sip_expires): skipped, with the warning as its message.
    assert [type(entry) for entry in cases["registration_fresh"].result] == [Skipped]
    assert "not checked" in cases["registration_fresh"].result[0].message
    assert "3 of 4 endpoints do not report allow_video" in cases["allow_video"].system_out
    assert suites[0].timestamp == "2026-04-02T12:00:00"


def test_junit_of_a_clean_audit_has_no_failure(tmp_path):
    xml = endpoint_audit_junit(dict(audit(RECORDS[:1], {"unique_aliases": True}, now=NOW), source="inventory"))
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="Endpoint audit" tests="1" failures="0"')
    suite = next(iter(parsed(xml, tmp_path)))
    assert [case.is_passed for case in suite] == [True]
    assert {prop.name: prop.value for prop in suite.properties()} == {"endpoints": "1", "source": "inventory"}


def test_markdown_opens_with_the_dashboard_and_escapes_api_text():
    markdown = endpoint_audit_markdown(the_audit(), title="Audit | nightly")
    lines = markdown.splitlines()
    assert lines[0] == "# Audit \\| nightly"
    assert lines[2].startswith("**3 of 3 checks failed** (application_required, allow_video, unique_aliases), 1 warning. 4 endpoints audited "
                               "from the Vobiz API at 2026-04-02T12:00:00Z.")
    assert lines[4:9] == ["## Dashboard", "", "| endpoints | registered | unregistered | without application |", "|---:|---:|---:|---:|",
                          "| 4 | 3 (75%) | 1 (25%) | 1 (25%) |"]
    assert "| Front Desk | 2 | ████████████████████ |" in lines and "| *(none)* | 1 | ██████████ |" in lines
    assert "| SA_X | 1 | ███████ |" in lines
    # API text: no raw HTML, no broken table row, no Mermaid label that could end its quotes.
    assert "<b>" not in markdown and "&lt;b&gt;" in markdown
    chart = markdown[markdown.index("```mermaid"):markdown.index("```", markdown.index("```mermaid") + 3)]
    assert chart.count('"') == 4 + 2 * 3  # the title's and the y axis's pairs, and one pair per label
    assert "#quot" not in chart and ";" not in chart
    assert all(line.count(" | ") >= 2 for line in lines if line.startswith("| ❌"))


def test_the_chart_sums_up_the_long_tail():
    records = [record("u%d" % index, app=(str(index), "App %d" % index)) for index in range(CHART_BARS + 3)]
    markdown = endpoint_audit_markdown(dict(audit(records, {}, now=NOW), source="api"))
    assert '"3 others"' in markdown and "bar [%s, 3]" % ", ".join(["1"] * CHART_BARS) in markdown
    assert "**No check is switched on**" in markdown


# ESC starts terminal codes (here: clear the screen, then a red "OK"), BEL rings; C1's CSI (\x9b) and DEL too.
TERMINAL_CODES = "\x1b[2J\x1b[31mOK\x07\x9b\x7f"
CONTROLS = {"\x1b", "\x07", "\x9b", "\x7f"}
TERMINAL_RECORDS = [record("esc\x1b[2Juser", alias="desk " + TERMINAL_CODES, app=None, sub_account="SA_\x07"),
                    record("bel\x07user", alias="desk " + TERMINAL_CODES, app=("9", "App\x1b[5m"))]


def terminal_audit():
    return dict(audit(TERMINAL_RECORDS, {"unique_aliases": True, "require_application": True}, now=NOW), source="api")


def test_markdown_writes_out_control_characters_from_the_api():
    markdown = endpoint_audit_markdown(terminal_audit(), title="Audit\x1b]0;owned\x07")
    assert not set(markdown) & CONTROLS
    assert markdown.startswith("# Audit\\\\x1b\\]0;owned\\\\x07\n")  # shown as text: \x1b (its backslash escaped for Markdown)
    assert "esc\\\\x1b\\[2Juser" in markdown and "bel\\\\x07user" in markdown
    assert "| SA\\_\\\\x07 | 1 |" in markdown and "| App\\\\x1b\\[5m | 1 |" in markdown


def test_junit_writes_out_control_characters_from_the_api(tmp_path):
    xml = endpoint_audit_junit(terminal_audit(), title="Audit\x1b")
    assert not set(xml) & CONTROLS
    suite = next(iter(parsed(xml, tmp_path)))
    cases = {case.name: case for case in suite}
    failure = cases["unique_aliases"].result[0]
    assert "'desk \\x1b[2J\\x1b[31mOK\\x07\\x9b\\x7f'" in failure.message
    assert failure.text.endswith("endpoints at fault (2):\nesc\\x1b[2Juser\nbel\\x07user")  # newlines kept


@pytest.mark.parametrize("render", [endpoint_audit_markdown, endpoint_audit_junit])
def test_the_report_filters_need_an_audit(render):
    with pytest.raises(AnsibleFilterError, match="renders the result of the vobiz.sip.endpoint_audit filter"):
        render({"results": []})
