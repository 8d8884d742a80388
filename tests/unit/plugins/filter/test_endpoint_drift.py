# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift comparison of the vobiz.sip.endpoint_drift role (filter plugin endpoint_drift): pure functions."""

from __future__ import annotations

import json
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.filter import endpoint_drift as drift
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS

PASSWORD = "pw-drift-unit-5c1e-secret"
FRONT_DESK = ("20000000000000001", "Front Desk")
SALES = ("20000000000000004", "Sales & Support (EU)")


def record(endpoint_id, username, application=FRONT_DESK, **fields):
    """A normalised record as endpoint_info returns it (rich shape: the allow_* flags are reported)."""
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id=endpoint_id, username=username, alias="%s phone" % username, sip_registered=True,
                allow_voice=True, allow_message=True, allow_video=False, allow_same_domain=True,
                allow_other_domains=False, allow_phones=True, allow_apps=True)
    if application:
        base["application_id"], base["application_name"] = application
    base.update(fields)
    return base


def compact(endpoint_id, username, **fields):
    """A record from the compact API shape: no allow_* flags."""
    base = record(endpoint_id, username, **fields)
    base.update((key, None) for key in base if key.startswith("allow_"))
    return base


LIVE = [
    record("100000000000001", "alice"),
    record("100000000000002", "bob", application=SALES, alias="Bob desk"),
    record("100000000000003", "carol", application=None, sub_account="SA_BRANCH01"),
]


def compare(desired, live=None, **options):
    return drift.compare(LIVE if live is None else live, desired, **options)


# No drift -------------------------------------------------------------------------------------

def test_matching_list_is_no_drift_and_plans_nothing():
    desired = [
        {"username": "alice", "alias": "alice phone", "application": "Front Desk"},
        {"username": "bob", "alias": "Bob desk", "application": "20000000000000004", "allow_video": False},
        {"username": "carol", "sub_account": "SA_BRANCH01"},
    ]
    report = compare(desired)
    assert report["drift"] is False
    assert report["summary"]["drift"] == 0 and report["summary"]["in_sync"] == 3
    assert report["missing"] == report["changed"] == report["unexpected"] == report["actions"] == []


def test_only_the_fields_an_item_gives_are_compared():
    report = compare([{"username": "alice"}, {"username": "bob", "alias": None}, {"username": "carol"}])
    assert report["drift"] is False  # bob's other alias and carol's missing application are not managed here


def test_application_matches_by_id_or_by_name():
    by_id = compare([{"username": "bob", "application": "20000000000000004"}], allow_unexpected=True)
    by_name = compare([{"username": "bob", "application": "Sales & Support (EU)"}], allow_unexpected=True)
    by_int = compare([{"username": "bob", "application": 20000000000000004}], allow_unexpected=True)
    assert not by_id["drift"] and not by_name["drift"] and not by_int["drift"]


# Each kind of drift ----------------------------------------------------------------------------

def test_missing_endpoint_is_reported_and_created_with_its_fields_but_no_password():
    report = compare([{"username": "dave", "password": PASSWORD, "alias": "Dave", "allow_video": True, "application": "Front Desk"}],
                     allow_unexpected=True)
    assert report["summary"]["missing"] == 1 and report["drift"] is True
    assert report["missing"] == [{"username": "dave", "endpoint_id": None, "fields": {"alias": "Dave", "allow_video": True, "application": "Front Desk"},
                                  "has_password": True, "creatable": True, "reason": None}]
    assert report["actions"] == [{"action": "create", "username": "dave", "endpoint_id": None,
                                  "params": {"alias": "Dave", "application": "Front Desk", "allow_video": True}}]
    assert report["summary"]["remaining"] == 0
    assert PASSWORD not in json.dumps(report) and "password" not in json.dumps(report["actions"])


def test_missing_endpoint_without_password_cannot_be_created():
    report = compare([{"username": "dave", "alias": "Dave"}], allow_unexpected=True)
    assert report["missing"][0]["creatable"] is False and "password" in report["missing"][0]["reason"]
    assert report["actions"] == []
    assert report["remaining"]["missing"] == [{"username": "dave", "reason": report["missing"][0]["reason"]}]
    assert report["summary"]["remaining"] == 1


