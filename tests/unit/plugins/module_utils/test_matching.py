# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""matching.py: which live endpoint a task or a desired item means."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils import matching
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.matching import match_endpoint, match_endpoints, username_match
from ansible_collections.vobiz.sip.tests.unit.records import endpoint_record as record


@pytest.mark.parametrize("actual, expected", [
    ("bob", "exact"), ("bob839126617620", "rewritten"), ("bob7", "rewritten"),
    ("bobby", None), ("bob_7", None), ("bo", None), (None, None), ("Bob", None),
])
def test_username_match(actual, expected):
    assert username_match("bob", actual) == expected


def test_exact_username_wins_over_rewritten_ones():
    records = [record("1", username="bob123"), record("2", username="bob"), record("3", username="bob456")]
    assert match_endpoint(records, "bob")["endpoint_id"] == "2"


def test_single_rewritten_username_is_found():
    records = [record("1", username="bobby"), record("2", username="bob839126617620", alias="Desk")]
    assert match_endpoint(records, "bob")["endpoint_id"] == "2"
    assert match_endpoint(records, "bob", alias="Another alias")["endpoint_id"] == "2"  # alias only breaks ties


def test_alias_picks_among_rewritten_usernames():
    records = [record("1", username="bob111", alias="Desk"), record("2", username="bob222", alias="Lobby")]
    assert match_endpoint(records, "bob", alias="Lobby")["endpoint_id"] == "2"


@pytest.mark.parametrize("alias", [None, "Kitchen", "Desk"])
def test_ambiguous_rewritten_usernames_list_the_candidates(alias):
    records = [record("1", username="bob111", alias="Desk"), record("2", username="bob222", alias="Desk")]
    with pytest.raises(EndpointError) as error:
        match_endpoint(records, "bob", alias=alias)
    message = str(error.value)
    assert "1 (username bob111, alias Desk)" in message and "2 (username bob222, alias Desk)" in message
    assert "endpoint_id" in message


def test_no_match_means_none():
    assert match_endpoint([record("1", username="bobby"), record("2", username="alice")], "bob") is None
    assert match_endpoint([], "bob") is None


# Many desired endpoints at once ------------------------------------------------------------------

def wanted(username, endpoint_id=None, alias=None):
    return {"username": username, "endpoint_id": endpoint_id, "alias": alias}


def test_each_live_endpoint_answers_one_item_exact_names_first():
    live = [record("1", username="bob"), record("2", username="bob7"), record("3", username="carol12")]
    matches = match_endpoints([wanted("bob7x"), wanted("bob"), wanted("bob7"), wanted("carol1"), wanted("carol")], live)
    assert {name: found["endpoint_id"] for name, found in matches.items()} == {"bob": "1", "bob7": "2", "carol1": "3"}


def test_an_endpoint_id_pins_its_item_and_takes_the_endpoint_from_the_others():
    live = [record("1", username="bob"), record("2", username="bob5")]
    matches = match_endpoints([wanted("bob"), wanted("robert", endpoint_id="1")], live)
    assert matches["robert"]["endpoint_id"] == "1" and matches["bob"]["endpoint_id"] == "2"
    assert match_endpoints([wanted("bob", endpoint_id="9")], live) == {}


def test_an_ambiguous_item_is_named_in_the_error():
    live = [record("1", username="eve111", alias="A"), record("2", username="eve222", alias="B")]
    with pytest.raises(EndpointError, match="desired endpoint eve: .*eve111.*eve222"):
        match_endpoints([wanted("eve")], live)
    assert match_endpoints([wanted("eve", alias="B")], live)["eve"]["endpoint_id"] == "2"


def test_matching_thousands_of_items_is_linear(monkeypatch):
    live = [record(str(index), username="user%05d" % index) for index in range(20000)]
    items = [wanted("user%05d" % index) for index in range(0, 20000, 2)] + [wanted("new%05d" % index) for index in range(5000)]
    calls = []
    monkeypatch.setattr(matching, "username_match", lambda *args: calls.append(args) or username_match(*args))
    matches = match_endpoints(items, live)
    assert len(matches) == 10000
    assert len(calls) < 20000  # no comparison of every item with every endpoint (that would be 300 million)


# Deletes never rest on a guess ------------------------------------------------------------------

BOB7 = record("7", username="bob7", alias="Bob")


def test_a_delete_takes_the_exact_username_or_the_endpoint_id():
    live = [record("1", username="bob"), BOB7]
    assert match_endpoint(live, "bob", deleting=True)["endpoint_id"] == "1"
    assert match_endpoint(live, "bob", endpoint_id="7", deleting=True)["endpoint_id"] == "7"  # bob7 is rewritten from bob
    assert match_endpoint(live, "bob", endpoint_id="9", deleting=True) is None


def test_a_delete_by_endpoint_id_needs_the_username_of_that_endpoint():
    with pytest.raises(EndpointError, match="endpoint 7 has username bob7, not alice; refusing to delete it"):
        match_endpoint([BOB7], "alice", endpoint_id="7", deleting=True)
    assert match_endpoint([BOB7], "alice", endpoint_id="7")["endpoint_id"] == "7"  # present: the locked-field check speaks


def test_bob_absent_never_deletes_bob7_on_a_guess():
    assert match_endpoint([BOB7], "bob")["endpoint_id"] == "7"  # present/update keeps the rewritten-username rule
    with pytest.raises(EndpointError) as error:
        match_endpoint([BOB7], "bob", deleting=True)
    message = str(error.value)
    assert message.startswith("no endpoint has username 'bob' exactly, and 1 endpoint has a username the API may have "
                              "rewritten from it, and no alias was given to confirm one; refusing to delete on a guess")
    assert "Candidates: 7 (username bob7, alias Bob)" in message and "Set endpoint_id" in message


@pytest.mark.parametrize("alias, words", [("Other", "none with alias 'Other'"), ("Desk", "2 of them with alias 'Desk'")])
def test_an_alias_that_does_not_single_one_out_deletes_nothing(alias, words):
    live = [record("7", username="bob7", alias="Desk"), record("8", username="bob8", alias="Desk")]
    with pytest.raises(EndpointError, match="2 endpoints have a username the API may have rewritten from it, %s; refusing" % words):
        match_endpoint(live, "bob", alias=alias, deleting=True)


def test_the_alias_confirms_a_rewritten_username_for_a_delete():
    live = [BOB7, record("8", username="bob8", alias="Lobby")]
    assert match_endpoint(live, "bob", alias="Bob", deleting=True)["endpoint_id"] == "7"
    assert match_endpoint([], "bob", deleting=True) is None  # nothing to delete: no error


def test_items_listed_absent_match_as_deletes():
    live = [BOB7, record("1", username="carol")]
    with pytest.raises(EndpointError, match="desired endpoint bob: no endpoint has username 'bob' exactly.*Candidates: 7"):
        match_endpoints([dict(wanted("bob"), state="absent")], live)
    assert match_endpoints([dict(wanted("bob", alias="Bob"), state="absent")], live)["bob"]["endpoint_id"] == "7"
    assert match_endpoints([dict(wanted("bob"), state="present")], live)["bob"]["endpoint_id"] == "7"
    with pytest.raises(EndpointError, match="desired endpoint dave: endpoint 1 has username carol, not dave; refusing"):
        match_endpoints([dict(wanted("dave", endpoint_id="1"), state="absent")], live)
