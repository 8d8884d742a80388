# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalised endpoint records for the unit tests of the pure module_utils files."""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS


def endpoint_record(endpoint_id="100000000000001", **fields):
    """A normalised record: every key present, null unless given."""
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id=endpoint_id, **fields)
    return base
