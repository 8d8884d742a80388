# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' check for misspelt role variables (filter plugin unknown_role_variables)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.filter.role_variables import unknown_role_variables


def test_unknown_role_variables_are_listed_with_the_closest_known_name():
    known = ["endpoint_drift_remediate", "endpoint_drift_fail", "endpoint_drift_result"]
    assert unknown_role_variables(["endpoint_drift_remediat", "endpoint_drift_fail", "endpoint_drift_zzz"], known) == [
        "endpoint_drift_remediat (did you mean endpoint_drift_remediate?)", "endpoint_drift_zzz"]
    assert unknown_role_variables(known, known) == []
    with pytest.raises(AnsibleFilterError):
        unknown_role_variables("endpoint_drift_x", known)
