# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis strategies and settings shared by the property tests (test_*_properties.py): any JSON, the
documented API record shapes and damaged forms of them, and what a normalised record must look like."""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS, RECORD_KEYS

BOOLEAN_KEYS = ("sip_registered",) + ALLOW_FLAGS
TEXT_KEYS = tuple(key for key in RECORD_KEYS if key not in BOOLEAN_KEYS)
API_FIELDS = ("endpoint_id", "username", "alias", "sip_uri", "sip_registered", "sip_contact", "sip_expires", "sip_user_agent",
              "application", "sub_account", "created_at", "updated_at", "resource_uri", "sip_registration") + ALLOW_FLAGS
# Hypothesis keeps caches in ./.hypothesis; outside the checkout, they never reach sanity or a commit.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "vobiz-sip-hypothesis"))
# No example database: every run explores afresh.
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Any JSON value, NaN and infinities included (Python's json module accepts them from a server).
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=10)
digits = st.text("0123456789", min_size=1, max_size=15)
usernames = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
maybe_text = st.none() | st.text(max_size=30)
maybe_flag = st.none() | st.booleans()


@st.composite
def documented_records(draw):
    """A record in the compact or the rich documented shape, nulls present or left out."""
    endpoint_id = draw(digits)
    app_id = draw(st.none() | digits)
    record = {"endpoint_id": endpoint_id, "username": draw(usernames), "alias": draw(maybe_text),
              "sip_uri": draw(maybe_text), "sub_account": draw(st.none() | st.sampled_from(["SA_ONE", "SA_TWO"])),
              "resource_uri": "/v1/Account/MA_X/Endpoint/%s/" % endpoint_id}
    if draw(st.booleans()):  # compact
        record["application"] = "/v1/Account/MA_X/Application/%s/" % app_id if app_id else None
        record["sip_registered"] = draw(st.sampled_from(["true", "false", "True", "FALSE"]))
    else:  # rich
        record["application"] = {"app_id": app_id, "app_name": draw(maybe_text)} if app_id else None
        record["sip_registered"] = draw(st.booleans() | st.sampled_from(["true", "false"]))
        record.update((flag, draw(st.booleans())) for flag in ALLOW_FLAGS)
        record.update(sip_contact=draw(maybe_text), sip_expires=draw(maybe_text), sip_user_agent=draw(maybe_text),
                      created_at=draw(maybe_text), updated_at=draw(maybe_text))
    if draw(st.booleans()):
        record = {key: value for key, value in record.items() if value is not None}
    return record


@st.composite
def damaged_records(draw, values=json_values):
    """A documented record with one field (known or not) replaced by any JSON value."""
    record = draw(documented_records())
    key = draw(st.sampled_from(API_FIELDS) | st.text(max_size=10))
    record[key] = draw(values)
    return record


any_record = json_values | st.dictionaries(st.sampled_from(API_FIELDS) | st.text(max_size=10), json_values, max_size=14) | damaged_records()


def assert_normalised(record):
    assert set(record) == set(RECORD_KEYS)
    assert isinstance(record["endpoint_id"], str) and record["endpoint_id"]
    for key in TEXT_KEYS:
        assert record[key] is None or isinstance(record[key], str), (key, record[key])
    for key in BOOLEAN_KEYS:
        assert record[key] is None or isinstance(record[key], bool), (key, record[key])
