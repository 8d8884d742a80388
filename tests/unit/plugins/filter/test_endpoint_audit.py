# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of the vobiz.sip.endpoint_audit role (filter plugin endpoint_audit): pure functions."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.filter import endpoint_audit as audit_filter
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS

FRONT_DESK = ("20000000000000001", "Front Desk")
NIGHT = ("20000000000000005", "Night-Shift IVR #2")
UNNAMED = ("20000000000000009", None)


def record(endpoint_id, username, application=FRONT_DESK, registered=True, sub_account=None, **flags):
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id=endpoint_id, username=username, sip_registered=registered, sub_account=sub_account)
    if application:
        base["application_id"], base["application_name"] = application
    base.update(flags)
    return base


RECORDS = [
    record("1", "alice", allow_other_domains=False),
    record("2", "bob", registered=False, allow_other_domains=True),
    record("3", "carol", application=None, sub_account="SA_BRANCH01", allow_other_domains=False),
    record("4", "dave123456789012", application=NIGHT, registered=None, sub_account="SA_BRANCH01"),
    record("5", "erin", application=UNNAMED, allow_other_domains=False),
]


def run(records=None, members=None, **checks):
    return audit_filter.audit(RECORDS if records is None else records, checks, members)


def only(result):
    (check,) = result["results"]
    return check


# Each check passing and failing -----------------------------------------------------------------

def test_registered_usernames():
    assert only(run(registered=["alice", "erin"]))["status"] == "passed"
    failed = only(run(registered=["alice", "bob", "dave", "zed"]))
    assert failed["status"] == "failed"
    assert failed["endpoints"] == ["bob", "dave123456789012", "zed"]  # dave is found by its rewritten username; unknown = not registered
    assert failed["message"] == ("3 of 4 listed endpoints fail: 2 not registered: bob, dave123456789012; "
                                 "1 not among the audited endpoints: zed")


def test_registered_groups_by_endpoint_id_or_host_name():
    members = {"vobiz_app_front_desk": [{"host": "alice", "endpoint_id": "1"}, {"host": "phone-e", "endpoint_id": "5"}],
               "vobiz_sub_account_sa_branch01": [{"host": "carol", "endpoint_id": None}, {"host": "x", "endpoint_id": "4"}],
               "missing_group": None}
    result = run(members=members, registered_groups=list(members))
    statuses = {check["check"]: (check["status"], check["endpoints"]) for check in result["results"]}
    assert statuses == {
        "registered_group vobiz_app_front_desk": ("passed", []),
        "registered_group vobiz_sub_account_sa_branch01": ("failed", ["dave123456789012"]),
        "registered_group missing_group": ("failed", []),
    }
    assert "group missing_group is not in the inventory" in result["lines"][2]


def test_application_required():
    assert only(run(records=RECORDS[:2], require_application=True))["status"] == "passed"
    failed = only(run(require_application=True))
    assert failed["status"] == "failed" and failed["endpoints"] == ["carol"]
    assert failed["message"] == "1 of 5 endpoints have no application: carol"
    assert run(require_application=False)["results"] == []


def test_allowed_applications_by_name_or_id():
    assert only(run(allowed_applications=["Front Desk", "20000000000000005", "20000000000000009"]))["status"] == "passed"
    failed = only(run(allowed_applications=["Front Desk"]))
    assert failed["endpoints"] == ["dave123456789012", "erin"]  # carol has no application: not this check's concern
    assert "(20000000000000009: 1, Night-Shift IVR #2: 1)" in failed["message"]


def test_applications_sharing_a_name_are_counted_apart():
    # Counted as in endpoint_info's summary; before the twins were merged this said "Sales: 3".
    records = [record("1", "a", application=("21", "Sales")), record("2", "b", application=("22", "Sales")),
               record("3", "c", application=("22", "Sales"))]
    failed = only(run(records=records, allowed_applications=["Front Desk"]))
    assert "(Sales (21): 1, Sales (22): 2)" in failed["message"]


def test_a_username_several_endpoints_could_be_is_ambiguous_not_missing():
    # Before the twins were merged, "bob" here was reported as not among the audited endpoints.
    records = [record("1", "bob111"), record("2", "bob222", registered=False), record("3", "carol7")]
    failed = only(run(records=records, registered=["bob", "carol"]))
    assert failed["status"] == "failed" and failed["endpoints"] == ["bob"]
    assert failed["message"] == ("1 of 2 listed endpoints fail: 1 ambiguous (no endpoint has the username exactly, several "
                                 "have it followed by digits; list the username the API stored): bob")
    assert only(run(records=records, registered=["bob111", "carol"]))["status"] == "passed"


@pytest.mark.parametrize("value, expected", [(1, True), ("yes", True), (0, False), ("off", False)])
def test_settings_take_booleans_as_ansible_writes_them(value, expected):
    assert audit_filter.normalize_checks({"require_application": value})["require_application"] is expected


