# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source vobiz.sip.endpoint_events: its diffing (hypothesis over random listings), its arguments,
and its polling loop against the simulator (failed rounds emit nothing; no replay on restart)."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import importlib.util
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.endpoint_events import (
    ARGUMENTS,
    COMPARED_FIELDS,
    EVENT_TYPES,
    VOLATILE_FIELDS,
    diff_listings,
    index_listing,
    initial_events,
    retry_delay,
    source_settings,
)
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS
from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT, collections_root
from ansible_collections.vobiz.sip.tests.harness import hang_guard, run_bounded
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "vobiz-sip-hypothesis"))
SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE = os.path.join(REPO_ROOT, "extensions", "eda", "plugins", "event_source", "endpoint_events.py")
ACCOUNT = "MA_UNIT0001"
STAMP = "2026-12-02T16:00:00+00:00"
TOKEN = "unit-events-token-not-secret"

# Few ids and few values per field, so before/after listings share endpoints and fields often collide.
ids = st.sampled_from(["100000000000001", "100000000000002", "100000000000003", "100000000000004", "100000000000005"])
field_values = {key: st.sampled_from([None, "a", "b"]) for key in RECORD_KEYS}
field_values.update(sip_registered=st.sampled_from([None, False, True]), allow_voice=st.sampled_from([None, False, True]))


@st.composite
def records(draw, endpoint_id):
    return {key: endpoint_id if key == "endpoint_id" else draw(field_values[key]) for key in RECORD_KEYS}


@st.composite
def listings(draw):
    chosen = draw(st.lists(ids, unique=True, max_size=5))
    return {endpoint_id: draw(records(endpoint_id)) for endpoint_id in chosen}


@st.composite
def before_after(draw):
    """Two listings where the second is often the first with a few fields changed."""
    before = draw(listings())
    after = {}
    for endpoint_id, record in before.items():
        if draw(st.booleans()):
            changed = dict(record)
            for key in draw(st.lists(st.sampled_from(RECORD_KEYS[1:]), max_size=3)):
                changed[key] = draw(field_values[key])
            after[endpoint_id] = changed
    after.update((endpoint_id, record) for endpoint_id, record in draw(listings()).items() if endpoint_id not in before)
    return before, after


def events_of(events, endpoint_id):
    return [event["vobiz"] for event in events if event["vobiz"]["endpoint_id"] == endpoint_id]


@SETTINGS
@given(before_after())
def test_every_difference_gives_exactly_one_event_of_its_type(pair):
    before, after = pair
    frozen = copy.deepcopy(pair)
    events = diff_listings(ACCOUNT, before, after, STAMP)
    assert (before, after) == frozen  # pure: the listings are not touched
    expected_count = 0
    for endpoint_id in set(before) | set(after):
        found = events_of(events, endpoint_id)
        old, new = before.get(endpoint_id), after.get(endpoint_id)
        if old is None:
            assert [event["type"] for event in found] == ["created"]
            assert found[0]["endpoint"] == new and found[0]["previous"] is None
        elif new is None:
            assert [event["type"] for event in found] == ["deleted"]
            assert found[0]["endpoint"] == old == found[0]["previous"]
        else:
            registration = None
            if old["sip_registered"] != new["sip_registered"] and True in (old["sip_registered"], new["sip_registered"]):
                registration = "registered" if new["sip_registered"] is True else "unregistered"
            differing = [key for key in COMPARED_FIELDS if old[key] != new[key] and not (registration and key == "sip_registered")]
            expected = ([registration] if registration else []) + (["changed"] if differing else [])
            assert [event["type"] for event in found] == expected
            for event in found:
                assert event["endpoint"] == new and event["previous"] == old
                assert event["changed"] == (differing if event["type"] == "changed" else ["sip_registered"])
                assert not VOLATILE_FIELDS & set(event["changed"])
        expected_count += len(found)
        for event in found:
            assert event["account"] == ACCOUNT and event["timestamp"] == STAMP and event["initial"] is False
    assert len(events) == expected_count


@SETTINGS
@given(before_after())
def test_applying_the_events_to_the_old_listing_gives_the_new_one(pair):
    before, after = pair
    state = copy.deepcopy(before)
    for event in diff_listings(ACCOUNT, before, after, STAMP):
        event = event["vobiz"]
        if event["type"] == "deleted":
            del state[event["endpoint_id"]]
        else:
            state[event["endpoint_id"]] = event["endpoint"]
    compared = ("endpoint_id",) + COMPARED_FIELDS
    assert {key: {field: record[field] for field in compared} for key, record in state.items()} == \
        {key: {field: record[field] for field in compared} for key, record in after.items()}


