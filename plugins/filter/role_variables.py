# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that finds misspelt role variables, for the vobiz.sip roles.

A role's argument spec checks the types of the variables it declares but says nothing about a
variable it does not know: `endpoint_audit_require_aplication: true` would be silently ignored
and the check it meant to switch on would never run. The roles therefore list every variable
named with their prefix and pass those names here with the argument spec's options.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.plugin_utils.names import closest_name


def unknown_role_variables(names, known):
    """["name (did you mean x?)" or "name"] for each of `names` that is not in `known`, sorted."""
    if isinstance(names, str) or isinstance(known, str):
        raise AnsibleFilterError("unknown_role_variables takes two lists of variable names")
    known = [str(name) for name in known or []]
    unknown = sorted(set(str(name) for name in names or []) - set(known))
    return [_with_suggestion(name, known) for name in unknown]


def _with_suggestion(name, known):
    close = closest_name(name, known)
    return "%s (did you mean %s?)" % (name, close) if close else name


class FilterModule:
    """Misspelt role variables."""

    def filters(self):
        return {"unknown_role_variables": unknown_role_variables}
