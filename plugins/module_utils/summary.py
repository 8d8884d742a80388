# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counts over an account's endpoints: endpoint_info's `summary` (private to vobiz.sip; pure)."""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.applications import application_labels, application_names

# How counts by sub-account name the main account's endpoints.
MAIN_ACCOUNT = "main"


def summarize_endpoints(records):
    """Counts over normalised records: registration, applications, sub-accounts."""
    registered = sum(1 for record in records if record["sip_registered"] is True)
    by_sub_account = {}
    for record in records:
        account = record["sub_account"] or MAIN_ACCOUNT
        by_sub_account[account] = by_sub_account.get(account, 0) + 1
    return {
        "total": len(records),
        "registered": registered,
        "unregistered": len(records) - registered,
        "without_application": sum(1 for record in records if not record["application_id"]),
        "by_application": count_by_application(records),
        "by_sub_account": by_sub_account,
    }


def count_by_application(records):
    """{application label: endpoints} over the records that have an application.

    Applications are keyed by name, or by id when the name is unknown; when two applications share
    a name each key gets its id appended, so counts of different applications never merge.
    """
    labels = application_labels(application_names(records))
    counts = {}
    for record in records:
        if record["application_id"]:
            label = labels[record["application_id"]]
            counts[label] = counts.get(label, 0) + 1
    return counts
