# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the vobiz.sip.endpoint_audit role: provisioning checks over normalised endpoint records.

The records come from vobiz.sip.endpoint_info (`endpoints`) or are rebuilt from the host variables
the vobiz.sip.endpoints inventory plugin sets. Each check yields one result with a one-line message
naming the endpoints at fault. Documentation: endpoint_audit.yml beside this file, and docs/audit.md.
"""

from __future__ import annotations

import datetime

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.matching import match_endpoint
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS, RECORD_KEYS
from ansible_collections.vobiz.sip.plugins.module_utils.summary import MAIN_ACCOUNT, count_by_application, summarize_endpoints
from ansible_collections.vobiz.sip.plugins.module_utils.values import describe_value as _kind, parse_boolean
from ansible_collections.vobiz.sip.plugins.plugin_utils import audit_checks
from ansible_collections.vobiz.sip.plugins.plugin_utils.audit_checks import FAILED, PASSED, WARNING

VARIABLE_PREFIX = "endpoint_audit_"
UNREPORTED_POLICIES = ("warn", "fail", "ignore")
DEFAULT_MAX_NAMES = 50
_AMBIGUOUS = object()


# The checks' settings --------------------------------------------------------------------------

def normalize_checks(checks):
    """The role's check settings validated and cleaned; a mistake raises one error naming the role variable.

    Keys are the role variable names without the endpoint_audit_ prefix (see the role's argument spec).
    """
    if not isinstance(checks, Mapping):
        raise AnsibleFilterError("the audit checks must be a mapping, got %s" % _kind(checks))
    return dict(audit_checks.normalize_settings(checks), **{
        "registered": _text_list(checks, "registered"),
        "registered_groups": _text_list(checks, "registered_groups"),
        "require_application": _bool(checks, "require_application"),
        "allowed_applications": _text_list(checks, "allowed_applications"),
        "flags": _flags(checks.get("flags")),
        "unreported_flags": _choice(checks, "unreported_flags", UNREPORTED_POLICIES),
        "counts_by_application": _counts(checks, "counts_by_application"),
        "counts_by_sub_account": _counts(checks, "counts_by_sub_account"),
        "max_names": _max_names(checks.get("max_names", DEFAULT_MAX_NAMES)),
    })


def _text_list(checks, key):
    value = checks.get(key) or []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("%s%s must be a list, got %s" % (VARIABLE_PREFIX, key, _kind(value)))
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, (str, int)) or not str(entry).strip():
            raise AnsibleFilterError("%s%s must list names (text), got %s" % (VARIABLE_PREFIX, key, _kind(entry)))
    return [str(entry).strip() for entry in value]


def _bool(checks, key):
    value = checks.get(key, False)
    try:
        return parse_boolean(value, null=False)
    except ValueError:
        raise AnsibleFilterError("%s%s must be true or false, got %s" % (VARIABLE_PREFIX, key, _kind(value))) from None


def _choice(checks, key, choices):
    value = checks.get(key) or choices[0]
    if value not in choices:
        raise AnsibleFilterError("%s%s must be one of %s, got %r" % (VARIABLE_PREFIX, key, ", ".join(choices), value))
    return value


def _flags(flags):
    flags = flags or {}
    if not isinstance(flags, Mapping):
        raise AnsibleFilterError("%sflags must map allow_* flags to true or false, got %s" % (VARIABLE_PREFIX, _kind(flags)))
    unknown = sorted(str(flag) for flag in flags if flag not in ALLOW_FLAGS)
    if unknown:
        raise AnsibleFilterError("%sflags has unknown flag%s %s; the flags are: %s"
                                 % (VARIABLE_PREFIX, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(ALLOW_FLAGS)))
    return {flag: _bool({"flags.%s" % flag: value}, "flags.%s" % flag) for flag, value in flags.items()}


def _counts(checks, key):
    """{label: (min, max)} from {label: N} (exactly N) or {label: {min: A, max: B}} (either bound optional)."""
    counts = checks.get(key) or {}
    if not isinstance(counts, Mapping):
        raise AnsibleFilterError("%s%s must map names to a count, got %s" % (VARIABLE_PREFIX, key, _kind(counts)))
    return {str(label).strip(): _bounds(value, "%s%s[%s]" % (VARIABLE_PREFIX, key, label)) for label, value in counts.items()}


def _bounds(value, where):
    if _is_count(value):
        return [int(value), int(value)]
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(bound is None or _is_count(bound) for bound in value):
        value = {"min": value[0], "max": value[1]}  # already normalised: [min, max]
    if isinstance(value, Mapping) and value and set(value) <= {"min", "max"} and all(_is_count(bound) for bound in value.values() if bound is not None):
        low, high = value.get("min"), value.get("max")
        if low is None and high is None:
            raise AnsibleFilterError("%s: give min, max or both" % where)
        if low is not None and high is not None and int(low) > int(high):
            raise AnsibleFilterError("%s: min %s is above max %s" % (where, low, high))
        return [None if low is None else int(low), None if high is None else int(high)]
    raise AnsibleFilterError("%s must be a count (a whole number of endpoints) or {min: N, max: M}, got %s" % (where, _kind(value)))


def _is_count(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.strip().isdigit()
    return isinstance(value, int) and value >= 0


def _max_names(value):
    if not _is_count(value):
        raise AnsibleFilterError("%smax_names must be a whole number (0 for no limit), got %s" % (VARIABLE_PREFIX, _kind(value)))
    return int(value)


# Records from the inventory --------------------------------------------------------------------

def inventory_records(hosts, hostvars, prefix="vobiz_"):
    """Normalised records rebuilt from the host variables of vobiz.sip.endpoints hosts (plus inventory_hostname).

    Why the audit reads host variables, and what that costs: docs/design.md. A host must carry every field's
    variable: one the inventory left out would otherwise be audited as null.
    """
    records = []
    for host in hosts or []:
        variables = hostvars[host]
        if variables.get(prefix + "endpoint_id") is None:
            raise AnsibleFilterError("host %s has no %sendpoint_id variable: it does not come from the vobiz.sip.endpoints inventory "
                                     "plugin, or that plugin uses another hostvars_prefix (set endpoint_audit_hostvars_prefix)"
                                     % (host, prefix))
        missing = [prefix + key for key in RECORD_KEYS if prefix + key not in variables]
        if missing:
            raise AnsibleFilterError("host %s lacks the host variable%s %s, so its endpoint cannot be audited from the inventory: "
                                     "let the vobiz.sip.endpoints inventory set every field's variable, or set "
                                     "endpoint_audit_source: api" % (host, "s" if len(missing) > 1 else "", ", ".join(missing)))
        record = {key: variables[prefix + key] for key in RECORD_KEYS}
        record["inventory_hostname"] = str(host)
        records.append(record)
    return records


def group_members(group_names, groups, hostvars, prefix="vobiz_"):
    """{group: [{host, endpoint_id}]} for each named inventory group; None for a group the inventory lacks."""
    members = {}
    for name in group_names or []:
        if name not in groups:
            members[name] = None
            continue
        members[name] = [{"host": str(host), "endpoint_id": hostvars[host].get(prefix + "endpoint_id")} for host in groups[name]]
    return members


# The checks ------------------------------------------------------------------------------------

def audit(records, checks, members=None, now=None):
    """{results: [{check, status, message, endpoints}], summary, lines, dashboard, audited_at} for the records.

    `members` maps each group of registered_groups to its members (see group_members); a group
    missing from it fails its check as not in the inventory. `now` (an aware datetime, default the
    current time) is when registrations are judged fresh.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    checks = normalize_checks(checks)
    records = _checked_records(records)
    show = _name_lister(checks["max_names"])
    results = []
    if checks["registered"]:
        results.append(check_registered(records, checks["registered"], show))
    for group in checks["registered_groups"]:
        results.append(check_group_registered(records, group, (members or {}).get(group), show))
    if checks["require_application"]:
        results.append(check_application_required(records, show))
    if checks["allowed_applications"]:
        results.append(check_allowed_applications(records, checks["allowed_applications"], show))
    for flag, wanted in checks["flags"].items():
        results.extend(check_flag(records, flag, wanted, checks["unreported_flags"], show))
    for label, bounds in checks["counts_by_application"].items():
        results.append(check_application_count(records, label, bounds))
    for label, bounds in checks["counts_by_sub_account"].items():
        results.append(check_sub_account_count(records, label, bounds))
    results.extend(audit_checks.run(records, checks, show, _result, now))
    summary = summarize(results, len(records))
    lines = ["%s %s: %s" % (result["status"].upper(), result["check"], result["message"]) for result in results] + [summary["line"]]
    return {"results": results, "summary": summary, "lines": lines, "dashboard": summarize_endpoints(records),
            "audited_at": now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _checked_records(records):
    records = list(records or [])
    for record in records:
        if not isinstance(record, Mapping) or not record.get("endpoint_id"):
            raise AnsibleFilterError("endpoint_audit checks endpoint records (vobiz.sip.endpoint_info's endpoints), got %s" % _kind(record))
    return [dict({key: None for key in RECORD_KEYS}, **record) for record in records]


def _name_lister(max_names):
    """How messages list endpoint names: all of them, or the first max_names and how many more."""
    def show(names):
        names = [str(name) for name in names]
        if max_names and len(names) > max_names:
            return "%s and %d more" % (", ".join(names[:max_names]), len(names) - max_names)
        return ", ".join(names)
    return show


def check_registered(records, usernames, show):
    """Each listed username (or the form the API rewrote it into) is an endpoint that is registered."""
    tally = _Tally()
    for username in usernames:
        tally.add(username, _find_by_username(records, username))
    return _registration_result("registered", "listed endpoints", len(usernames), tally, show)


def check_group_registered(records, group, members, show):
    """Each endpoint in an inventory group is registered; a group the inventory lacks fails (a typo, usually)."""
    check = "registered_group %s" % group
    if members is None:
        return _result(check, FAILED, "group %s is not in the inventory (check its name, or load the vobiz.sip.endpoints inventory)" % group)
    by_id = {record["endpoint_id"]: record for record in records}
    tally = _Tally()
    for member in members:
        tally.add(member["host"], by_id.get(member["endpoint_id"]) if member["endpoint_id"] else _find_by_username(records, member["host"]))
    return _registration_result(check, "endpoints of group %s" % group, len(members), tally, show)


class _Tally:
    """The endpoints a registration check looked for, sorted by what is wrong with them."""

    def __init__(self):
        self.unregistered, self.missing, self.ambiguous = [], [], []

    def add(self, name, record):
        if record is _AMBIGUOUS:
            self.ambiguous.append(name)
        elif record is None:
            self.missing.append(name)
        elif record["sip_registered"] is not True:
            self.unregistered.append(record["username"])


def _registration_result(check, what, total, tally, show):
    at_fault = tally.unregistered + tally.missing + tally.ambiguous
    if not at_fault:
        return _result(check, PASSED, "all %d %s are registered" % (total, what))
    parts = []
    if tally.unregistered:
        parts.append("%d not registered: %s" % (len(tally.unregistered), show(tally.unregistered)))
    if tally.missing:
        parts.append("%d not among the audited endpoints: %s" % (len(tally.missing), show(tally.missing)))
    if tally.ambiguous:
        parts.append("%d ambiguous (no endpoint has the username exactly, several have it followed by digits; list the "
                     "username the API stored): %s" % (len(tally.ambiguous), show(tally.ambiguous)))
    message = "%d of %d %s fail: %s" % (len(at_fault), total, what, "; ".join(parts))
    return _result(check, FAILED, message, at_fault)


def check_application_required(records, show):
    without = [record["username"] for record in records if not record["application_id"]]
    if not without:
        return _result("application_required", PASSED, "all %d endpoints have an application" % len(records))
    return _result("application_required", FAILED, "%d of %d endpoints have no application: %s" % (len(without), len(records), show(without)), without)


def check_allowed_applications(records, allowed, show):
    """Every endpoint with an application uses one of the allowed ones (by id or name); none is no concern here."""
    outside = [record for record in records
               if record["application_id"] and record["application_id"] not in allowed and record["application_name"] not in allowed]
    if not outside:
        return _result("allowed_applications", PASSED, "every application in use is allowed (%s)" % ", ".join(allowed))
    used = count_by_application(outside)
    names = [record["username"] for record in outside]
    message = "%d endpoints use an application outside the allowed list (%s): %s" % (
        len(outside), ", ".join("%s: %d" % (label, count) for label, count in sorted(used.items())), show(names))
    return _result("allowed_applications", FAILED, message, names)


def check_flag(records, flag, wanted, unreported_policy, show):
    """One result for the flag's value; plus a warning (or, under `fail`, the same failure) for records without it."""
    wrong = [record["username"] for record in records if record.get(flag) is not None and record.get(flag) != wanted]
    unknown = [record["username"] for record in records if record.get(flag) is None]
    shown = "true" if wanted else "false"
    if unreported_policy == "fail":
        wrong += unknown
    failure = None
    if wrong:
        message = "%d of %d endpoints do not have %s %s: %s" % (len(wrong), len(records), flag, shown, show(wrong))
        if unreported_policy == "fail" and unknown:
            message += " (%d of them do not report the flag)" % len(unknown)
        failure = (message, wrong)
    return audit_checks.results_with_unreported(flag, len(records), failure, unknown, flag, "have it %s" % shown,
                                                unreported_policy, show, _result, why_unreported=" (compact API records)")


def check_application_count(records, label, bounds):
    """Endpoints on the application named (or with the id) `label`."""
    matching = [record for record in records if label in (record["application_id"], record["application_name"])]
    return _count_result("count application %s" % label, len(matching), bounds)


def check_sub_account_count(records, label, bounds):
    """Endpoints of the sub-account `label` (its auth_id), or of the main account for `main`."""
    matching = [record for record in records if (record["sub_account"] or MAIN_ACCOUNT) == label]
    return _count_result("count sub_account %s" % label, len(matching), bounds)


def _count_result(check, count, bounds):
    low, high = bounds
    if low == high:
        expected = "exactly %d" % low
    else:
        expected = " and ".join(part for part in ("at least %d" % low if low is not None else "", "at most %d" % high if high is not None else "") if part)
    status = PASSED if (low is None or count >= low) and (high is None or count <= high) else FAILED
    return _result(check, status, "%d endpoints, expected %s" % (count, expected))


def summarize(results, endpoint_count):
    failed = [result["check"] for result in results if result["status"] == FAILED]
    warnings = [result["check"] for result in results if result["status"] == WARNING]
    checks = [result for result in results if result["status"] != WARNING]
    line = "endpoint audit of %d endpoints: %d checks, %d passed, %d failed" % (
        endpoint_count, len(checks), len(checks) - len(failed), len(failed))
    if failed:
        line += " (%s)" % ", ".join(failed)
    if warnings:
        line += ", %d warning%s" % (len(warnings), "" if len(warnings) == 1 else "s")
    if not checks:
        line += "; no check is switched on (see the endpoint_audit role variables)"
    return {"endpoints": endpoint_count, "checks": len(checks), "passed": len(checks) - len(failed), "failed": len(failed),
            "failed_checks": failed, "warnings": len(warnings), "line": line}


def _result(check, status, message, endpoints=()):
    """One check's outcome; `endpoints` names every endpoint at fault (the message may list only the first ones)."""
    return {"check": check, "status": status, "message": message, "endpoints": [str(name) for name in endpoints]}


def _find_by_username(records, username):
    """The record a listed username means (matching.match_endpoint), None, or _AMBIGUOUS when several endpoints
    could be it: that is reported as such, never taken for a missing endpoint."""
    try:
        return match_endpoint(records, username)
    except EndpointError:
        return _AMBIGUOUS


# Filter entry points ---------------------------------------------------------------------------

def endpoint_audit(data, checks, hostvars=None, groups=None, hostvars_prefix="vobiz_"):
    """The audit of endpoint records, or of inventory hosts when `hostvars` is given and `data` lists host names."""
    if hostvars is not None and isinstance(data, (list, tuple)) and all(isinstance(host, str) for host in data):
        data = inventory_records(data, hostvars, hostvars_prefix)
    members = None
    if groups is not None and hostvars is not None:
        members = group_members(normalize_checks(checks)["registered_groups"], groups, hostvars, hostvars_prefix)
    return wrap_var(audit(data, checks, members))


class FilterModule:
    """Provisioning checks for the vobiz.sip.endpoint_audit role."""

    def filters(self):
        return {"endpoint_audit": endpoint_audit}
