# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""summary.py: endpoint_info's counts."""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.summary import count_by_application, summarize_endpoints
from ansible_collections.vobiz.sip.tests.unit.records import endpoint_record as record


def test_summary_counts_registration_applications_and_sub_accounts():
    records = [
        record("1", sip_registered=True, application_id="11", application_name="Front Desk"),
        record("2", sip_registered=False, application_id="11", application_name="Front Desk", sub_account="SA_ONE"),
        record("3", sip_registered=None, application_id="12"),  # name unknown: keyed by id
        record("4", sip_registered=True, sub_account="SA_ONE"),
    ]
    assert summarize_endpoints(records) == {
        "total": 4, "registered": 2, "unregistered": 2, "without_application": 1,
        "by_application": {"Front Desk": 2, "12": 1},
        "by_sub_account": {"main": 2, "SA_ONE": 2},
    }


def test_summary_keeps_applications_sharing_a_name_apart():
    records = [record("1", application_id="21", application_name="Sales"),
               record("2", application_id="22", application_name="Sales"),
               record("3", application_id="22", application_name="Sales")]
    assert summarize_endpoints(records)["by_application"] == {"Sales (21)": 1, "Sales (22)": 2}


def test_summary_of_nothing():
    assert summarize_endpoints([]) == {"total": 0, "registered": 0, "unregistered": 0, "without_application": 0,
                                       "by_application": {}, "by_sub_account": {}}


def test_an_application_is_named_by_any_record_that_knows_the_name():
    # The mixed API shape: the first record of application 11 is compact (no name), a later one is rich.
    records = [record("1", application_id="11"), record("2", application_id="11", application_name="Front Desk")]
    assert count_by_application(records) == {"Front Desk": 2}