def test_unexpected_endpoints_are_drift_unless_allowed():
    strict = compare([{"username": "alice"}])
    assert [item["username"] for item in strict["unexpected"]] == ["bob", "carol"]
    assert all(item["reason"] == drift.NOT_LISTED and not item["allowed"] for item in strict["unexpected"])
    assert strict["summary"]["unexpected"] == 2 and strict["drift"] is True
    assert strict["remaining"]["unexpected"] == ["bob", "carol"] and strict["actions"] == []

    allowed = compare([{"username": "alice"}], allow_unexpected=True)
    assert allowed["drift"] is False
    assert allowed["summary"]["unexpected"] == 0 and allowed["summary"]["unexpected_allowed"] == 2
    assert all(item["allowed"] for item in allowed["unexpected"])


def test_remove_unexpected_plans_their_deletion():
    report = compare([{"username": "alice"}], remove_unexpected=True)
    assert [(action["action"], action["username"], action["endpoint_id"]) for action in report["actions"]] == [
        ("delete", "bob", "100000000000002"), ("delete", "carol", "100000000000003")]
    assert report["remaining"]["unexpected"] == [] and report["summary"]["remaining"] == 0


def test_listed_absent_endpoint_that_exists_is_unexpected_even_when_unexpected_ones_are_allowed():
    report = compare([{"username": "bob", "state": "absent"}, {"username": "zed", "state": "absent"}], allow_unexpected=True)
    assert [(item["username"], item["reason"], item["allowed"]) for item in report["unexpected"] if not item["allowed"]] == [
        ("bob", drift.LISTED_ABSENT, False)]
    assert "zed" in report["in_sync"]
    assert report["actions"] == [{"action": "delete", "username": "bob", "endpoint_id": "100000000000002", "params": {}}]
    assert report["summary"]["drift"] == 1


def test_changed_fields_report_wanted_and_actual_values():
    report = compare([{"username": "bob", "alias": "Bob front", "application": "Front Desk", "allow_video": True}], allow_unexpected=True)
    (changed,) = report["changed"]
    assert changed["endpoint_id"] == "100000000000002"
    assert changed["fields"] == [
        {"field": "alias", "wanted": "Bob front", "actual": "Bob desk", "updatable": True},
        {"field": "application", "wanted": "Front Desk", "actual": "Sales & Support (EU) (20000000000000004)", "updatable": True},
        {"field": "allow_video", "wanted": True, "actual": False, "updatable": True},
    ]
    assert report["actions"] == [{"action": "update", "username": "bob", "endpoint_id": "100000000000002",
                                  "params": {"alias": "Bob front", "application": "Front Desk", "allow_video": True}}]


def test_application_actual_value_is_the_id_when_the_name_is_unknown_and_null_when_none():
    live = [record("1", "alice", application=("20000000000000009", None)), record("2", "bob", application=None)]
    report = compare([{"username": "alice", "application": "Front Desk"}, {"username": "bob", "application": "Front Desk"}], live=live)
    assert [item["fields"][0]["actual"] for item in report["changed"]] == ["20000000000000009", None]


def test_locked_fields_are_drift_that_remediation_leaves_alone():
    report = compare([{"username": "carol", "sub_account": "SA_LAB0002", "allow_other_domains": True, "alias": "Carol"}],
                     allow_unexpected=True)
    fields = {item["field"]: item for item in report["changed"][0]["fields"]}
    assert fields["sub_account"]["updatable"] is False and fields["allow_other_domains"]["updatable"] is False
    assert report["actions"] == [{"action": "update", "username": "carol", "endpoint_id": "100000000000003", "params": {"alias": "Carol"}}]
    assert report["remaining"]["changed"] == [{"username": "carol", "endpoint_id": "100000000000003",
                                               "fields": ["sub_account", "allow_other_domains"]}]


def test_only_locked_differences_plan_no_update():
    report = compare([{"username": "alice", "allow_phones": False}], allow_unexpected=True)
    assert report["summary"]["changed"] == 1 and report["actions"] == [] and report["summary"]["remaining"] == 1


