# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a task wants of an endpoint, what that changes, and the requests that change it (private; pure).

The functions take normalised records (records.py) and option values and return plain data: the
managed fields, the differences the API can and cannot change, the create and update bodies, the
record as it will be, and what the API ignored of a write.
"""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.matching import username_match
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS, RECORD_KEYS
from ansible_collections.vobiz.sip.plugins.module_utils.values import show_value

# The API refuses to change these after create (API reference, section 2).
LOCKED_FIELDS = ("username", "sub_account", "allow_same_domain", "allow_other_domains", "allow_phones", "allow_apps")
# What an update request may carry besides the password, named as in the normalised record.
UPDATABLE_FIELDS = ("alias", "application_id", "allow_voice", "allow_message", "allow_video")


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
    details = "; ".join("%s: wanted %s, actual %s" % (field, show_value(wanted), show_value(actual)) for field, wanted, actual in conflicts)
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
    """The JSON body of a create: the given fields only, plus the required username and password.

    No password is an EndpointError: the API requires one, and it never returns one to reuse.
    """
    if not password:
        raise EndpointError("password is required to create endpoint %s, which does not exist yet" % desired["username"])
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
    details = "; ".join("%s: sent %s, now %s" % (field, show_value(wanted), show_value(actual)) for field, wanted, actual in ignored)
    return ("the Vobiz API accepted the request but endpoint %s does not show what was sent: %s. The API may ignore "
            "that field; check the endpoint and report the behaviour to the vobiz.sip maintainers" % (record["endpoint_id"], details))
