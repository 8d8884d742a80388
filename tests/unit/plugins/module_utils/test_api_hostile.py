# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A listing is exact or fails loudly against a server whose pages lie (issue 22, rows 1 and 2, and the property).

The account never changes here; the server misbehaves: it serves an id twice, drops or swaps records, shifts a page,
or reports a total_count that is not the truth. Whatever it does, the listing returns every record of the account
exactly once, or raises one VobizError.
"""

from __future__ import annotations

import threading

from hypothesis import given, settings, strategies as st

from ansible_collections.vobiz.sip.plugins.module_utils.api import MAX_WALKS, VobizClient, VobizError
from ansible_collections.vobiz.sip.tests.unit.strategies import SETTINGS

TOKEN = "hostile-token-5d8c1a"
CONSISTENCY_ERROR = "could not get a consistent listing of GET /api/v1/Account/MA_HOSTILE/Endpoint/ after 4 walks: "


class LyingApi:
    """An unchanging account of `count` ids; `fault(request number, offset, limit, ids)` gives (ids served, total_count)."""

    def __init__(self, count, fault=None):
        self.ids = ["%06d" % index for index in range(count)]
        self.fault = fault or (lambda _number, offset, limit, ids: (ids[offset:offset + limit], len(ids)))
        self.offsets = []
        self.lock = threading.Lock()

    def request(self, method, resource, params=None, **_kwargs):
        with self.lock:
            number = len(self.offsets)
            offset, limit = int(params["offset"]), int(params["limit"])
            self.offsets.append(offset)
        objects, total = self.fault(number, offset, limit, self.ids)
        return {"meta": {"total_count": total, "limit": limit, "offset": offset},
                "objects": [{"endpoint_id": endpoint_id} for endpoint_id in objects]}


def listing(api, page_size=100, max_concurrency=4):
    client = VobizClient("MA_HOSTILE", TOKEN, api_url="http://127.0.0.1:9", page_size=page_size,
                         max_concurrency=max_concurrency, retries=0)
    client.request = api.request
    return [obj["endpoint_id"] for obj in client._list_all("Endpoint/", {}, "endpoint_id")]


def test_an_id_served_on_two_pages_fails_the_listing_instead_of_listing_one_record_less():
    """Row 1: record 150 carries record 10's id (an unstable sort); the pages chain and end at total_count 250."""
    def serve_id_twice(_number, offset, limit, ids):
        return [ids[10] if index == 150 else ids[index] for index in range(offset, min(offset + limit, len(ids)))], len(ids)

    api = LyingApi(250, serve_id_twice)
    try:
        listing(api)
    except VobizError as error:
        assert str(error).startswith(CONSISTENCY_ERROR), error
        assert "total_count 250 but served 249 distinct records" in str(error)
        return
    raise AssertionError("249 records listed as the whole account")


def test_a_total_count_on_a_page_boundary_that_is_too_small_fails_instead_of_ending_the_listing():
    """Row 2: total_count says 100 while 250 exist; the full first page ends exactly at it. The overlap page at
    offset 99 must hold only the overlap record; it holds 100, so every walk is broken."""
    api = LyingApi(250, lambda _number, offset, limit, ids: (ids[offset:offset + limit], 100))
    try:
        listing(api)
    except VobizError as error:
        assert str(error).startswith(CONSISTENCY_ERROR) and "total_count 100" in str(error), error
        assert sorted(set(api.offsets)) == [0, 99] and len(api.offsets) == 2 * MAX_WALKS
        return
    raise AssertionError("100 of 250 records listed as the whole account")


def test_a_full_last_page_ending_at_total_count_is_confirmed_by_the_overlap_page_only():
    """The honest boundary case: 199 = 100 + 99 records; the page at offset 198 holds just the overlap record."""
    api = LyingApi(199)
    assert listing(api, max_concurrency=1) == api.ids
    assert api.offsets == [0, 99, 198]


# One fault per page request: what a server or proxy that misbehaves sends instead of the true page.
faults = st.one_of(
    st.just(None), st.just(None),
    st.tuples(st.just("duplicate"), st.integers(0, 99), st.integers(0, 99)),  # a record replaced by another one's id
    st.tuples(st.just("drop"), st.integers(0, 99), st.booleans()),  # a record left out (the page refilled, or shorter)
    st.tuples(st.just("swap"), st.integers(0, 99), st.integers(0, 99)),  # two records of the page change places
    st.tuples(st.just("shift"), st.sampled_from([-2, -1, 1, 2])),  # the page's window a record or two off
    st.tuples(st.just("total"), st.integers(0, 80)),  # total_count not the truth
)


def apply_fault(fault, offset, limit, ids):
    objects, total = ids[offset:offset + limit], len(ids)
    kind = fault[0] if fault else None
    if kind == "total":
        total = fault[1]
    elif kind == "shift":
        start = max(0, offset + fault[1])
        objects = ids[start:start + limit]
    elif kind and objects:
        first = fault[1] % len(objects)
        if kind == "duplicate":
            objects[first] = ids[fault[2] % len(ids)]
        elif kind == "drop":
            del objects[first]
            if fault[2]:
                objects += ids[offset + limit:offset + limit + 1]
        else:
            second = fault[2] % len(objects)
            objects[first], objects[second] = objects[second], objects[first]
    return objects, total


@settings(SETTINGS, max_examples=300)
@given(count=st.integers(0, 40), page_size=st.integers(2, 10), max_concurrency=st.integers(1, 3),
       script=st.lists(faults, max_size=40))
def test_pages_that_lie_give_exactly_the_account_or_one_vobiz_error(count, page_size, max_concurrency, script):
    """Duplicated, dropped, reordered records and a lying total_count, one fault per page request, at random."""
    def lie(number, offset, limit, ids):
        return apply_fault(script[number] if number < len(script) else None, offset, limit, ids)

    api = LyingApi(count, lie)
    try:
        ids = listing(api, page_size=page_size, max_concurrency=max_concurrency)
    except VobizError as error:
        assert TOKEN not in str(error) and str(error)
        return
    assert len(ids) == len(set(ids)), "a record listed twice"
    assert sorted(ids) == api.ids, "the listing is not the account: missing %s, extra %s" % (
        sorted(set(api.ids) - set(ids)), sorted(set(ids) - set(api.ids)))
