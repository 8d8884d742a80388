# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the endpoint modules (and the roles) decide, kept apart from what they send.

Private to the vobiz.sip collection. The pure functions here take normalised records
(see records.py) and option values and return plain data: the account summary, which
live endpoint a task means, what it would change, what a field lock forbids, the diff.
The few functions taking an AnsibleModule only glue that to the client in api.py.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vobiz.sip.plugins.module_utils.api import HAS_REQUESTS, VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.module_args import client_from_params
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS, RECORD_KEYS

# The API refuses to change these after create (API reference, section 2).
LOCKED_FIELDS = ("username", "sub_account", "allow_same_domain", "allow_other_domains", "allow_phones", "allow_apps")
# What an update request may carry besides the password, named as in the normalised record.
UPDATABLE_FIELDS = ("alias", "application_id", "allow_voice", "allow_message", "allow_video")
# The fields vobiz.sip.endpoint manages, in the order diffs show them.
MANAGED_FIELDS = ("username", "alias", "application_id", "application_name", "sub_account") + ALLOW_FLAGS
# Stands in for the password wherever a diff must say one is sent; the value itself never appears.
PASSWORD_MARKER = "<set, not shown>"
MAIN_ACCOUNT = "main"


class EndpointError(Exception):
    """A task that cannot be carried out as asked; the message names the cause and the fix.

    `result` holds what the task did before it failed (changed, endpoint, diff), for fail_json.
    """

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result or {}


# Summary ---------------------------------------------------------------------------------------

def summarize_endpoints(records):
    """Counts over normalised records: registration, applications, sub-accounts.

    Applications are keyed by name, or by id when the name is unknown; when two applications share
    a name each key gets its id appended, so counts of different applications never merge.
    """
    names_by_id = {}
    for record in records:
        if record["application_id"]:
            names_by_id.setdefault(record["application_id"], record["application_name"])
    ids_by_name = {}
    for app_id, name in names_by_id.items():
        if name:
            ids_by_name.setdefault(name, set()).add(app_id)
    registered = sum(1 for record in records if record["sip_registered"] is True)
    by_application = {}
    by_sub_account = {}
    for record in records:
        if record["application_id"]:
            key = _application_label(record["application_id"], names_by_id, ids_by_name)
            by_application[key] = by_application.get(key, 0) + 1
        account = record["sub_account"] or MAIN_ACCOUNT
        by_sub_account[account] = by_sub_account.get(account, 0) + 1
    return {
        "total": len(records),
        "registered": registered,
        "unregistered": len(records) - registered,
        "without_application": sum(1 for record in records if not record["application_id"]),
        "by_application": by_application,
        "by_sub_account": by_sub_account,
    }


def _application_label(app_id, names_by_id, ids_by_name):
    name = names_by_id.get(app_id)
    if not name:
        return app_id
    return name if len(ids_by_name[name]) == 1 else "%s (%s)" % (name, app_id)


# Applications ----------------------------------------------------------------------------------

def resolve_application(reference, applications):
    """The (app_id, app_name) an `application` option means: an app_id first, else an exact app_name.

    `applications` is the account's Application list (dicts with app_id and app_name). An unknown
    or ambiguous reference is an error that lists what the account has.
    """
    reference = str(reference).strip()
    by_id = [app for app in applications if str(app.get("app_id")) == reference]
    if by_id:
        return str(by_id[0]["app_id"]), by_id[0].get("app_name")
    by_name = [app for app in applications if app.get("app_name") == reference]
    if len(by_name) == 1:
        return str(by_name[0]["app_id"]), by_name[0].get("app_name")
    if by_name:
        raise EndpointError("application %r is ambiguous: %d applications have that name (%s); give the app_id instead"
                            % (reference, len(by_name), _describe_applications(by_name)))
    raise EndpointError("application %r is neither the app_id nor the name of an application on this account; it has: %s"
                        % (reference, _describe_applications(applications) or "no applications"))


def label_applications(records, applications):
    """Fill application_name from the account's Application list where a record carries only the id."""
    names = {str(app.get("app_id")): app.get("app_name") for app in applications}
    for record in records:
        if record["application_id"] and not record["application_name"]:
            record["application_name"] = names.get(record["application_id"])
    return records


def _describe_applications(applications):
    return ", ".join("%s (%s)" % (app.get("app_name"), app.get("app_id")) for app in applications)


# Which endpoint a task means -------------------------------------------------------------------

def username_match(wanted, actual):
    """'exact', 'rewritten' (the wanted username plus digits the API appended on create) or None."""
    if actual == wanted:
        return "exact"
    if actual and wanted and actual.startswith(wanted) and actual[len(wanted):].isdigit():
        return "rewritten"
    return None


def find_endpoint(records, username, alias=None):
    """The live endpoint a task with this username (and alias) means, or None; see the module notes.

    1. The endpoint whose username is exactly `username` (usernames are unique on an account).
    2. Else the endpoints whose username is `username` followed only by digits, the form the API
       gives usernames it rewrites on create: the one whose alias is `alias` when an alias is given
       and exactly one has it; else the only such endpoint. Several left is an error listing them.
    """
    exact = [record for record in records if username_match(username, record["username"]) == "exact"]
    if exact:
        return exact[0]
    rewritten = [record for record in records if username_match(username, record["username"]) == "rewritten"]
    if alias is not None:
        same_alias = [record for record in rewritten if record["alias"] == alias]
        if len(same_alias) == 1:
            return same_alias[0]
        if same_alias:
            rewritten = same_alias
    if len(rewritten) <= 1:
        return rewritten[0] if rewritten else None
    raise EndpointError("username %r matches no endpoint exactly, and %d endpoints whose usernames the API may have "
                        "rewritten from it: %s. Set endpoint_id to the one you mean%s"
                        % (username, len(rewritten), describe_endpoints(rewritten),
                           "" if alias is not None else ", or set alias to tell them apart"))


