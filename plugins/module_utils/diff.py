# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible's --diff of an endpoint: its managed fields before and after, never a password (private; pure)."""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS

# The fields vobiz.sip.endpoint manages, in the order diffs show them.
MANAGED_FIELDS = ("username", "alias", "application_id", "application_name", "sub_account") + ALLOW_FLAGS
# Stands in for the password wherever a diff must say one is sent; the value itself never appears.
PASSWORD_MARKER = "<set, not shown>"


def endpoint_diff(before, after, password_sent=False):
    """Ansible's diff of an endpoint: the managed fields before and after; {} for no endpoint.

    The password is never in it: when one is sent, `after` says so with PASSWORD_MARKER.
    """
    diff = {"before": _diff_view(before), "after": _diff_view(after)}
    if password_sent and after:
        diff["after"]["password"] = PASSWORD_MARKER
    endpoint_id = (after or before or {}).get("endpoint_id")
    label = "endpoint %s" % (endpoint_id or "(new)")
    diff["before_header"] = label if before else "(absent)"
    diff["after_header"] = label if after else "(absent)"
    return diff


def _diff_view(record):
    """The managed fields of a record; flags the API did not report are left out rather than shown as null."""
    if not record:
        return {}
    return {field: record.get(field) for field in MANAGED_FIELDS if field not in ALLOW_FLAGS or record.get(field) is not None}
