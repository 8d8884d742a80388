# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""applications.py: resolving an `application` option, filling names, labels for people."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.applications import (
    application_label,
    application_labels,
    application_names,
    describe_applications,
    fill_application_names,
    resolve_application,
)
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.tests.unit.records import endpoint_record as record

APPS = [
    {"app_id": "20000000000000001", "app_name": "Front Desk"},
    {"app_id": "20000000000000002", "app_name": "Sales"},
    {"app_id": "20000000000000003", "app_name": "Sales"},
]


def test_application_by_id_then_by_exact_name():
    assert resolve_application("20000000000000002", APPS) == ("20000000000000002", "Sales")
    assert resolve_application("Front Desk", APPS) == ("20000000000000001", "Front Desk")


def test_ambiguous_application_name_lists_the_candidates():
    with pytest.raises(EndpointError) as error:
        resolve_application("Sales", APPS)
    assert "ambiguous" in str(error.value)
    assert "20000000000000002" in str(error.value) and "20000000000000003" in str(error.value)
    assert "20000000000000001" not in str(error.value)


@pytest.mark.parametrize("reference", ["front desk", "99999", ""])
def test_unknown_application_lists_what_the_account_has(reference):
    with pytest.raises(EndpointError) as error:
        resolve_application(reference, APPS)
    assert all(app["app_id"] in str(error.value) for app in APPS)


# Names and labels --------------------------------------------------------------------------------

def test_names_are_filled_only_where_a_record_lacks_one():
    records = [record("1", application_id="20000000000000002"), record("2", application_id="20000000000000001", application_name="Kept"),
               record("3"), record("4", application_id="29999999999999999")]
    assert fill_application_names(records, APPS) is records
    assert [item["application_name"] for item in records] == ["Sales", "Kept", None, None]


def test_applications_are_labelled_by_name_else_id():
    assert application_label("11", "Front Desk") == "Front Desk"
    assert application_label("11", "Front Desk", qualify=True) == "Front Desk (11)"
    assert application_label("11", None, qualify=True) == "11"
    assert application_label(None, "ignored") is None


def test_labels_qualify_only_names_several_applications_share():
    assert application_labels({"21": "Sales", "22": "Sales", "11": "Front Desk", "12": None}) == {
        "21": "Sales (21)", "22": "Sales (22)", "11": "Front Desk", "12": "12"}


def test_an_application_without_a_name_is_listed_by_its_id():
    # Was "None (20000000000000009)" before the twins were merged.
    assert describe_applications(APPS[:1] + [{"app_id": 20000000000000009, "app_name": None}]) == \
        "Front Desk (20000000000000001), 20000000000000009"


def test_application_names_come_from_any_record_that_carries_one():
    records = [record("1", application_id="11"), record("2", application_id="11", application_name="Front Desk"),
               record("3", application_id="12"), record("4")]
    assert application_names(records) == {"11": "Front Desk", "12": None}
