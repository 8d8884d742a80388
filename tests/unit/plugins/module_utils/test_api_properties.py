# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (hypothesis) of VobizClient: any record, page body or sequence of page bodies gives
records or one VobizError, never another exception, never a loop, and the token never appears in the message."""

from __future__ import annotations

import uuid

from hypothesis import given, settings, strategies as st

from ansible_collections.vobiz.sip.plugins.module_utils.api import MAX_WALKS, VobizClient, VobizError
from ansible_collections.vobiz.sip.tests.unit.strategies import (
    SETTINGS,
    any_record,
    assert_normalised,
    damaged_records,
    documented_records,
    json_values,
)

TOKEN = "prop-token-%s" % uuid.uuid4().hex
with_token = st.one_of(json_values, st.just(TOKEN), st.text(max_size=8).map(lambda text: text + TOKEN))


def offline_client(**options):
    return VobizClient("MA_PROPTEST", TOKEN, api_url="http://127.0.0.1:9", retries=0, backoff_base=0, **options)


@SETTINGS
@given(st.one_of(any_record, damaged_records(with_token)))
def test_client_normalize_gives_a_record_or_vobiz_error_without_the_token(raw):
    try:
        record = offline_client()._normalize(raw)
    except VobizError as error:
        assert TOKEN not in str(error)
        return
    assert_normalised(record)


page_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"meta": json_values, "objects": json_values}),
    st.fixed_dictionaries({"meta": st.fixed_dictionaries({"total_count": json_values, "limit": json_values}),
                           "objects": st.lists(with_token, max_size=3)}),
    st.fixed_dictionaries({"meta": st.fixed_dictionaries({"total_count": st.integers(0, 300), "limit": st.integers(-1, 120)}),
                           "objects": st.lists(any_record, max_size=3)}),
)


@SETTINGS
@given(page_bodies)
def test_any_page_body_gives_a_page_or_vobiz_error_without_the_token(body):
    client = offline_client()
    client.request = lambda *args, **kwargs: body
    try:
        page = client._get_page("Endpoint/", {}, 0, 100)
    except VobizError as error:
        assert TOKEN not in str(error)
        return
    assert isinstance(page.objects, list) and isinstance(page.total_count, int) and page.total_count >= 0


@st.composite
def plausible_pages(draw):
    """Pages a confused server might send: small totals, records valid or not, ids that repeat."""
    total = draw(st.integers(0, 30))
    objects = draw(st.lists(st.one_of(documented_records(), any_record), max_size=6))
    return {"meta": {"total_count": total, "limit": draw(st.sampled_from([5, 10, 0, None]))}, "objects": objects}


@settings(SETTINGS, max_examples=60)
@given(st.data(), st.sampled_from([5, 10]))
def test_any_sequence_of_pages_gives_records_or_one_vobiz_error_and_stops(data, page_size):
    client = offline_client(page_size=page_size, max_concurrency=1)
    calls = []

    def fake_request(method, resource, params=None, **kwargs):
        calls.append(params)
        assert len(calls) <= MAX_WALKS * (30 // page_size + 2), "the client keeps paging"
        return data.draw(plausible_pages())

    client.request = fake_request
    try:
        records = client.list_endpoints()
    except VobizError as error:
        assert TOKEN not in str(error)
        return
    for record in records:
        assert_normalised(record)
    assert len({record["endpoint_id"] for record in records}) == len(records)
