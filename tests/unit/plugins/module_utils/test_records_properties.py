# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (hypothesis) of normalize_endpoint: any JSON value in any field gives a complete
normalised record or MalformedRecordError, never another exception; the documented shapes are never rejected."""

from __future__ import annotations

from hypothesis import given

from ansible_collections.vobiz.sip.plugins.module_utils.records import MalformedRecordError, normalize_endpoint
from ansible_collections.vobiz.sip.tests.unit.strategies import SETTINGS, any_record, assert_normalised, documented_records


@SETTINGS
@given(any_record)
def test_any_json_gives_a_record_or_malformed_record_error(raw):
    try:
        record = normalize_endpoint(raw)
    except MalformedRecordError as error:
        assert str(error)
        return
    assert_normalised(record)


@SETTINGS
@given(documented_records())
def test_documented_shapes_are_never_rejected(raw):
    record = normalize_endpoint(raw)
    assert_normalised(record)
    assert record["endpoint_id"] == raw["endpoint_id"] and record["username"] == raw["username"]
    assert record["sip_registered"] is (str(raw["sip_registered"]).lower() == "true")
    application = raw.get("application")
    assert record["application_id"] == (None if not application else application["app_id"] if isinstance(application, dict)
                                        else application.split("/")[-2])