@SETTINGS
@given(before_after(), st.sets(st.sampled_from(EVENT_TYPES), min_size=1))
def test_events_keeps_only_the_kinds_asked_for(pair, kinds):
    everything = diff_listings(ACCOUNT, *pair, STAMP)
    assert diff_listings(ACCOUNT, *pair, STAMP, kinds=tuple(kinds)) == [event for event in everything if event["vobiz"]["type"] in kinds]


@SETTINGS
@given(listings())
def test_the_same_listing_twice_gives_no_event(listing):
    assert diff_listings(ACCOUNT, listing, copy.deepcopy(listing), STAMP) == []


def test_registration_renewal_is_no_event():
    old = dict.fromkeys(RECORD_KEYS, None)
    old.update(endpoint_id="1", username="alice", sip_registered=True, sip_expires="2026-12-02T16:00:00Z",
               sip_contact="sip:alice@198.51.100.7", updated_at="2026-12-02T15:00:00Z")
    renewed = dict(old, sip_expires="2026-12-02T16:05:00Z", sip_contact="sip:alice@198.51.100.8", updated_at="2026-12-02T16:00:00Z")
    assert diff_listings(ACCOUNT, {"1": old}, {"1": renewed}, STAMP) == []
    dropped = dict(renewed, sip_registered=False, sip_expires=None, sip_contact=None)
    assert [event["vobiz"]["type"] for event in diff_listings(ACCOUNT, {"1": renewed}, {"1": dropped}, STAMP)] == ["unregistered"]


def test_initial_state_is_created_events_marked_initial():
    listing = {"1": dict.fromkeys(RECORD_KEYS, None) | {"endpoint_id": "1"}}
    events = initial_events(ACCOUNT, listing, STAMP)
    assert [(event["vobiz"]["type"], event["vobiz"]["initial"]) for event in events] == [("created", True)]
    assert initial_events(ACCOUNT, listing, STAMP, kinds=("deleted",)) == []


def test_a_repeated_endpoint_id_makes_the_listing_inconsistent():
    with pytest.raises(VobizError, match="endpoint 7 twice"):
        index_listing([{"endpoint_id": "7"}, {"endpoint_id": "7"}])


# Arguments ---------------------------------------------------------------------------------------

def test_arguments_come_from_the_environment_with_the_modules_names():
    environ = {"VOBIZ_AUTH_ID": "MA_ENV", "VOBIZ_AUTH_TOKEN": TOKEN, "VOBIZ_API_URL": "http://127.0.0.1:1",
               "VOBIZ_VALIDATE_CERTS": "false", "VOBIZ_LISTING_TIMEOUT": "90"}
    found = source_settings({"eda_feedback_queue": object()}, environ)
    assert found["listing_timeout"] == "90"  # checked as a whole number by the client, as for the modules
    assert source_settings({}, {})["listing_timeout"] == 600
    assert (found["auth_id"], found["auth_token"], found["api_url"], found["validate_certs"]) == \
        ("MA_ENV", TOKEN, "http://127.0.0.1:1", False)
    assert (found["interval"], found["events"], found["initial_state"], found["filters"]) == (60, EVENT_TYPES, False, {})
    assert source_settings({"auth_id": "MA_ARG", "interval": "2.5", "events": "deleted"}, environ)["auth_id"] == "MA_ARG"
    assert set(ARGUMENTS) >= {"auth_id", "auth_token", "api_url", "validate_certs", "filters", "interval", "events", "initial_state",
                              "listing_timeout"}


@pytest.mark.parametrize("args, message", [
    ({"intervall": 5}, r"unknown argument intervall \(did you mean interval\?\); valid arguments: auth_id"),
    ({"bogus": 1, "filter": {}}, r"unknown arguments bogus, filter \(did you mean filters\?\)"),
    ({"filters": {"name": "x"}}, r"unknown filter key name in filters"),
    ({"events": ["unregistered", "gone"]}, r"unknown event type gone in events; the types are: registered"),
    ({"events": []}, r"events must be a non-empty list"),
    ({"interval": 0.2}, r"interval must be a number of seconds, at least 1"),
    ({"interval": "soon"}, r"interval must be a number of seconds"),
    ({"interval": "nan"}, r"interval must be a number of seconds"),
    ({"interval": float("inf")}, r"interval must be a number of seconds"),
    ({"initial_state": "maybe"}, r"initial_state must be true or false"),
    ({"validate_certs": "perhaps"}, r"validate_certs must be true or false"),
])
def test_bad_arguments_are_one_clear_error(args, message):
    with pytest.raises(VobizError, match=message):
        source_settings(args, {})