def test_flags_the_compact_shape_does_not_report_are_unverified_not_drift():
    live = [compact("1", "alice")]
    report = compare([{"username": "alice", "allow_video": True, "allow_other_domains": False}], live=live)
    assert report["drift"] is False
    assert report["unverified"] == [{"username": "alice", "live_username": "alice", "endpoint_id": "1",
                                     "fields": ["allow_video", "allow_other_domains"]}]


# Matching: endpoint ids and usernames the API rewrote -------------------------------------------

def test_username_the_api_rewrote_on_create_matches_and_is_no_difference():
    live = [record("1", "dave834712349876", alias="Dave")]
    report = compare([{"username": "dave", "alias": "Dave"}], live=live)
    assert report["drift"] is False and report["in_sync"] == ["dave"]


def test_rewritten_username_changes_are_reported_under_the_desired_name_and_updated_by_id():
    live = [record("1", "dave834712349876", alias="Dave")]
    report = compare([{"username": "dave", "alias": "Dave 2"}], live=live)
    assert report["changed"][0]["username"] == "dave" and report["changed"][0]["live_username"] == "dave834712349876"
    assert report["actions"] == [{"action": "update", "username": "dave", "endpoint_id": "1", "params": {"alias": "Dave 2"}}]


def test_exact_username_wins_over_a_rewritten_form_of_another_item():
    live = [record("1", "dave"), record("2", "dave7")]
    report = compare([{"username": "dave7"}, {"username": "dave"}], live=live)
    assert report["drift"] is False


def test_several_rewritten_candidates_are_told_apart_by_alias_or_refused():
    live = [record("1", "eve111", alias="Eve desk"), record("2", "eve222", alias="Eve lobby")]
    by_alias = compare([{"username": "eve", "alias": "Eve lobby"}], live=live, allow_unexpected=True)
    assert by_alias["in_sync"] == ["eve"] and by_alias["unexpected"][0]["endpoint_id"] == "1"
    with pytest.raises(AnsibleFilterError, match="desired endpoint eve: .*eve111.*eve222.*endpoint_id"):
        compare([{"username": "eve"}], live=live)


def test_an_item_listed_absent_never_plans_to_delete_a_rewritten_username_on_a_guess():
    live = [record("7", "bob7", alias="Bob")]
    with pytest.raises(AnsibleFilterError, match="desired endpoint bob: no endpoint has username 'bob' exactly.*refusing to "
                                                 "delete on a guess. Candidates: 7 \\(username bob7, alias Bob\\)"):
        compare([{"username": "bob", "state": "absent"}], live=live)
    confirmed = compare([{"username": "bob", "alias": "Bob", "state": "absent"}], live=live)
    assert confirmed["actions"] == [{"action": "delete", "username": "bob", "endpoint_id": "7", "params": {}}]
    pinned = compare([{"username": "bob", "endpoint_id": "7", "state": "absent"}], live=live)
    assert pinned["actions"] == confirmed["actions"]
    with pytest.raises(AnsibleFilterError, match="endpoint 7 has username bob7, not carol; refusing to delete it"):
        compare([{"username": "carol", "endpoint_id": "7", "state": "absent"}], live=live)


def test_endpoint_id_pins_the_endpoint():
    live = [record("1", "frank"), record("2", "frank_old")]
    report = compare([{"username": "frank", "endpoint_id": "2"}], live=live, allow_unexpected=True)
    (changed,) = report["changed"]
    assert changed["fields"] == [{"field": "username", "wanted": "frank", "actual": "frank_old", "updatable": False}]
    assert [item["endpoint_id"] for item in report["unexpected"]] == ["1"]


def test_unknown_endpoint_id_is_missing_and_not_creatable():
    report = compare([{"username": "frank", "endpoint_id": "999", "password": PASSWORD}], allow_unexpected=True)
    assert report["missing"][0]["creatable"] is False and "999" in report["missing"][0]["reason"]
    assert report["actions"] == []


# The desired list ------------------------------------------------------------------------------

