# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client against the simulator on 127.0.0.1: paging, retries, errors, consistency."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils import transport
from ansible_collections.vobiz.sip.plugins.module_utils.api import (
    ENDPOINT_FILTERS,
    VobizClient,
    VobizError,
    validate_filters,
)
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

AUTH_ID = "MA_TEST0001"
TOKEN = "tok-7f3a9c1e-very-secret"
APPS = [
    {"app_id": "20000000000000001", "app_name": "Front Desk"},
    {"app_id": "20000000000000002", "app_name": "Sales Floor"},
]


def make_data(count):
    endpoints = []
    for index in range(count):
        endpoints.append({
            "endpoint_id": str(100000000000000 + index),
            "username": "user%05d" % index,
            "alias": "Phone %d" % index,
            "app_id": APPS[index % 3]["app_id"] if index % 3 < 2 else None,
            "sub_account": "SA_BRANCH01" if index % 5 == 0 else None,
            "sip_registered": index % 2 == 0,
        })
    return {
        "auth_id": AUTH_ID,
        "auth_token": TOKEN,
        "applications": APPS,
        "sub_accounts": [{"auth_id": "SA_BRANCH01", "name": "Branch 01", "id": "5001"}],
        "endpoints": endpoints,
    }


@pytest.fixture
def sim():
    with Simulator(make_data(250)) as simulator:
        yield simulator


def client(sim, **options):
    options.setdefault("backoff_base", 0.01)
    return VobizClient(AUTH_ID, options.pop("auth_token", TOKEN), api_url=sim.url, **options)


def list_requests(sim):
    return [request for request in sim.requests if request["path"].endswith("/Endpoint/")]


def test_lists_every_endpoint_once_in_api_order(sim):
    records = client(sim, page_size=40).list_endpoints()
    assert [record["endpoint_id"] for record in records] == [str(100000000000000 + i) for i in range(250)]
    # Pages overlap by one record (stride 39): offsets 0, 39, ..., 234, the last page ending the list.
    assert len(list_requests(sim)) == 7
    assert all(int(request["query"]["limit"]) == 40 for request in list_requests(sim))
    assert sorted(int(request["query"]["offset"]) for request in list_requests(sim)) == list(range(0, 249, 39))


def test_sends_auth_headers_and_never_follows_next(sim):
    client(sim, page_size=100).list_endpoints()
    paths = {request["path"] for request in sim.requests}
    assert paths == {"/api/v1/Account/%s/Endpoint/" % AUTH_ID}


def test_pages_after_the_first_are_fetched_concurrently_up_to_max_concurrency(sim):
    # A latency long enough that the four requests overlap even when a loaded machine starts threads slowly.
    sim.configure(latency_ms=300)
    client(sim, page_size=10, max_concurrency=4).list_endpoints()
    pages = list_requests(sim)
    assert len(pages) == 28  # stride 9: offsets 0, 9, ..., 243
    first = min(pages, key=lambda request: request["started"])
    assert first["query"]["offset"] == "0"
    later = [request for request in pages if request is not first]
    # Nothing else starts before the first page (which tells total_count) has finished.
    assert all(request["started"] >= first["finished"] for request in later)
    in_flight_at_each_start = [sum(1 for other in later if other["started"] <= request["started"] < other["finished"])
                               for request in later]
    assert max(in_flight_at_each_start) == 4


def test_max_concurrency_one_pages_sequentially(sim):
    sim.configure(latency_ms=20)
    client(sim, page_size=50, max_concurrency=1).list_endpoints()
    pages = sorted(list_requests(sim), key=lambda request: request["started"])
    assert all(later["started"] >= earlier["finished"] for earlier, later in zip(pages, pages[1:]))


@pytest.mark.parametrize("option, value", [("page_size", 0), ("page_size", 101), ("max_concurrency", 0),
                                           ("max_concurrency", 33), ("timeout", "soon"), ("retries", -1)])
def test_option_bounds(sim, option, value):
    with pytest.raises(VobizError, match=option):
        client(sim, **{option: value})


def test_filters_are_sent_to_the_server(sim):
    records = client(sim).list_endpoints({"username__startswith": "user0001", "application_id__isnull": False})
    assert {record["username"] for record in records} == {"user%05d" % i for i in range(10, 20) if i % 3 < 2}
    assert list_requests(sim)[0]["query"]["username__startswith"] == "user0001"
    assert list_requests(sim)[0]["query"]["application_id__isnull"] == "false"


def test_unknown_filter_key_lists_the_valid_ones():
    with pytest.raises(VobizError) as error:
        validate_filters({"usename__exact": "x"})
    assert "usename__exact" in str(error.value)
    assert all(key in str(error.value) for key in ENDPOINT_FILTERS)