def test_flag_required_value_and_unreported_flags():
    result = run(flags={"allow_other_domains": False})
    assert [(check["status"], check["endpoints"]) for check in result["results"]] == [("failed", ["bob"]), ("warning", ["dave123456789012"])]
    assert result["lines"][0] == "FAILED allow_other_domains: 1 of 5 endpoints do not have allow_other_domains false: bob"
    assert result["lines"][1].startswith("WARNING allow_other_domains: 1 of 5 endpoints do not report allow_other_domains")

    passing = run(records=RECORDS[:1] + RECORDS[2:], flags={"allow_other_domains": False}, unreported_flags="ignore")
    assert [check["status"] for check in passing["results"]] == ["passed"]
    assert "(1 do not report it)" in passing["results"][0]["message"]

    strict = run(flags={"allow_other_domains": False}, unreported_flags="fail")
    assert only(strict)["endpoints"] == ["bob", "dave123456789012"] and "1 of them do not report the flag" in only(strict)["message"]

    allowed = run(flags={"allow_other_domains": True}, unreported_flags="ignore")
    assert only(allowed)["endpoints"] == ["alice", "carol", "erin"]


def test_flag_nobody_reports_is_a_warning_not_a_pass():
    compact = [record("1", "alice"), record("2", "bob")]
    result = run(records=compact, flags={"allow_video": False})
    assert [check["status"] for check in result["results"]] == ["warning"]
    assert "no endpoint reports allow_video" in result["results"][0]["message"]
    assert result["summary"]["failed"] == 0 and result["summary"]["warnings"] == 1


def test_counts_per_application_and_sub_account():
    result = run(counts_by_application={"Front Desk": 2, "20000000000000005": {"min": 2}, "Unknown app": {"max": 0}},
                 counts_by_sub_account={"main": {"min": 2, "max": 3}, "SA_BRANCH01": 3})
    assert [(check["check"], check["status"], check["message"]) for check in result["results"]] == [
        ("count application Front Desk", "passed", "2 endpoints, expected exactly 2"),
        ("count application 20000000000000005", "failed", "1 endpoints, expected at least 2"),
        ("count application Unknown app", "passed", "0 endpoints, expected at most 0"),
        ("count sub_account main", "passed", "3 endpoints, expected at least 2 and at most 3"),
        ("count sub_account SA_BRANCH01", "failed", "2 endpoints, expected exactly 3"),
    ]


# Summary, lines and outcome -----------------------------------------------------------------------

def test_summary_and_one_line_per_check():
    result = run(registered=["bob"], require_application=True, counts_by_sub_account={"main": 3})
    assert result["summary"] == {"endpoints": 5, "checks": 3, "passed": 1, "failed": 2,
                                 "failed_checks": ["registered", "application_required"], "warnings": 0,
                                 "line": "endpoint audit of 5 endpoints: 3 checks, 1 passed, 2 failed (registered, application_required)"}
    assert result["lines"] == [
        "FAILED registered: 1 of 1 listed endpoints fail: 1 not registered: bob",
        "FAILED application_required: 1 of 5 endpoints have no application: carol",
        "PASSED count sub_account main: 3 endpoints, expected exactly 3",
        result["summary"]["line"],
    ]


def test_no_check_switched_on_says_so():
    assert run()["summary"]["line"].endswith("no check is switched on (see the endpoint_audit role variables)")


def test_long_name_lists_are_shortened_on_the_line_but_complete_in_the_result():
    many = [record(str(index), "user%02d" % index, application=None) for index in range(12)]
    result = run(records=many, require_application=True, max_names=3)
    assert result["lines"][0] == "FAILED application_required: 12 of 12 endpoints have no application: user00, user01, user02 and 9 more"
    assert len(result["results"][0]["endpoints"]) == 12
    assert "user11" in run(records=many, require_application=True, max_names=0)["lines"][0]


def test_results_are_marked_unsafe():
    tricky = [record("1", "{{ lookup('pipe', 'id') }}", application=None)]
    result = audit_filter.endpoint_audit(tricky, {"require_application": True})
    line = result["lines"][0]
    assert "{{ lookup('pipe', 'id') }}" in line
    try:
        from ansible.template import is_trusted_as_template
        assert not is_trusted_as_template(line)
    except ImportError:  # ansible-core < 2.19
        from ansible.utils.unsafe_proxy import AnsibleUnsafe
        assert isinstance(line, AnsibleUnsafe)


# Settings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("checks, message", [
    ({"registered": "alice"}, "endpoint_audit_registered must be a list, got text"),
    ({"registered": [["alice"]]}, "endpoint_audit_registered must list names"),
    ({"require_application": "maybe"}, "endpoint_audit_require_application must be true or false"),
    ({"require_application": None}, "endpoint_audit_require_application must be true or false, got null"),
    ({"flags": {"allow_others": False}}, "unknown flag allow_others; the flags are: allow_voice"),
    ({"flags": ["allow_video"]}, "endpoint_audit_flags must map allow_\\* flags"),
    ({"flags": {"allow_video": "perhaps"}}, "flags.allow_video must be true or false"),
    ({"unreported_flags": "shout"}, "must be one of warn, fail, ignore"),
    ({"counts_by_application": {"Front Desk": -1}}, "must be a count"),
    ({"counts_by_application": {"Front Desk": {"least": 1}}}, "must be a count"),
    ({"counts_by_sub_account": {"main": {"min": 5, "max": 2}}}, "min 5 is above max 2"),
    ({"counts_by_sub_account": {"main": {"min": None}}}, "give min, max or both"),
    ({"max_names": "lots"}, "endpoint_audit_max_names must be a whole number"),
    ("registered", "must be a mapping"),
])
def test_bad_settings_name_the_role_variable(checks, message):
    with pytest.raises(AnsibleFilterError, match=message):
        audit_filter.normalize_checks(checks)


