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