@pytest.mark.parametrize("value, kind", [(["desk", "zoe"], "list"), ({"a": 1}, "mapping"), (None, "null"), (("a",), "list")])
@pytest.mark.parametrize("option", ["filters", "include_filters[0]"])
def test_a_filter_value_that_is_not_a_single_value_is_an_error_naming_the_key_and_the_type(value, kind, option):
    """A list would be sent as the text "['desk', 'zoe']": an empty listing, or the whole account, with exit 0."""
    with pytest.raises(VobizError) as error:
        validate_filters({"alias__exact": "x", "username__startswith": value}, option=option)
    assert str(error.value) == "%s.username__startswith must be a single value (text, number or boolean), got %s" % (option, kind)


def test_a_list_filter_value_fails_the_listing_before_any_request(sim):
    with pytest.raises(VobizError, match=r"^filters\.username__startswith must be a single value .*, got list$"):
        client(sim).list_endpoints({"username__startswith": ["desk", "zoe"]})
    assert not list_requests(sim)


def test_single_filter_values_are_query_text():
    assert validate_filters({"username__exact": "desk", "sub_account": 12, "application_id__isnull": True,
                             "alias__contains": 1.5}) == {"username__exact": "desk", "sub_account": "12",
                                                          "application_id__isnull": "true", "alias__contains": "1.5"}


@pytest.mark.parametrize("shape", ["compact", "rich", "mixed"])
@pytest.mark.parametrize("nulls", ["present", "omit"])
def test_both_shapes_normalise_to_the_same_records(sim, shape, nulls):
    sim.configure(shape=shape, nulls=nulls)
    records = client(sim).list_endpoints(resolve_applications=True)
    assert len(records) == 250
    assert records[0]["application_name"] == "Front Desk" and records[1]["application_name"] == "Sales Floor"
    assert records[2]["application_id"] is None and records[2]["application_name"] is None
    assert records[0]["sip_registered"] is True and records[1]["sip_registered"] is False
    assert records[0]["sub_account"] == "SA_BRANCH01" and records[1]["sub_account"] is None
    if shape == "rich":
        assert records[0]["allow_voice"] is True and records[0]["created_at"]


def test_resolve_applications_lists_applications_once(sim):
    client(sim, page_size=100).list_endpoints(resolve_applications=True)
    assert sum(1 for request in sim.requests if request["path"].endswith("/Application/")) == 1


def test_get_endpoint_and_unknown_id(sim):
    api = client(sim)
    assert api.get_endpoint("100000000000003")["username"] == "user00003"
    assert api.get_endpoint("999999999999999") is None


@pytest.mark.parametrize("style", ["flat", "nested", "text"])
def test_401_names_the_fix_and_never_the_token(sim, style):
    sim.configure(error_style=style)
    with pytest.raises(VobizError) as error:
        client(sim, auth_token="wrong-" + TOKEN).list_endpoints()
    message = str(error.value)
    assert "HTTP 401" in message and "VOBIZ_AUTH_TOKEN" in message and "/Endpoint/" in message
    assert TOKEN not in message
    assert error.value.status == 401
    assert len(sim.requests) == 1  # a 401 is not retried


def test_404_body_text_reaches_the_message(sim):
    with pytest.raises(VobizError, match=r"HTTP 404.*Endpoint not found"):
        client(sim).request("GET", "Endpoint/999999999999999/")


def test_400_details_reach_the_message(sim):
    with pytest.raises(VobizError) as error:
        client(sim).create_endpoint({"username": "bad name!", "password": "short"})
    assert "HTTP 400" in str(error.value) and "password" in str(error.value)


def test_429_with_retry_after_is_honoured(sim):
    sim.configure(faults=[{"kind": "429", "times": 2, "retry_after": "1"}])
    api = client(sim, page_size=100)
    records = api.list_endpoints()
    assert len(records) == 250
    first, second, third = sim.requests[:3]
    assert second["started"] - first["finished"] >= 0.9
    assert third["started"] - second["finished"] >= 0.9
    assert api.stats["retries"] == 2


def test_429_without_retry_after_backs_off_and_succeeds(sim):
    sim.configure(faults=[{"kind": "429", "times": 3}])
    api = client(sim, page_size=100)
    assert len(api.list_endpoints()) == 250
    assert api.stats["retries"] == 3


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_5xx_then_success(sim, status):
    sim.configure(faults=[{"kind": status, "times": 2, "path_contains": "offset=99"}])
    assert len(client(sim, page_size=100).list_endpoints()) == 250
    assert sum(1 for request in list_requests(sim) if request["query"]["offset"] == "99") == 3