def describe_endpoints(records):
    return ", ".join("%s (username %s, alias %s)" % (record["endpoint_id"], record["username"], _show(record["alias"]))
                     for record in records)


# What a task wants, and what that changes ------------------------------------------------------

def desired_fields(params, application=None):
    """The managed fields a task sets (options left out are not managed), named as in the record.

    `application` is the resolved (app_id, app_name) of the `application` option, if any.
    """
    desired = {"username": params["username"]}
    for field in ("alias", "sub_account") + ALLOW_FLAGS:
        if params.get(field) is not None:
            desired[field] = params[field]
    if application:
        desired["application_id"], desired["application_name"] = application
    return desired


def locked_conflicts(desired, live):
    """[(field, wanted, actual)] for fields the API cannot change that differ from the live endpoint.

    A username the API rewrote from the wanted one is no conflict. A field the API did not report
    (compact records carry no allow_* flags) cannot be checked, so it is no conflict either.
    """
    conflicts = []
    for field in LOCKED_FIELDS:
        if field not in desired:
            continue
        wanted, actual = desired[field], live.get(field)
        if field == "username":
            if username_match(wanted, actual) is None:
                conflicts.append((field, wanted, actual))
        elif field == "sub_account":
            if (wanted or None) != actual:
                conflicts.append((field, wanted, actual))
        elif actual is not None and wanted != actual:
            conflicts.append((field, wanted, actual))
    return conflicts


def locked_conflict_message(live, conflicts):
    details = "; ".join("%s: wanted %s, actual %s" % (field, _show(wanted), _show(actual)) for field, wanted, actual in conflicts)
    return ("endpoint %s (username %s) differs in field%s the Vobiz API cannot change after create: %s. Recreate the "
            "endpoint to change %s (state: absent, then present), or make the task match the live endpoint"
            % (live["endpoint_id"], live["username"], "s" if len(conflicts) > 1 else "", details,
               "them" if len(conflicts) > 1 else "it"))


def changed_fields(desired, live):
    """{field: wanted} for the updatable fields whose wanted value differs from the live one.

    A flag the API did not report (see unreported_fields) cannot be compared and is left out.
    """
    changes = {}
    for field in UPDATABLE_FIELDS:
        if field not in desired or (field in ALLOW_FLAGS and live.get(field) is None):
            continue
        if desired[field] != live.get(field):
            changes[field] = desired[field]
    if "application_id" in changes:
        changes["application_name"] = desired.get("application_name")
    return changes


def unreported_fields(desired, live):
    """The allow_* flags a task sets that the live record does not report (the compact shape has none)."""
    return [flag for flag in ALLOW_FLAGS if flag in desired and live.get(flag) is None]


def create_request(desired, password):
    """The JSON body of a create: the given fields only, plus the required username and password."""
    body = {"username": desired["username"], "password": password}
    for field in ("alias", "sub_account") + ALLOW_FLAGS:
        if field in desired:
            body[field] = desired[field]
    body.update(_application_fields(desired))
    return body


def update_request(changes, password=None):
    """The JSON body of an update: changed fields only, and the password when it is to be sent."""
    body = {field: changes[field] for field in ("alias", "allow_voice", "allow_message", "allow_video") if field in changes}
    body.update(_application_fields(changes))
    if password is not None:
        body["password"] = password
    return body


def _application_fields(fields):
    """Both spellings of the application: the docs name `application`, but field reports say update
    ignores it and only `app_id` works, so both are sent (the API wants the id as a number)."""
    if not fields.get("application_id"):
        return {}
    app_id = fields["application_id"]
    app_id = int(app_id) if str(app_id).isdigit() else app_id
    return {"application": app_id, "app_id": app_id}


def planned_record(desired, live=None):
    """The record as it will be after the change: the live one updated, or a new one (no endpoint_id yet)."""
    record = dict(live) if live else {key: None for key in RECORD_KEYS}
    for field, value in desired.items():
        if field == "username" and live:
            continue  # the live username may be a rewritten form of the wanted one; it stays
        record[field] = value
    return record


def unapplied_fields(wanted, record):
    """[(field, wanted, actual)]: fields a write sent that the endpoint, read back, does not show."""
    changes = changed_fields(wanted, record)
    ignored = [(field, changes[field], record.get(field)) for field in changes if field != "application_name"]
    return ignored + locked_conflicts(wanted, record)


def unapplied_message(record, ignored):
    details = "; ".join("%s: sent %s, now %s" % (field, _show(wanted), _show(actual)) for field, wanted, actual in ignored)
    return ("the Vobiz API accepted the request but endpoint %s does not show what was sent: %s. The API may ignore "
            "that field; check the endpoint and report the behaviour to the vobiz.sip maintainers" % (record["endpoint_id"], details))


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


def _show(value):
    """A value as a YAML user writes it: null, true/false, text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# AnsibleModule glue ----------------------------------------------------------------------------

def require_requests(module):
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))


def connect(module):
    """A VobizClient for the module's connection options; raises VobizError for a bad option."""
    require_requests(module)
    return client_from_params(module.params, warn=module.warn)


def fail(module, error, **result):
    """Fail the task with the error's own message (it names the cause and the fix, never the token)."""
    if isinstance(error, VobizError) and error.status:
        result.setdefault("status", error.status)
    module.fail_json(msg=str(error), **result)
