# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What vobiz.sip.endpoints does for each state: which endpoints to create, update and delete.

Private to the vobiz.sip collection. Pure functions: the config items (as AnsibleModule checked
them), the live normalised records and the state in, a plan out. Which live endpoint an item means is
matching.py's rule (the one vobiz.sip.endpoint and the drift role use); each action carries what the
endpoint module's own change logic (changes.py, diff.py) makes of one item: the desired fields, the
changes, the request body, the records before and after. Nothing here sends a request.
"""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.applications import resolve_application
from ansible_collections.vobiz.sip.plugins.module_utils.changes import (
    changed_fields,
    create_request,
    desired_fields,
    locked_conflict_message,
    locked_conflicts,
    planned_record,
    unreported_fields,
    update_request,
)
from ansible_collections.vobiz.sip.plugins.module_utils.diff import endpoint_diff
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.matching import match_endpoints
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS

STATES = ("merged", "replaced", "overridden", "deleted", "gathered")
# The fields of a config item besides username, state, endpoint_id and password (vobiz.sip.endpoint's options).
ITEM_FIELDS = ("alias", "application", "sub_account") + ALLOW_FLAGS
# What replaced and overridden give a field an item leaves out: the documented create defaults of the API
# (API reference, section 2). alias and application have no fixed default (the API wants an alias; the
# application defaults to the account's default_endpoint_app), so those two stay as they are when left out.
REPLACED_DEFAULTS = {
    "allow_voice": True, "allow_message": True, "allow_video": False,
    "allow_same_domain": True, "allow_other_domains": False, "allow_phones": True, "allow_apps": True,
}
# Planning errors listed in one failure before it only counts the rest.
MAX_ERRORS = 20


# Scope and config ------------------------------------------------------------------------------

def check_scope(state, filters, scope, config):
    """Refuse a task that would delete beyond what the user named, before any request."""
    if scope == "account" and filters:
        raise EndpointError("scope: account means every endpoint of the account, but filters narrow it (%s); "
                            "leave scope out to work on the filtered endpoints, or drop filters" % ", ".join(sorted(filters)))
    wholesale = state == "overridden" or (state == "deleted" and not config)
    if wholesale and not filters and scope != "account":
        what = "overridden deletes every endpoint in scope that config does not name" if state == "overridden" else \
            "deleted with an empty config deletes every endpoint in scope"
        raise EndpointError("%s, and no filters narrow the scope: set filters (for example sub_account), or set "
                            "scope: account to mean the whole account" % what)


def check_items(items):
    """Each endpoint named once: a username or an endpoint_id twice is an error naming both items."""
    seen = {}
    for position, item in enumerate(items, start=1):
        for key in ("username", "endpoint_id"):
            value = item.get(key)
            if value is None:
                continue
            if (key, value) in seen:
                raise EndpointError("config items #%d and #%d have the same %s %s; list each endpoint once"
                                    % (seen[(key, value)], position, key, value))
            seen[(key, value)] = position


def needs_applications(items):
    """True when an item names its application by name (an all-digit reference is taken as an app_id)."""
    return any(item.get("application") and not str(item["application"]).strip().isdigit() for item in items)


# Planning --------------------------------------------------------------------------------------

def plan(items, live, state, applications=None, scope_sub_account=None):
    """The actions that make the account what `state` asks, and the warnings to show.

    items: the config (every option key present, None where not given); live: the normalised
    records in scope; applications: the Application list when needs_applications(items), else None.
    Returns (actions, warnings). Every problem found (a locked field, a create without a password,
    an unknown application...) is collected and raised as one EndpointError before anything is sent; a
    match the matcher refuses (ambiguous, or a delete it cannot confirm) fails at once, also before.
    """
    matches = match_config(items, live, state)
    actions, warnings, errors = [], [], []
    for item, record in zip(items, matches):
        try:
            action = _plan_item(item, record, state, applications, scope_sub_account, warnings)
        except EndpointError as error:
            errors.append(str(error))
            continue
        if action:
            actions.append(action)
    if state == "overridden" or (state == "deleted" and not items):
        named = {record["endpoint_id"] for record in matches if record is not None}
        actions += [delete_action(record["username"], record) for record in live if record["endpoint_id"] not in named]
    if errors:
        shown = errors[:MAX_ERRORS] + (["and %d more" % (len(errors) - MAX_ERRORS)] if len(errors) > MAX_ERRORS else [])
        raise EndpointError("%d config item%s cannot be applied, so nothing was changed: %s"
                            % (len(errors), "" if len(errors) == 1 else "s", "; ".join(shown)))
    return actions, warnings


def match_config(items, live, state):
    """[live record or None] per item, by matching.match_endpoints; with state deleted every item is a delete.

    A delete the matcher cannot confirm (see matching.py) fails the whole task before anything is sent.
    """
    wanted = [{"username": item["username"], "endpoint_id": item.get("endpoint_id"), "alias": item.get("alias"),
               "state": "absent" if is_delete(item, state) else "present"} for item in items]
    try:
        matches = match_endpoints(wanted, live)
    except EndpointError as error:
        raise EndpointError("a config item cannot be matched, so nothing was changed: %s" % error) from None
    return [matches.get(item["username"]) for item in items]


def is_delete(item, state):
    return state == "deleted" or item.get("state") == "absent"


def _plan_item(item, record, state, applications, scope_sub_account, warnings):
    if is_delete(item, state):
        return delete_action(item["username"], record) if record is not None else None
    if item.get("endpoint_id") and record is None:
        raise EndpointError("endpoint_id %s (%s) is not on the account; remove endpoint_id from the item to create it"
                            % (item["endpoint_id"], item["username"]))
    desired = item_fields(item, state, applications, scope_sub_account)
    if record is None:
        return create_action(item, desired)
    conflicts = locked_conflicts(desired, record)
    if conflicts:
        raise EndpointError(locked_conflict_message(record, conflicts))
    unreported = unreported_fields(desired, record)
    if unreported:
        warnings.append("endpoint %s (%s): the API did not report %s (compact record), so %s neither checked nor changed"
                        % (record["endpoint_id"], record["username"], ", ".join(unreported), "it was" if len(unreported) == 1 else "they were"))
    changes = changed_fields(desired, record)
    if not changes:
        return None
    return update_action(item["username"], record, changes)


def item_fields(item, state, applications=None, scope_sub_account=None):
    """The fields an item manages, named as in the record: what it gives, plus the defaults replaced fills in."""
    params = dict(item)
    if state in ("replaced", "overridden"):
        for field, default in REPLACED_DEFAULTS.items():
            if params.get(field) is None:
                params[field] = default
        if params.get("sub_account") is None:
            params["sub_account"] = scope_sub_account
    reference = params.get("application")
    application = None
    if reference:
        application = resolve_application(reference, applications) if applications is not None else (str(reference).strip(), None)
    desired = desired_fields(params, application)
    if state in ("replaced", "overridden") and "sub_account" not in desired:
        desired["sub_account"] = None  # the main account: compared as a locked field
    return desired


def create_action(item, desired):
    wanted = {field: value for field, value in desired.items() if value is not None}
    return {"action": "create", "username": item["username"], "endpoint_id": None, "before": None,
            "after": planned_record(wanted), "wanted": wanted, "request": create_request(wanted, item["password"])}


def update_action(username, record, changes):
    return {"action": "update", "username": username, "endpoint_id": record["endpoint_id"], "before": record,
            "after": planned_record(changes, record), "wanted": changes, "request": update_request(changes)}


def delete_action(username, record):
    return {"action": "delete", "username": username, "endpoint_id": record["endpoint_id"], "before": record,
            "after": None, "wanted": {}, "request": None}


# What the result shows -------------------------------------------------------------------------

def command(action):
    """The API request of an action, as network resource modules list their commands (no values, no password)."""
    if action["action"] == "create":
        fields = sorted(key for key in action["request"] if key != "password")
        return "POST Endpoint/ (create %s: %s)" % (action["username"], ", ".join(fields))
    if action["action"] == "update":
        return "POST Endpoint/%s/ (update %s: %s)" % (action["endpoint_id"], action["username"],
                                                      ", ".join(sorted(action["request"])))
    return "DELETE Endpoint/%s/ (delete %s)" % (action["endpoint_id"], action["username"])


def action_report(action, outcome, error=None):
    """One entry of the module's `actions`: what, on which endpoint, which fields, and how it ended."""
    fields = sorted(key for key in action["wanted"] if key != "application_name")
    entry = {"action": action["action"], "username": action["username"], "endpoint_id": action["endpoint_id"],
             "fields": fields, "outcome": outcome}
    if error:
        entry["error"] = error
    return entry


def actions_diff(actions):
    """Ansible's diff for many endpoints: the managed fields of each one acted on, keyed by endpoint, no password."""
    before, after = {}, {}
    for action in actions:
        key = action_label(action)
        single = endpoint_diff(action["before"], action["after"], password_sent=action["action"] == "create")
        if single["before"]:
            before[key] = single["before"]
        if single["after"]:
            after[key] = single["after"]
    return {"before": before, "after": after}


def action_label(action):
    return "%s (%s)" % (action["username"], action["endpoint_id"] or "new")


def as_config(record):
    """A live record as a config item (the drift role's desired-item format): only the fields it reports.

    The application goes by id (names may be shared); no endpoint_id, so the file names endpoints as
    people do; never a password (the API does not return it).
    """
    item = {"username": record["username"]}
    if record.get("alias") is not None:
        item["alias"] = record["alias"]
    if record.get("application_id"):
        item["application"] = record["application_id"]
    if record.get("sub_account"):
        item["sub_account"] = record["sub_account"]
    item.update((flag, record[flag]) for flag in ALLOW_FLAGS if record.get(flag) is not None)
    return item