def test_backoff_doubles_up_to_a_ceiling():
    assert [retry_delay(1, failures) for failures in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(10, 10) == 300
    assert retry_delay(600, 3) == 600


# The polling loop against the simulator ------------------------------------------------------------

class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def load_source():
    """The source file as a module (runpy.run_path, which ansible-rulebook uses, would meet the collection
    loader's path hook here)."""
    spec = importlib.util.spec_from_file_location("vobiz_endpoint_events_source", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _poll(sim, args, steps):
    """Run the source's main(); each step is (callback(sim) or None, listings to wait for); returns the events."""
    queue = asyncio.Queue()
    task = asyncio.create_task(load_source().main(queue, dict({"auth_id": sim.auth_id, "auth_token": TOKEN, "api_url": sim.url,
                                                               "interval": 1, "retries": 0}, **args)))
    try:
        for callback, listings_to_wait in steps:
            if callback:
                callback(sim)
            target = _listings(sim) + listings_to_wait
            async with asyncio.timeout(hang_guard(5)):  # a few listings of one second each
                while _listings(sim) < target:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    events = []
    while not queue.empty():
        events.append(queue.get_nowait()["vobiz"])
    return events


def _listings(sim):
    """Endpoint list requests that were answered with page 0 (one per listing attempt)."""
    return sum(1 for request in sim.requests if request["path"].endswith("/Endpoint/") and request["query"].get("offset") == "0")


def _sample():
    data = {"auth_id": ACCOUNT, "auth_token": TOKEN, "applications": [], "sub_accounts": [],
            "endpoints": [{"username": "phone%03d" % number, "sip_registered": number % 2 == 0} for number in range(150)]}
    return Simulator(data)


def test_failed_rounds_emit_nothing_and_a_real_delete_is_reported_once(caplog):
    recorder = _Recorder()
    logging.getLogger().addHandler(recorder)
    try:
        with _sample() as sim:
            victim = sim.endpoints[7]["endpoint_id"]

            def break_and_delete(simulator):
                simulator.configure(faults=[{"kind": "503", "times": 2, "method": "GET"}])
                with simulator._lock:  # pylint: disable=protected-access
                    del simulator._api.account.endpoints[victim]  # pylint: disable=protected-access

            events = asyncio.run(_poll(sim, {}, [(None, 2), (break_and_delete, 4)]))
            assert sum(1 for request in sim.requests if request["status"] == 503) == 2
    finally:
        logging.getLogger().removeHandler(recorder)
    assert [(event["type"], event["endpoint_id"]) for event in events] == [("deleted", victim)]
    failures = [line for line in recorder.lines if "no events this round" in line]
    assert len(failures) == 2 and all("HTTP 503" in line for line in failures)
    assert any("works again after 2 failed tries" in line for line in recorder.lines)
    assert not any(TOKEN in line for line in recorder.lines + [record.getMessage() for record in caplog.records])


def test_no_replay_on_start_unless_initial_state():
    with _sample() as sim:
        assert asyncio.run(_poll(sim, {}, [(None, 2)])) == []
        events = asyncio.run(_poll(sim, {"initial_state": True, "events": ["created", "unregistered"]}, [(None, 2)]))
    assert len(events) == 150 and {(event["type"], event["initial"]) for event in events} == {("created", True)}


def test_registration_flip_is_one_event():
    with _sample() as sim:
        target = sim.endpoints[4]
        assert target["sip_registered"] is True

        def drop(simulator):
            simulator.set_endpoint_fields(target["endpoint_id"], sip_registered=False, sip_contact=None, sip_expires=None)

        events = asyncio.run(_poll(sim, {"events": ["unregistered", "registered"]}, [(None, 2), (drop, 3)]))
    assert [(event["type"], event["endpoint"]["username"], event["previous"]["sip_registered"]) for event in events] == \
        [("unregistered", target["username"], True)]


def test_the_source_code_imports_without_ansible_core(tmp_path):
    """ansible-rulebook needs no ansible-core, so what the event source imports must not need it either."""
    script = tmp_path / "no_ansible.py"
    script.write_text(
        "import sys\n"
        "class NoAnsible:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ansible' or name.startswith('ansible.'):\n"
        "            raise ImportError('ansible-core is not installed here: ' + name)\n"
        "sys.meta_path.insert(0, NoAnsible())\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import ansible_collections.vobiz.sip.plugins.module_utils.endpoint_events as events\n"
        "import ansible_collections.vobiz.sip.plugins.module_utils.api as api\n"
        "assert events.source_settings({'auth_id': 'MA_X', 'auth_token': 't', 'validate_certs': 'no'}, {})['validate_certs'] is False\n"
        "print('ok', api.VobizClient.__name__)\n", encoding="utf-8")
    completed = run_bounded([sys.executable, str(script), collections_root()], hang_guard(5))
    assert completed.returncode == 0 and completed.stdout.strip() == "ok VobizClient", completed.stderr
