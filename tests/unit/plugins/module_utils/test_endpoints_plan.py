# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What vobiz.sip.endpoints plans for each state (pure functions; the module itself runs in
tests/integration/test_endpoints_module.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.diff import PASSWORD_MARKER
from ansible_collections.vobiz.sip.plugins.module_utils.endpoints_plan import (
    REPLACED_DEFAULTS,
    action_report,
    actions_diff,
    as_config,
    check_items,
    check_scope,
    command,
    match_config,
    needs_applications,
    plan,
)
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS, RECORD_KEYS

PASSWORD = "pw-unit-plan-4e1b-secret"
APPS = [{"app_id": "20000000000000001", "app_name": "Front Desk"}, {"app_id": "20000000000000002", "app_name": "Sales"}]
ITEM_KEYS = ("username", "state", "endpoint_id", "password", "alias", "application", "sub_account") + ALLOW_FLAGS


def record(endpoint_id, username, **fields):
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id=endpoint_id, username=username, **fields)
    return base


def item(username, **fields):
    """A config item as AnsibleModule hands it over: every suboption present, None where not given."""
    base = dict.fromkeys(ITEM_KEYS)
    base.update({"username": username, "state": "present"})
    base.update(fields)
    return base


def rich(endpoint_id, username, **fields):
    """A rich record: every flag reported, at the API's create defaults unless given."""
    return record(endpoint_id, username, **dict(REPLACED_DEFAULTS, **fields))


def summary(actions):
    return [(action["action"], action["username"], action["endpoint_id"]) for action in actions]


# merged ----------------------------------------------------------------------------------------------

def test_merged_creates_the_missing_and_updates_only_the_listed_fields():
    live = [rich("1", "alice", alias="Old", application_id="20000000000000001"), rich("2", "bob", alias="Bob")]
    items = [item("alice", alias="New"), item("bob", alias="Bob"), item("carol", password=PASSWORD, alias="Carol", application="Sales")]
    actions, warnings = plan(items, live, "merged", APPS)
    assert summary(actions) == [("update", "alice", "1"), ("create", "carol", None)]
    assert actions[0]["request"] == {"alias": "New"}
    assert actions[1]["request"] == {"username": "carol", "password": PASSWORD, "alias": "Carol",
                                     "application": 20000000000000002, "app_id": 20000000000000002}
    assert warnings == []


def test_merged_with_nothing_to_do_plans_nothing():
    live = [rich("1", "alice", alias="A")]
    assert plan([item("alice", alias="A", allow_voice=True)], live, "merged") == ([], [])


def test_a_username_the_api_rewrote_is_the_same_endpoint():
    live = [rich("1", "alice8391265128", alias="A")]
    actions, _warnings = plan([item("alice", alias="A", password=PASSWORD)], live, "merged")
    assert actions == []


def test_an_exact_username_wins_over_a_rewritten_one_for_another_item():
    live = [record("1", "bob7"), record("2", "bob")]
    matches = match_config([item("bob"), item("bob7")], live, "merged")
    assert [match["endpoint_id"] for match in matches] == ["2", "1"]


def test_several_rewritten_candidates_are_an_error_listing_them_unless_the_alias_tells():
    live = [rich("1", "bob7", alias="Bob seven"), rich("2", "bob8", alias="Bob eight")]
    with pytest.raises(EndpointError) as error:
        plan([item("bob")], live, "merged")
    assert "2 endpoints whose usernames the API may have rewritten from it: 1 (username bob7, alias Bob seven), " \
           "2 (username bob8, alias Bob eight)" in str(error.value)
    assert [match["endpoint_id"] for match in match_config([item("bob", alias="Bob eight")], live, "merged")] == ["2"]


def test_unreported_flags_are_warned_about_not_changed():
    live = [record("1", "alice", alias="A")]  # compact: no flags
    actions, warnings = plan([item("alice", allow_video=True)], live, "merged")
    assert actions == [] and "allow_video" in warnings[0]


