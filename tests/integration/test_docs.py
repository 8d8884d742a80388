# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-doc renders every module, filter and role of the installed collection, with the options users rely on."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import ansible_env, run_cli

CONNECTION_OPTIONS = ("auth_id", "auth_token", "api_url", "validate_certs", "timeout", "retries", "page_size", "max_concurrency",
                      "listing_timeout")


INFO_OPTIONS = CONNECTION_OPTIONS + ("filters", "endpoint_id", "resolve_applications", "summary")
ENDPOINT_OPTIONS = CONNECTION_OPTIONS + ("state", "username", "password", "update_password", "application", "allow_other_domains",
                                         "sub_account")
INVENTORY_OPTIONS = CONNECTION_OPTIONS + ("filters", "hostname", "group_by", "hostvars_prefix", "group_prefix", "VOBIZ_AUTH_TOKEN")
DRIFT_VARIABLES = ("endpoint_drift_desired", "endpoint_drift_report_dir", "endpoint_drift_remediate", "endpoint_drift_allow_unexpected",
                   "endpoint_drift_fail")

AUDIT_VARIABLES = ("endpoint_audit_fail", "endpoint_audit_registration_min_minutes", "endpoint_audit_user_agents",
                   "endpoint_audit_username_patterns", "endpoint_audit_alias_patterns", "endpoint_audit_unique_aliases",
                   "endpoint_audit_contact_networks", "endpoint_audit_unreported_registration", "endpoint_audit_report_dir")


@pytest.mark.parametrize("plugin_type, name, expected", [
    ("module", "vobiz.sip.endpoint_info", INFO_OPTIONS),
    ("module", "vobiz.sip.endpoint", ENDPOINT_OPTIONS),
    ("inventory", "vobiz.sip.endpoints", INVENTORY_OPTIONS),
    ("module", "vobiz.sip.endpoints", CONNECTION_OPTIONS + ("config", "merged", "replaced", "overridden", "deleted", "gathered", "scope")),
    ("module", "vobiz.sip.endpoint_drift", CONNECTION_OPTIONS + ("desired_file", "remediate", "report_dir")),
    ("filter", "vobiz.sip.endpoint_drift", ("endpoint_drift",)),
    ("filter", "vobiz.sip.endpoint_audit_markdown", ("Mermaid", "dashboard")),
    ("filter", "vobiz.sip.endpoint_audit_junit", ("testcase", "failure", "skipped")),
    ("role", "vobiz.sip.endpoint_audit", AUDIT_VARIABLES),
    ("role", "vobiz.sip.endpoint_drift", DRIFT_VARIABLES),
])
def test_ansible_doc_renders(tmp_path, plugin_type, name, expected):
    completed = run_cli("ansible-doc", "-t", plugin_type, name, env=ansible_env(None, tmp_path, ANSIBLE_PAGER="cat", PAGER="cat"))
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr
    missing = [word for word in expected if word not in completed.stdout]
    assert not missing, "%s %s documents none of %s" % (plugin_type, name, missing)