@pytest.mark.parametrize("desired, message", [
    ({"username": "alice"}, "must be a list"),
    (["alice"], "#1 must be a mapping"),
    ([{"alias": "x"}], "#1 has no username"),
    ([{"username": "alice", "aliass": "x"}], "unknown key aliass; an item may set: username, state"),
    ([{"username": "alice", "update_password": "always"}], "passwords are only used to create"),
    ([{"username": "alice", "state": "gone"}], "state must be present or absent"),
    ([{"username": "alice", "allow_video": "maybe"}], "allow_video must be true or false"),
    ([{"username": "alice", "alias": ["x"]}], "alias must be text"),
    ([{"username": "alice"}, {"username": "alice"}], "#1 and #2 have the same username alice"),
    ([{"username": "a", "endpoint_id": "1"}, {"username": "b", "endpoint_id": 1}], "same endpoint_id 1"),
])
def test_bad_desired_lists_are_refused_with_the_item_named(desired, message):
    with pytest.raises(AnsibleFilterError, match=message):
        drift.compare(LIVE, desired)


def test_a_bad_password_value_is_never_echoed():
    with pytest.raises(AnsibleFilterError) as error:
        drift.compare(LIVE, [{"username": "alice", "password": [PASSWORD]}])
    assert PASSWORD not in str(error.value) and "password must be text" in str(error.value)


def test_flag_strings_and_null_desired_list_are_accepted():
    items, passwords = drift.normalize_desired([{"username": " alice ", "allow_video": "yes", "password": PASSWORD}])
    assert items == [{"username": "alice", "state": "present", "endpoint_id": None, "fields": {"allow_video": True}}]
    assert passwords == {"alice": PASSWORD}
    assert drift.normalize_desired(None) == ([], {})


def test_comparing_with_an_empty_account_checks_and_counts_the_desired_list():
    report = drift.compare([], [{"username": "a", "password": PASSWORD}, {"username": "b", "state": "absent"}, {"username": "c"}])
    assert (report["summary"]["desired"], report["summary"]["missing"], report["summary"]["in_sync"]) == (3, 2, 1)
    assert [item["has_password"] for item in report["missing"]] == [True, False]


def test_live_must_be_endpoint_records():
    with pytest.raises(AnsibleFilterError, match="list of endpoint records"):
        drift.compare({"endpoints": []}, [])


def test_filter_options_accept_ansible_style_booleans():
    report = drift.endpoint_drift(LIVE, [{"username": "alice"}], allow_unexpected="false", remove_unexpected="no")
    assert report["summary"]["unexpected"] == 2 and report["actions"] == []
    # Was a TypeError (a traceback) before the twins were merged.
    with pytest.raises(AnsibleFilterError, match="endpoint_drift: allow_unexpected must be true or false, got text 'sometimes'"):
        drift.endpoint_drift(LIVE, [], allow_unexpected="sometimes")


# Rendering -------------------------------------------------------------------------------------

def test_markdown_has_one_row_per_difference_and_escapes_cell_text():
    live = LIVE + [record("100000000000009", "heidi", alias="{{ lookup('pipe', 'id') }} | <b>x</b>\nline2")]
    desired = [{"username": "bob", "alias": "Bob *front*"}, {"username": "dave", "password": PASSWORD}, {"username": "heidi", "state": "absent"}]
    markdown = drift.render_markdown(drift.compare(live, desired, allow_unexpected=True), title="Nightly drift")
    assert markdown.startswith("# Nightly drift\n\n**Drift: 3 differences** (1 missing, 1 unexpected, 1 changed)")
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert rows[0] == "| endpoint | endpoint id | difference | field | wanted | actual |"
    assert rows[1:] == [
        "| dave |  | missing |  | present | absent |",
        "| bob | 100000000000002 | changed | alias | Bob \\*front\\* | Bob desk |",
        "| heidi | 100000000000009 | unexpected |  | absent | present, alias {{ lookup('pipe', 'id') }} \\| &lt;b&gt;x&lt;/b&gt;<br>line2 |",
    ]
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows)  # no cell breaks the table
    assert "2 endpoints on the account are not in the desired list" in markdown
    assert "Off (endpoint_drift_remediate: false); it would run 1 create, 1 update, 1 delete." in markdown
    assert PASSWORD not in markdown


