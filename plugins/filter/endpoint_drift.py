# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the vobiz.sip.endpoint_drift role: compare a desired endpoint list with the live account.

The comparison is pure: normalised live records (vobiz.sip.endpoint_info's `endpoints`) and the
desired items in, a report out. The report never holds a password; the role looks passwords up
from the desired list only when it creates an endpoint. Documentation: endpoint_drift.yml and
endpoint_drift_markdown.yml beside this file, and docs/drift.md.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vobiz.sip.plugins.module_utils.applications import application_label
from ansible_collections.vobiz.sip.plugins.module_utils.changes import UPDATABLE_FIELDS
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.matching import match_endpoints, username_match
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS
from ansible_collections.vobiz.sip.plugins.module_utils.values import clip, describe_value as _kind, parse_boolean, show_value
from ansible_collections.vobiz.sip.plugins.plugin_utils.markdown import table_cell as _cell

# Bump when the report changes shape, so that tools reading the JSON can tell.
REPORT_FORMAT = 1
TEXT_FIELDS = ("endpoint_id", "password", "alias", "application", "sub_account")
# The fields a desired item may set: vobiz.sip.endpoint's, minus update_password (passwords are only used to create).
ITEM_KEYS = ("username", "state") + TEXT_FIELDS + ALLOW_FLAGS
# The fields compared with the live endpoint, in report order.
COMPARED_FIELDS = ("alias", "application", "sub_account") + ALLOW_FLAGS
# What vobiz.sip.endpoint can change on an existing endpoint (its list, with the option name for the application);
# the rest needs the endpoint recreated.
UPDATABLE = tuple("application" if field == "application_id" else field for field in UPDATABLE_FIELDS)
# Allowed unexpected endpoints the Markdown report names before it only counts them.
MAX_LISTED = 100
NOT_LISTED = "not in the desired list"
LISTED_ABSENT = "listed with state: absent"


# Desired items ---------------------------------------------------------------------------------

def normalize_desired(desired):
    """The desired items checked and cleaned: {username, state, fields} plus the password apart.

    Returns (items, passwords). `fields` holds only the compared fields the item sets; a null value
    means "not managed", as a module option left out. Any mistake raises one error naming the item.
    """
    if desired is None:
        desired = []
    if not isinstance(desired, (list, tuple)):
        raise AnsibleFilterError("the desired endpoints must be a list of mappings (one per endpoint), got %s" % _kind(desired))
    items, passwords, seen_usernames, seen_ids = [], {}, {}, {}
    for position, raw in enumerate(desired, start=1):
        item, password = _normalize_item(raw, position)
        _refuse_duplicate(seen_usernames, item["username"], "username", position)
        if item["endpoint_id"]:
            _refuse_duplicate(seen_ids, item["endpoint_id"], "endpoint_id", position)
        if password is not None:
            passwords[item["username"]] = password
        items.append(item)
    return items, passwords


def _normalize_item(raw, position):
    label = "desired endpoint #%d" % position
    if not isinstance(raw, dict):
        raise AnsibleFilterError("%s must be a mapping with at least a username, got %s" % (label, _kind(raw)))
    unknown = sorted(str(key) for key in raw if key not in ITEM_KEYS)
    if unknown:
        hint = " (passwords are only used to create endpoints; rotate them with vobiz.sip.endpoint)" if "update_password" in unknown else ""
        raise AnsibleFilterError("%s has unknown key%s %s%s; an item may set: %s"
                                 % (label, "s" if len(unknown) > 1 else "", ", ".join(unknown), hint, ", ".join(ITEM_KEYS)))
    username = raw.get("username")
    if not isinstance(username, str) or not username.strip():
        raise AnsibleFilterError("%s has no username; every item needs one (the endpoint's SIP username)" % label)
    username = username.strip()
    label = "desired endpoint %s" % username
    state = raw.get("state") or "present"
    if state not in ("present", "absent"):
        raise AnsibleFilterError("%s: state must be present or absent, got %r" % (label, state))
    values = {key: _text_value(raw.get(key), key, label) for key in TEXT_FIELDS}
    values.update((flag, _flag_value(raw.get(flag), flag, label)) for flag in ALLOW_FLAGS)
    fields = {key: values[key] for key in COMPARED_FIELDS if values[key] is not None}
    item = {"username": username, "state": state, "endpoint_id": values["endpoint_id"], "fields": fields}
    return item, values["password"]


def _text_value(value, key, label):
    if value is None or (isinstance(value, str) and key != "alias" and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        shown = type(value).__name__ if key == "password" else _kind(value)  # never echo what may be a secret
        raise AnsibleFilterError("%s: %s must be text, got %s" % (label, key, shown))
    return str(value) if key == "alias" else str(value).strip()


def _flag_value(value, flag, label):
    try:
        return parse_boolean(value)
    except ValueError:
        raise AnsibleFilterError("%s: %s must be true or false, got %s" % (label, flag, _kind(value))) from None


def _refuse_duplicate(seen, value, key, position):
    if value in seen:
        raise AnsibleFilterError("desired endpoints #%d and #%d have the same %s %s; list each endpoint once"
                                 % (seen[value], position, key, value))
    seen[value] = position


# Matching desired items with live endpoints ----------------------------------------------------

def match_items(items, live):
    """{username of a desired item: its live record} for the items the account has (matching.match_endpoints).

    An item listed as absent matches only as a delete may: by endpoint_id, exact username, or a rewritten
    username its alias confirms; an unconfirmed candidate is an error, never an endpoint planned for deletion.
    """
    wanted = [{"username": item["username"], "endpoint_id": item["endpoint_id"], "alias": item["fields"].get("alias"),
               "state": item["state"]} for item in items]
    try:
        return match_endpoints(wanted, live)
    except EndpointError as error:
        raise AnsibleFilterError(str(error)) from None


# Comparing -------------------------------------------------------------------------------------

def field_differences(item, record):
    """([{field, wanted, actual, updatable}], [unreported flag]) between a desired item and its live record.

    A username the API rewrote from the wanted one is no difference. The application matches by id
    or by name. A flag the live record does not report (the compact API shape has none) cannot be
    compared: it is returned apart, as unverified, not as a difference.
    """
    differences, unreported = [], []
    if username_match(item["username"], record["username"]) is None:
        differences.append(_difference("username", item["username"], record["username"]))
    for field, wanted in item["fields"].items():
        if field in ALLOW_FLAGS and record.get(field) is None:
            unreported.append(field)
        elif field == "application":
            if wanted not in (record.get("application_id"), record.get("application_name")):
                differences.append(_difference(field, wanted, _application(record)))
        elif wanted != record.get(field):
            differences.append(_difference(field, wanted, record.get(field)))
    return differences, unreported


def _difference(field, wanted, actual):
    return {"field": field, "wanted": wanted, "actual": actual, "updatable": field in UPDATABLE}


def _application(record):
    """How a report shows the live application: "name (id)", the id when the name is unknown, or null."""
    return application_label(record.get("application_id"), record.get("application_name"), qualify=True)


def compare(live, desired, allow_unexpected=False, remove_unexpected=False):
    """The drift report (a plain dict, see endpoint_drift.yml) of live records against desired items."""
    if not isinstance(live, (list, tuple)) or not all(isinstance(record, dict) and "endpoint_id" in record for record in live):
        raise AnsibleFilterError("endpoint_drift compares a list of endpoint records (vobiz.sip.endpoint_info's endpoints), got %s"
                                 % _kind(live))
    items, passwords = normalize_desired(desired)
    matches = match_items(items, live)
    report = {"format": REPORT_FORMAT, "missing": [], "unexpected": [], "changed": [], "unverified": [], "in_sync": []}
    for item in items:
        _classify(item, matches.get(item["username"]), item["username"] in passwords, report)
    claimed = {record["endpoint_id"] for record in matches.values()}
    for record in live:
        if record["endpoint_id"] not in claimed:
            report["unexpected"].append(_unexpected(record, NOT_LISTED, allowed=bool(allow_unexpected)))
    report["actions"] = plan_actions(report, remove_unexpected)
    report["remaining"] = remaining_drift(report, remove_unexpected)
    report["summary"] = _summary(report, len(items), len(live))
    report["drift"] = report["summary"]["drift"] > 0
    report["lines"] = report_lines(report)
    return report


def _classify(item, record, has_password, report):
    username = item["username"]
    if item["state"] == "absent":
        if record is None:
            report["in_sync"].append(username)
        else:
            report["unexpected"].append(_unexpected(record, LISTED_ABSENT, allowed=False, username=username))
        return
    if record is None:
        report["missing"].append(_missing(item, has_password))
        return
    differences, unreported = field_differences(item, record)
    if unreported:
        report["unverified"].append(dict(_identity(username, record), fields=unreported))
    if differences:
        report["changed"].append(dict(_identity(username, record), fields=differences))
    else:
        report["in_sync"].append(username)


def _identity(username, record):
    return {"username": username, "live_username": record["username"], "endpoint_id": record["endpoint_id"]}


def _missing(item, has_password):
    missing = {"username": item["username"], "endpoint_id": item["endpoint_id"], "fields": dict(item["fields"]),
               "has_password": has_password, "creatable": True, "reason": None}
    if item["endpoint_id"]:
        missing.update(creatable=False, reason="endpoint_id %s is not on the account; remove it from the item to create "
                                               "a new endpoint" % item["endpoint_id"])
    elif not has_password:
        missing.update(creatable=False, reason="no password in the desired item; the API needs one to create an endpoint")
    return missing


def _unexpected(record, reason, allowed, username=None):
    return {"username": username or record["username"], "live_username": record["username"], "endpoint_id": record["endpoint_id"],
            "alias": record.get("alias"), "application": _application(record), "reason": reason, "allowed": allowed}


def plan_actions(report, remove_unexpected=False):
    """The vobiz.sip.endpoint calls that converge the account: [{action, username, endpoint_id, params}].

    Creates carry every field the item sets; updates only the updatable fields that differ (a field
    the API locks after create would fail the whole task, so it stays reported instead); deletes the
    endpoints listed as absent, and the unlisted ones only with remove_unexpected. No password here.
    """
    actions = [{"action": "create", "username": item["username"], "endpoint_id": None, "params": dict(item["fields"])}
               for item in report["missing"] if item["creatable"]]
    for changed in report["changed"]:
        params = {difference["field"]: difference["wanted"] for difference in changed["fields"] if difference["updatable"]}
        if params:
            actions.append({"action": "update", "username": changed["username"], "endpoint_id": changed["endpoint_id"], "params": params})
    for unexpected in report["unexpected"]:
        if unexpected["reason"] == LISTED_ABSENT or (remove_unexpected and unexpected["reason"] == NOT_LISTED):
            actions.append({"action": "delete", "username": unexpected["username"], "endpoint_id": unexpected["endpoint_id"], "params": {}})
    return actions


def remaining_drift(report, remove_unexpected=False):
    """The drift the planned actions cannot remove: what needs a person (or a recreated endpoint)."""
    return {
        "missing": [{"username": item["username"], "reason": item["reason"]} for item in report["missing"] if not item["creatable"]],
        "unexpected": [item["username"] for item in report["unexpected"]
                       if item["reason"] == NOT_LISTED and not item["allowed"] and not remove_unexpected],
        "changed": [dict(username=item["username"], endpoint_id=item["endpoint_id"],
                         fields=[difference["field"] for difference in item["fields"] if not difference["updatable"]])
                    for item in report["changed"] if not all(difference["updatable"] for difference in item["fields"])],
    }


def _summary(report, desired_count, live_count):
    unexpected = [item for item in report["unexpected"] if not item["allowed"]]
    remaining = report["remaining"]
    return {
        "desired": desired_count,
        "live": live_count,
        "in_sync": len(report["in_sync"]),
        "missing": len(report["missing"]),
        "unexpected": len(unexpected),
        "unexpected_allowed": len(report["unexpected"]) - len(unexpected),
        "changed": len(report["changed"]),
        "unverified": len(report["unverified"]),
        "drift": len(report["missing"]) + len(unexpected) + len(report["changed"]),
        "actions": len(report["actions"]),
        "remaining": sum(len(remaining[kind]) for kind in ("missing", "unexpected", "changed")),
    }


# Console lines ---------------------------------------------------------------------------------

def report_lines(report, max_lines=50):
    """The report as short lines for the play output (report["lines"]): the verdict, then one line per endpoint that drifted."""
    summary = report["summary"]
    lines = []
    for item in report["missing"]:
        lines.append("missing %s%s" % (_line_text(item["username"]), "" if item["creatable"] else " (cannot be created: %s)" % item["reason"]))
    for item in report["changed"]:
        details = "; ".join("%s: wanted %s, actual %s%s" % (difference["field"], _plain(difference["wanted"]), _plain(difference["actual"]),
                                                            "" if difference["updatable"] else " (locked: recreate the endpoint)")
                            for difference in item["fields"])
        lines.append("changed %s (%s): %s" % (_line_text(item["username"]), _line_text(item["endpoint_id"]), details))
    for item in report["unexpected"]:
        if not item["allowed"]:
            lines.append("unexpected %s (%s): %s" % (_line_text(item["live_username"]), _line_text(item["endpoint_id"]), item["reason"]))
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines] + ["... and %d more (see the report)" % (len(lines) - max_lines)]
    if summary["unexpected_allowed"]:
        lines.append("%d endpoint%s on the account not in the desired list (allowed)"
                     % (summary["unexpected_allowed"], _plural(summary["unexpected_allowed"])))
    if summary["unverified"]:
        lines.append("%d endpoint%s could not be compared on every field (flags the API did not report)"
                     % (summary["unverified"], _plural(summary["unverified"])))
    return [_markdown_free(_verdict(summary))] + lines


def _plain(value):
    return show_value(value, lambda text: "'%s'" % _line_text(text))


def _line_text(value):
    """API text on one console line: every control character written out (a newline would start a false line)."""
    return clip(str(value), limit=None)


def _markdown_free(text):
    return text.replace("**", "")


# Markdown --------------------------------------------------------------------------------------

def render_markdown(report, title="Endpoint drift"):
    """The report as Markdown for a pull request: a verdict, one table row per difference, then notes."""
    summary = report["summary"]
    lines = ["# %s" % _cell(title), "", _verdict(summary), ""]
    rows = _difference_rows(report)
    if rows:
        lines += ["| endpoint | endpoint id | difference | field | wanted | actual |", "|---|---|---|---|---|---|"]
        lines += ["| %s |" % " | ".join(row) for row in rows]
        lines.append("")
    lines += _notes(report)
    return "\n".join(lines).rstrip("\n") + "\n"


def _verdict(summary):
    if not summary["drift"]:
        return ("**No drift.** The account matches the desired list (%d endpoint%s; %d endpoint%s on the account)."
                % (summary["desired"], _plural(summary["desired"]), summary["live"], _plural(summary["live"])))
    parts = ["%d %s" % (summary[kind], kind) for kind in ("missing", "unexpected", "changed") if summary[kind]]
    return ("**Drift: %d difference%s** (%s) between the desired list (%d endpoint%s) and the account (%d endpoint%s)."
            % (summary["drift"], _plural(summary["drift"]), ", ".join(parts), summary["desired"], _plural(summary["desired"]),
               summary["live"], _plural(summary["live"])))


def _difference_rows(report):
    rows = []
    for item in report["missing"]:
        note = "missing" if item["creatable"] else "missing (cannot be created: %s)" % item["reason"]
        rows.append([_endpoint_cell(item["username"]), _cell(item["endpoint_id"]), _cell(note), "", "present", "absent"])
    for item in report["changed"]:
        for difference in item["fields"]:
            note = "changed" if difference["updatable"] else "changed (locked: recreate the endpoint)"
            rows.append([_endpoint_cell(item["username"], item["live_username"]), _cell(item["endpoint_id"]), note,
                         _cell(difference["field"]), _value(difference["wanted"]), _value(difference["actual"])])
    for item in report["unexpected"]:
        if not item["allowed"]:
            wanted = "absent" if item["reason"] == LISTED_ABSENT else "(not listed)"
            rows.append([_endpoint_cell(item["username"], item["live_username"]), _cell(item["endpoint_id"]), "unexpected",
                         "", wanted, "present, alias %s" % _value(item["alias"])])
    return rows


def _notes(report):
    notes = []
    allowed = [item for item in report["unexpected"] if item["allowed"]]
    if allowed:
        entries = ["%s (%s)" % (_cell(item["live_username"]), _cell(item["endpoint_id"])) for item in allowed[:MAX_LISTED]]
        if len(allowed) > MAX_LISTED:
            entries.append("and %d more (see the JSON report)" % (len(allowed) - MAX_LISTED))
        notes += _details("%d endpoint%s on the account %s not in the desired list (allowed: endpoint_drift_allow_unexpected)"
                          % (len(allowed), _plural(len(allowed)), "is" if len(allowed) == 1 else "are"), entries)
    if report["unverified"]:
        notes += _details("%d endpoint%s could not be compared on every field: the API did not report them (compact records)"
                          % (len(report["unverified"]), _plural(len(report["unverified"]))),
                          ["%s: %s" % (_cell(item["username"]), ", ".join(item["fields"])) for item in report["unverified"]])
    notes += _remediation_notes(report)
    return notes


def _remediation_notes(report):
    """What remediation does (or would do) about the drift, and what it cannot fix."""
    remediation = report.get("remediation") or {}
    counts = {}
    for action in report["actions"]:
        counts[action["action"]] = counts.get(action["action"], 0) + 1
    planned = ", ".join("%d %s" % (counts[kind], kind) for kind in ("create", "update", "delete") if kind in counts)
    remaining = report["remaining"]
    stuck = ([_cell(item["username"]) for item in remaining["missing"]] + [_cell(name) for name in remaining["unexpected"]]
             + ["%s (%s)" % (_cell(item["username"]), ", ".join(item["fields"])) for item in remaining["changed"]])
    if not planned and not stuck:
        return []
    if not planned:
        text = "Nothing it can change."
    elif not remediation.get("enabled"):
        text = "Off (endpoint_drift_remediate: false); it would run %s." % planned
    elif remediation.get("check_mode"):
        text = "Check mode: it would run %s; nothing was changed." % planned
    else:
        text = "Applied through vobiz.sip.endpoints: %s." % planned
    notes = ["**Remediation.** %s" % text, ""]
    if stuck:
        notes += ["Remediation cannot fix: %s." % ", ".join(stuck), ""]
    return notes


def _details(summary, entries):
    return ["<details><summary>%s</summary>" % summary, "", ", ".join(entries), "", "</details>", ""]


def _endpoint_cell(username, live_username=None):
    if live_username and live_username != username:
        return "%s (stored as %s)" % (_cell(username), _cell(live_username))
    return _cell(username)


def _value(value):
    return show_value(value, _cell)


def _plural(count):
    return "" if count == 1 else "s"


# Filter entry points ---------------------------------------------------------------------------

def endpoint_drift(live, desired, allow_unexpected=False, remove_unexpected=False):
    return wrap_var(compare(live, desired, allow_unexpected=_option("allow_unexpected", allow_unexpected),
                            remove_unexpected=_option("remove_unexpected", remove_unexpected)))


def _option(name, value):
    try:
        return bool(parse_boolean(value))
    except ValueError:
        raise AnsibleFilterError("endpoint_drift: %s must be true or false, got %s" % (name, _kind(value))) from None


def endpoint_drift_markdown(report, title="Endpoint drift"):
    return wrap_var(render_markdown(report, title=title))


class FilterModule:
    """Drift comparison and report rendering for the vobiz.sip.endpoint_drift role."""

    def filters(self):
        return {
            "endpoint_drift": endpoint_drift,
            "endpoint_drift_markdown": endpoint_drift_markdown,
        }
