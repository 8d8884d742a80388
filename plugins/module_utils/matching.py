# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which live endpoint a task or a desired item means (private to vobiz.sip; pure).

The one matching rule of the collection: the module vobiz.sip.endpoint, the drift comparison and the
audit's username checks all use it. An endpoint is matched by its endpoint_id, by its exact username,
or by a username the API rewrote on create: the wanted username followed by digits, with the alias
telling several such endpoints apart.

A delete never rests on a guess: it takes an endpoint matched by endpoint_id (whose username is the
task's, or a rewritten form of it), by exact username, or by a rewritten username that the alias
confirms. Any other candidate makes it an error that lists them.
"""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.values import show_value

_DIGITS = "0123456789"


def username_match(wanted, actual):
    """'exact', 'rewritten' (the wanted username plus digits the API appended on create) or None."""
    if actual == wanted:
        return "exact"
    if actual and wanted and actual.startswith(wanted) and actual[len(wanted):].isdigit():
        return "rewritten"
    return None


def match_endpoint(records, username, alias=None, endpoint_id=None, deleting=False):
    """The live endpoint (one of `records`) a task means, or None when it has none; see the module notes.

    0. With `endpoint_id`, the endpoint with that id. To delete it, its username must be `username` or
       a form the API rewrote from it (a task names what it deletes twice); else EndpointError.
    1. The endpoint whose username is exactly `username` (usernames are unique on an account).
    2. Else the endpoints whose username is `username` followed only by digits, the form the API
       gives usernames it rewrites on create: the one whose alias is `alias` when an alias is given
       and exactly one has it; else the only such endpoint. Several left is an error listing them.
       `deleting` takes only the one the alias confirms: any other candidate is an error listing them.
    """
    if endpoint_id:
        return _pinned_match(username, next((record for record in records if record["endpoint_id"] == endpoint_id), None), deleting)
    exact = [record for record in records if record["username"] == username]
    if exact:
        return exact[0]
    rewritten = [record for record in records if username_match(username, record["username"]) == "rewritten"]
    return _rewritten_match(username, alias, rewritten, deleting)


def match_endpoints(wanted, live):
    """{username of a wanted endpoint: its live record} for the wanted endpoints the account has.

    `wanted` lists {username, endpoint_id, alias, state} (endpoint_id and alias may be None; state is
    "present", the default, or "absent", which matches as match_endpoint does for a delete). By endpoint_id
    when one is given; else the exact username; else match_endpoint's rule for usernames the API rewrote.
    Exact matches are taken first so that a rewritten form never steals an endpoint another item names
    exactly, and each live endpoint answers at most one item. Raises EndpointError naming the item it
    cannot match.
    """
    matches, claimed = {}, set()
    by_id = {record["endpoint_id"]: record for record in live}
    by_username, by_stem = {}, {}  # by_stem: username without its trailing digits, where its rewritten forms are
    for record in live:
        by_username.setdefault(record["username"], record)
        by_stem.setdefault((record["username"] or "").rstrip(_DIGITS), []).append(record)

    def claim(item, record):
        if record is not None:
            matches[item["username"]] = record
            claimed.add(record["endpoint_id"])

    try:
        for item in wanted:
            if item.get("endpoint_id"):
                claim(item, _pinned_match(item["username"], by_id.get(item["endpoint_id"]), _deleting(item)))
        for item in wanted:
            record = by_username.get(item["username"])
            if not item.get("endpoint_id") and record is not None and record["endpoint_id"] not in claimed:
                claim(item, record)
        for item in wanted:
            if item["username"] in matches or item.get("endpoint_id"):
                continue
            candidates = [record for record in by_stem.get(item["username"].rstrip(_DIGITS), ())
                          if record["endpoint_id"] not in claimed and username_match(item["username"], record["username"]) == "rewritten"]
            claim(item, _rewritten_match(item["username"], item.get("alias"), candidates, _deleting(item)))
    except EndpointError as error:
        raise EndpointError("desired endpoint %s: %s" % (item["username"], error)) from None
    return matches


def _deleting(item):
    return item.get("state") == "absent"


def _pinned_match(username, record, deleting):
    """The endpoint an endpoint_id names; deleting it needs the task's username to be its own (or rewritten into it)."""
    if record is not None and deleting and username_match(username, record["username"]) is None:
        raise EndpointError("endpoint %s has username %s, not %s; refusing to delete it. Check endpoint_id and username"
                            % (record["endpoint_id"], record["username"], username))
    return record


def _rewritten_match(username, alias, rewritten, deleting=False):
    """Which of the endpoints whose usernames the API may have rewritten from `username` the task means."""
    same_alias = [record for record in rewritten if alias is not None and record["alias"] == alias]
    if len(same_alias) == 1:
        return same_alias[0]
    if deleting and rewritten:
        raise EndpointError("no endpoint has username %r exactly, and %s; refusing to delete on a guess. Candidates: %s. "
                            "Set endpoint_id to the endpoint to delete, or alias to the alias that confirms it"
                            % (username, _unconfirmed(alias, len(rewritten), len(same_alias)), describe_endpoints(rewritten)))
    if same_alias:
        rewritten = same_alias
    if len(rewritten) <= 1:
        return rewritten[0] if rewritten else None
    raise EndpointError("username %r matches no endpoint exactly, and %d endpoints whose usernames the API may have "
                        "rewritten from it: %s. Set endpoint_id to the one you mean%s"
                        % (username, len(rewritten), describe_endpoints(rewritten),
                           "" if alias is not None else ", or set alias to tell them apart"))


def _unconfirmed(alias, candidates, with_alias):
    """Why none of the endpoints with rewritten usernames is confirmed for a delete."""
    what = "%d endpoint%s %s a username the API may have rewritten from it" % (
        candidates, "" if candidates == 1 else "s", "has" if candidates == 1 else "have")
    if alias is None:
        return "%s, and no alias was given to confirm one" % what
    if with_alias:
        return "%s, %d of them with alias %r" % (what, with_alias, alias)
    return "%s, none with alias %r" % (what, alias)


def describe_endpoints(records):
    """Endpoints listed for a message: "id (username u, alias a), ..."."""
    return ", ".join("%s (username %s, alias %s)" % (record["endpoint_id"], record["username"], show_value(record["alias"]))
                     for record in records)