def test_every_problem_is_listed_before_anything_is_sent():
    live = [rich("1", "alice", allow_phones=True)]
    items = [item("alice", allow_phones=False), item("newbie", alias="x"), item("ghost", endpoint_id="9")]
    with pytest.raises(EndpointError) as error:
        plan(items, live, "merged")
    message = str(error.value)
    assert message.startswith("3 config items cannot be applied, so nothing was changed")
    assert "allow_phones: wanted false, actual true" in message
    assert "password is required to create endpoint newbie" in message
    assert "endpoint_id 9 (ghost) is not on the account" in message


def test_an_application_name_needs_the_listing_and_an_id_does_not():
    assert needs_applications([item("a", application="Front Desk")]) is True
    assert needs_applications([item("a", application="20000000000000001"), item("b")]) is False
    actions, _warnings = plan([item("a", application="20000000000000002")], [rich("1", "a", application_id="20000000000000001")], "merged")
    assert actions[0]["request"] == {"application": 20000000000000002, "app_id": 20000000000000002}


# replaced and overridden ------------------------------------------------------------------------------

def test_replaced_returns_left_out_flags_to_the_documented_defaults():
    live = [rich("1", "alice", alias="A", allow_video=True, allow_voice=False)]
    actions, _warnings = plan([item("alice")], live, "replaced")
    assert actions[0]["request"] == {"allow_video": False, "allow_voice": True}
    assert "alias" not in actions[0]["request"]  # no fixed default: left as it is


def test_replaced_refuses_a_locked_flag_that_is_not_the_default():
    live = [rich("1", "alice", allow_other_domains=True)]
    with pytest.raises(EndpointError, match="allow_other_domains: wanted false, actual true"):
        plan([item("alice")], live, "replaced")
    assert plan([item("alice", allow_other_domains=True)], live, "replaced") == ([], [])


def test_replaced_takes_the_sub_account_from_the_filters():
    live = [rich("1", "alice", sub_account="SA_LAB0002")]
    assert plan([item("alice")], live, "replaced", scope_sub_account="SA_LAB0002") == ([], [])
    with pytest.raises(EndpointError, match="sub_account: wanted null, actual SA_LAB0002"):
        plan([item("alice")], live, "replaced")


def test_overridden_deletes_every_endpoint_in_scope_the_list_does_not_name():
    live = [rich("1", "alice"), rich("2", "bob"), rich("3", "carol")]
    actions, _warnings = plan([item("bob")], live, "overridden")
    assert summary(actions) == [("delete", "alice", "1"), ("delete", "carol", "3")]


def test_overridden_and_delete_all_need_filters_or_scope_account():
    with pytest.raises(EndpointError, match="set scope: account to mean the whole account"):
        check_scope("overridden", {}, "filters", [item("a")])
    with pytest.raises(EndpointError, match="deleted with an empty config deletes every endpoint in scope"):
        check_scope("deleted", {}, "filters", [])
    check_scope("overridden", {"sub_account": "SA_X"}, "filters", [])
    check_scope("overridden", {}, "account", [])
    check_scope("deleted", {}, "filters", [item("a")])
    with pytest.raises(EndpointError, match="scope: account means every endpoint"):
        check_scope("merged", {"sub_account": "SA_X"}, "account", [])


# deleted -----------------------------------------------------------------------------------------------

def test_deleted_by_exact_username_or_endpoint_id_and_missing_is_nothing():
    live = [record("1", "alice"), record("2", "bob8391")]
    actions, _warnings = plan([item("alice"), item("bob", endpoint_id="2"), item("nobody")], live, "deleted")
    assert summary(actions) == [("delete", "alice", "1"), ("delete", "bob", "2")]