def test_retries_exhausted_gives_one_clear_error(sim):
    sim.configure(faults=[{"kind": "503", "times": 50}])
    with pytest.raises(VobizError) as error:
        client(sim, retries=2).list_endpoints()
    assert "HTTP 503" in str(error.value) and "after 3 tries" in str(error.value) and "retries" in str(error.value)
    assert len(sim.requests) == 3


def test_timeout_is_retried_then_reported(sim):
    # timeout=3: well above what a page takes on a loaded machine, so that only the slowed request times out.
    sim.configure(faults=[{"kind": "slow", "times": 1, "delay_s": 5}])
    assert len(client(sim, timeout=3, page_size=100).list_endpoints()) == 250
    sim.reset_requests()
    sim.configure(faults=[{"kind": "slow", "times": 10, "delay_s": 5}])
    with pytest.raises(VobizError, match=r"no answer within timeout=3s.*Raise timeout"):
        client(sim, timeout=3, retries=1).list_endpoints()


def test_connection_refused_is_clear():
    api = VobizClient(AUTH_ID, TOKEN, api_url="http://127.0.0.1:9", retries=1, backoff_base=0.01)
    with pytest.raises(VobizError, match=r"cannot connect to http://127.0.0.1:9.*api_url"):
        api.list_endpoints()


def test_malformed_reply_is_retried_then_reported(sim):
    sim.configure(faults=[{"kind": "truncated", "times": 1}])
    assert len(client(sim, page_size=100).list_endpoints()) == 250
    sim.configure(faults=[{"kind": "nonjson200", "times": 10}])
    with pytest.raises(VobizError, match="malformed reply"):
        client(sim, retries=2).list_endpoints()


def test_records_added_and_removed_while_paging_come_out_exactly_once(sim):
    before = {record["endpoint_id"] for record in client(sim).list_endpoints()}
    sim.reset_requests()
    sim.configure(page_mutations=[{"after_list_requests": 1, "add": 7, "remove": 5, "where": "start"}])
    records = client(sim, page_size=25, max_concurrency=2).list_endpoints()
    ids = [record["endpoint_id"] for record in records]
    assert len(ids) == len(set(ids))
    after = {endpoint["endpoint_id"] for endpoint in sim.endpoints}
    assert set(ids) == after  # the walk after the change is consistent
    assert before & after <= set(ids)  # every endpoint present throughout is there


def test_lying_total_count_ends_with_an_error_instead_of_looping(sim):
    sim.configure(total_count_extra=30)
    with pytest.raises(VobizError, match="total_count 280 but served 250"):
        client(sim, page_size=100).list_endpoints()
    assert len(list_requests(sim)) <= 4 * 3


def test_create_update_delete(sim):
    api = client(sim)
    created = api.create_endpoint({"username": "newphone", "password": "s3cretpass", "alias": "New", "app_id": 20000000000000002})
    endpoint_id = created["endpoint_id"]
    api.update_endpoint(endpoint_id, {"alias": "Renamed"})
    assert api.get_endpoint(endpoint_id, resolve_applications=True)["alias"] == "Renamed"
    assert api.delete_endpoint(endpoint_id) is True
    assert api.delete_endpoint(endpoint_id) is False


def test_create_is_not_retried_on_5xx(sim):
    sim.configure(faults=[{"kind": "503", "times": 1, "method": "POST"}])
    with pytest.raises(VobizError, match="HTTP 503"):
        client(sim).create_endpoint({"username": "newphone", "password": "s3cretpass"})
    assert sum(1 for request in sim.requests if request["method"] == "POST") == 1


def test_request_log_names_each_request_without_the_token(sim):
    lines = []
    client(sim, page_size=100, log=lines.append).list_endpoints()
    assert len(lines) == 3
    assert all(line.startswith("GET /api/v1/Account/%s/Endpoint/?limit=100&offset=" % AUTH_ID) and " 200 " in line for line in lines)
    assert not any(TOKEN in line for line in lines)


class _Reply:
    """The two attributes of a requests.Response that error parsing reads."""

    def __init__(self, body):
        self.content = body.encode("utf-8")
        self.text = body


@pytest.mark.parametrize("body", [
    '{"error": "bad\\n[ERROR]: forged line\\u001b[31m"}',
    '{"error": {"message": "bad\\r\\nforged", "details": {"x": "y\\nz"}}}',
    "plain\nforged\u001b[2J",
])
def test_api_error_text_cannot_inject_lines_or_terminal_codes(body):
    text = transport._api_error_text(_Reply(body))  # pylint: disable=protected-access
    assert "bad" in text or "plain" in text
    assert not any(character in text for character in "\n\r\x1b")