def test_markdown_of_no_drift_and_of_remediation_states():
    report = drift.compare(LIVE, [{"username": name} for name in ("alice", "bob", "carol")])
    assert drift.render_markdown(report).startswith("# Endpoint drift\n\n**No drift.** The account matches the desired list (3 endpoints;")
    assert "Remediation" not in drift.render_markdown(report)
    report = drift.compare(LIVE, [{"username": "alice", "alias": "A"}, {"username": "carol", "allow_apps": False}], allow_unexpected=True)
    checked = drift.render_markdown(dict(report, remediation={"enabled": True, "check_mode": True}))
    assert "Check mode: it would run 1 update; nothing was changed." in checked
    assert "Remediation cannot fix: carol (allow_apps)." in checked
    assert "changed (locked: recreate the endpoint)" in checked
    applied = drift.render_markdown(dict(report, remediation={"enabled": True, "check_mode": False}))
    assert "Applied through vobiz.sip.endpoints: 1 update." in applied


def test_markdown_lists_at_most_max_listed_allowed_endpoints():
    live = [record(str(1000 + index), "user%03d" % index) for index in range(drift.MAX_LISTED + 5)]
    markdown = drift.render_markdown(drift.compare(live, [], allow_unexpected=True))
    assert "user%03d" % (drift.MAX_LISTED - 1) in markdown and "user%03d" % drift.MAX_LISTED not in markdown
    assert "and 5 more (see the JSON report)" in markdown


def test_console_lines_name_each_drifted_endpoint():
    report = compare([{"username": "bob", "alias": "B\nB"}, {"username": "dave"}, {"username": "carol", "allow_apps": False}])
    lines = report["lines"]
    assert lines == drift.report_lines(report)
    assert lines[0].startswith("Drift: 4 differences (1 missing, 1 unexpected, 2 changed)")
    assert "missing dave (cannot be created: no password in the desired item; the API needs one to create an endpoint)" in lines
    assert "changed bob (100000000000002): alias: wanted 'B\\nB', actual 'Bob desk'" in lines
    assert "changed carol (100000000000003): allow_apps: wanted false, actual true (locked: recreate the endpoint)" in lines
    assert "unexpected alice (100000000000001): not in the desired list" in lines
    assert drift.report_lines(report, max_lines=2)[-1] == "... and 2 more (see the report)"


def test_console_lines_escape_control_characters_in_values():
    report = compare([{"username": "bob", "alias": "B\x1b[2JB\tC"}])
    assert "changed bob (100000000000002): alias: wanted 'B\\x1b[2JB\\tC', actual 'Bob desk'" in report["lines"]


def test_reports_write_out_control_characters_from_the_api():
    """ESC and BEL in a username and an alias: the Markdown and the console lines show them as text (\\x1b)."""
    live = LIVE + [record("100000000000009", "esc\x1b[2Juser", alias="desk\x07\x1b[31m\tred\x9b")]
    report = drift.compare(live, [{"username": "alice", "alias": "new\x1b]0;title\x07"}])
    markdown = drift.render_markdown(report, title="Drift\x1b[5m")
    assert not set(markdown) & {"\x1b", "\x07", "\x9b"}
    assert "| esc\\\\x1b\\[2Juser | 100000000000009 | unexpected |  | (not listed) | present, alias desk\\\\x07\\\\x1b\\[31m\tred\\\\x9b |" in markdown
    assert "| alice | 100000000000001 | changed | alias | new\\\\x1b\\]0;title\\\\x07 | alice phone |" in markdown
    assert markdown.startswith("# Drift\\\\x1b\\[5m\n")
    lines = "\n".join(report["lines"])
    assert not set(lines) & {"\x1b", "\x07", "\x9b"}
    assert "unexpected esc\\x1b[2Juser (100000000000009): not in the desired list" in report["lines"]


def test_filter_results_are_marked_unsafe():
    report = drift.endpoint_drift(LIVE, [{"username": "alice", "alias": "{{ 1 + 1 }}"}], allow_unexpected=True)
    wanted = report["changed"][0]["fields"][0]["wanted"]
    assert wanted == "{{ 1 + 1 }}" and _is_unsafe(wanted)


def _is_unsafe(value):
    try:  # ansible-core >= 2.19 tags values; older releases wrap them in AnsibleUnsafeText
        from ansible.template import is_trusted_as_template
        return not is_trusted_as_template(value)
    except ImportError:
        from ansible.utils.unsafe_proxy import AnsibleUnsafe
        return isinstance(value, AnsibleUnsafe)