def test_settings_normalise_idempotently():
    checks = {"registered": ["alice", 7], "require_application": "yes", "flags": {"allow_video": "false"},
              "counts_by_application": {"Front Desk": "3", "x": {"max": 4}}, "max_names": "10"}
    normalized = audit_filter.normalize_checks(checks)
    assert normalized["registered"] == ["alice", "7"] and normalized["require_application"] is True
    assert normalized["flags"] == {"allow_video": False}
    assert normalized["counts_by_application"] == {"Front Desk": [3, 3], "x": [None, 4]}
    assert audit_filter.normalize_checks(normalized) == normalized


def test_records_must_be_endpoint_records():
    with pytest.raises(AnsibleFilterError, match="endpoint records"):
        audit_filter.audit([{"username": "alice"}], {})


# Inventory helpers --------------------------------------------------------------------------------

def host_variables(prefix="vobiz_", **fields):
    """The host variables the vobiz.sip.endpoints inventory sets: every record field, prefixed."""
    return {prefix + key: fields.get(key) for key in RECORD_KEYS}


HOSTVARS = {
    "alice": dict(host_variables(endpoint_id="1", username="alice", sip_registered=True), ansible_connection="local"),
    "bob": host_variables(endpoint_id="2", username="bob", sip_registered=False),
    "web1": {"ansible_host": "10.0.0.1"},
}


def test_inventory_records_rebuild_the_normalised_records():
    records = audit_filter.inventory_records(["alice", "bob"], HOSTVARS)
    assert [tuple(record) for record in records] == [RECORD_KEYS + ("inventory_hostname",)] * 2
    assert records[0]["endpoint_id"] == "1" and records[0]["sip_registered"] is True and records[0]["alias"] is None
    assert records[1]["inventory_hostname"] == "bob"
    sip_vars = host_variables("sip_", endpoint_id="1")
    assert audit_filter.inventory_records(["alice"], {"alice": sip_vars}, prefix="sip_")[0]["endpoint_id"] == "1"


def test_inventory_records_refuse_hosts_missing_field_variables():
    # An inventory set to give only some host variables must not be audited as if the rest were null.
    partial = {key: value for key, value in host_variables(endpoint_id="1", username="alice").items()
               if key not in ("vobiz_application_id", "vobiz_sip_registered")}
    with pytest.raises(AnsibleFilterError, match="host alice lacks the host variables vobiz_sip_registered, vobiz_application_id, .*"
                                                 "endpoint_audit_source: api"):
        audit_filter.inventory_records(["alice"], {"alice": partial})


def test_inventory_records_refuse_hosts_from_elsewhere():
    with pytest.raises(AnsibleFilterError, match="host web1 has no vobiz_endpoint_id variable.*endpoint_audit_hostvars_prefix"):
        audit_filter.inventory_records(["alice", "web1"], HOSTVARS)


def test_the_filter_audits_inventory_hosts_and_resolves_groups():
    groups = {"all": ["alice", "bob", "web1"], "vobiz_registered": ["alice"], "vobiz_unregistered": ["bob"]}
    checks = {"registered_groups": ["vobiz_registered", "vobiz_unregistered", "nope"], "counts_by_sub_account": {"main": 2}}
    result = audit_filter.endpoint_audit(["alice", "bob"], checks, hostvars=HOSTVARS, groups=groups)
    assert [(item["check"], item["status"], item["endpoints"]) for item in result["results"]] == [
        ("registered_group vobiz_registered", "passed", []),
        ("registered_group vobiz_unregistered", "failed", ["bob"]),
        ("registered_group nope", "failed", []),
        ("count sub_account main", "passed", []),
    ]
    without_inventory = audit_filter.endpoint_audit(RECORDS, {"registered_groups": ["vobiz_registered"]})
    assert without_inventory["results"][0]["status"] == "failed"


def test_group_members_carry_endpoint_ids_and_flag_unknown_groups():
    groups = {"vobiz_registered": ["alice"], "mixed": ["bob", "web1"]}
    assert audit_filter.group_members(["vobiz_registered", "mixed", "nope"], groups, HOSTVARS) == {
        "vobiz_registered": [{"host": "alice", "endpoint_id": "1"}],
        "mixed": [{"host": "bob", "endpoint_id": "2"}, {"host": "web1", "endpoint_id": None}],
        "nope": None,
    }
