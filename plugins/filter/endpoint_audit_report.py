# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report filters of the vobiz.sip.endpoint_audit role: the audit as Markdown (with the dashboard) and as JUnit XML.

Documentation: endpoint_audit_markdown.yml and endpoint_audit_junit.yml beside this file, and docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vobiz.sip.plugins.plugin_utils.audit_report import render_junit, render_markdown
from ansible_collections.vobiz.sip.plugins.module_utils.values import describe_value

_AUDIT_KEYS = ("results", "summary", "dashboard")


def _checked_audit(audit, filter_name):
    if not isinstance(audit, Mapping) or any(key not in audit for key in _AUDIT_KEYS):
        raise AnsibleFilterError("%s renders the result of the vobiz.sip.endpoint_audit filter (endpoint_audit_result), got %s"
                                 % (filter_name, describe_value(audit)))
    return audit


def endpoint_audit_markdown(audit, title="Endpoint audit"):
    return wrap_var(render_markdown(_checked_audit(audit, "endpoint_audit_markdown"), title=str(title)))


def endpoint_audit_junit(audit, title="Endpoint audit"):
    return wrap_var(render_junit(_checked_audit(audit, "endpoint_audit_junit"), title=str(title)))


class FilterModule:
    """Report rendering for the vobiz.sip.endpoint_audit role."""

    def filters(self):
        return {
            "endpoint_audit_markdown": endpoint_audit_markdown,
            "endpoint_audit_junit": endpoint_audit_junit,
        }