def test_a_delete_never_rests_on_a_guess():
    live = [record("1", "bob7", alias="Bob seven")]
    with pytest.raises(EndpointError) as error:
        plan([item("bob")], live, "deleted")
    message = str(error.value)
    assert message.startswith("a config item cannot be matched, so nothing was changed: desired endpoint bob:")
    assert "refusing to delete on a guess" in message and "1 (username bob7, alias Bob seven)" in message
    actions, _warnings = plan([item("bob", alias="Bob seven")], live, "deleted")
    assert summary(actions) == [("delete", "bob", "1")]


def test_an_item_with_state_absent_is_a_delete_in_any_state():
    live = [record("1", "alice"), record("2", "bob")]
    actions, _warnings = plan([item("alice", state="absent"), item("bob")], live, "merged")
    assert summary(actions) == [("delete", "alice", "1")]


def test_a_pinned_delete_with_another_username_is_refused():
    with pytest.raises(EndpointError, match="has username alice, not bob; refusing to delete it"):
        match_config([item("bob", endpoint_id="1", state="absent")], [record("1", "alice")], "merged")
    with pytest.raises(EndpointError, match="has username alice, not bob; refusing to delete it"):
        match_config([item("bob", endpoint_id="1")], [record("1", "alice")], "deleted")


def test_delete_all_in_scope():
    live = [record("1", "alice"), record("2", "bob")]
    actions, _warnings = plan([], live, "deleted")
    assert summary(actions) == [("delete", "alice", "1"), ("delete", "bob", "2")]


# config ------------------------------------------------------------------------------------------------

def test_each_endpoint_is_named_once():
    with pytest.raises(EndpointError, match="config items #1 and #3 have the same username a"):
        check_items([item("a"), item("b"), item("a")])
    with pytest.raises(EndpointError, match="the same endpoint_id 7"):
        check_items([item("a", endpoint_id="7"), item("b", endpoint_id="7")])


def test_gathered_items_plan_nothing_in_any_state():
    live = [rich("1", "alice", alias="A", application_id="20000000000000001", application_name="Front Desk"),
            rich("2", "bob9", sub_account="SA_LAB0002", allow_apps=False), record("3", "carol", alias=None)]
    config = [dict(item(entry["username"]), **{key: value for key, value in entry.items() if key != "username"})
              for entry in (as_config(live_record) for live_record in live)]
    assert as_config(live[0]) == dict({"username": "alice", "alias": "A", "application": "20000000000000001"}, **REPLACED_DEFAULTS)
    assert as_config(live[2]) == {"username": "carol"}
    assert plan(config, live, "merged") == ([], [])
    actions, warnings = plan(config, live, "replaced")
    assert actions == [] and len(warnings) == 1 and "endpoint 3 (carol)" in warnings[0]  # compact: flags unverifiable


# what the result shows -------------------------------------------------------------------------------

def test_commands_report_and_diff_never_show_the_password():
    live = [rich("1", "alice", alias="Old")]
    actions, _warnings = plan([item("alice", alias="New"), item("carol", password=PASSWORD, alias="C")], live, "merged")
    shown = {"commands": [command(action) for action in actions], "actions": [action_report(action, "planned") for action in actions],
             "diff": actions_diff(actions)}
    assert PASSWORD not in json.dumps(shown)
    assert shown["commands"] == ["POST Endpoint/1/ (update alice: alias)", "POST Endpoint/ (create carol: alias, username)"]
    assert shown["actions"][0] == {"action": "update", "username": "alice", "endpoint_id": "1", "fields": ["alias"], "outcome": "planned"}
    assert shown["diff"]["before"]["alice (1)"]["alias"] == "Old" and shown["diff"]["after"]["alice (1)"]["alias"] == "New"
    assert shown["diff"]["after"]["carol (new)"]["password"] == PASSWORD_MARKER and "carol (new)" not in shown["diff"]["before"]
    failed = action_report(actions[0], "failed", "boom")
    assert failed["outcome"] == "failed" and failed["error"] == "boom"
