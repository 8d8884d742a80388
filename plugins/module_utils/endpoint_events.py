# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the event source vobiz.sip.endpoint_events decides, as pure functions.

Private to the vobiz.sip collection. The source (extensions/eda/plugins/event_source/endpoint_events.py)
only lists, sleeps and queues; its arguments are checked by `source_settings` and every event comes from
`diff_listings`, which compares two complete listings and nothing else. No Ansible import here: the
source runs inside ansible-rulebook, whose venv need not hold ansible-core.
"""

from __future__ import annotations

import difflib
import math

from ansible_collections.vobiz.sip.plugins.module_utils.api import DEFAULT_API_URL, DEFAULT_LISTING_TIMEOUT, VobizError, validate_filters
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS
from ansible_collections.vobiz.sip.plugins.module_utils.values import parse_boolean

SOURCE_NAME = "vobiz.sip.endpoint_events"
EVENT_TYPES = ("registered", "unregistered", "created", "deleted", "changed")
# Fields that move with every (re-)registration of a phone: the contact address, the expiry the phone renews
# every few minutes, its user agent and the record's updated_at (which the API may bump on re-registration).
# They are carried in the events but never compared: registration changes only through sip_registered.
VOLATILE_FIELDS = frozenset(("sip_contact", "sip_expires", "sip_user_agent", "updated_at"))
COMPARED_FIELDS = tuple(key for key in RECORD_KEYS if key != "endpoint_id" and key not in VOLATILE_FIELDS)
MIN_INTERVAL = 1
# After a failed listing the next try waits interval * 2 ** failures, at most this long (or interval if longer).
MAX_BACKOFF = 300

# name: (environment variable, default). The connection settings are the modules' (doc fragment vobiz.sip.vobiz).
ARGUMENTS = {
    "auth_id": ("VOBIZ_AUTH_ID", None),
    "auth_token": ("VOBIZ_AUTH_TOKEN", None),
    "api_url": ("VOBIZ_API_URL", DEFAULT_API_URL),
    "validate_certs": ("VOBIZ_VALIDATE_CERTS", True),
    "timeout": (None, 30),
    "retries": (None, 5),
    "page_size": (None, 100),
    "max_concurrency": (None, 4),
    "listing_timeout": ("VOBIZ_LISTING_TIMEOUT", DEFAULT_LISTING_TIMEOUT),
    "filters": (None, None),
    "interval": (None, 60),
    "events": (None, list(EVENT_TYPES)),
    "initial_state": (None, False),
}
CLIENT_ARGUMENTS = ("auth_id", "auth_token", "api_url", "validate_certs", "timeout", "retries", "page_size", "max_concurrency",
                    "listing_timeout")


def source_settings(args, environ):
    """The source's arguments checked and completed from the environment; VobizError names what is wrong.

    Keys that start with `eda_` belong to ansible-rulebook (it adds eda_feedback_queue) and are ignored.
    """
    if not isinstance(args, dict):
        raise VobizError("%s: the source's arguments must be a mapping, got %s" % (SOURCE_NAME, type(args).__name__))
    given = {key: value for key, value in args.items() if not str(key).startswith("eda_")}
    unknown = sorted(set(map(str, given)) - set(ARGUMENTS))
    if unknown:
        hints = ["%s (did you mean %s?)" % (name, close[0]) if close else name
                 for name, close in ((name, difflib.get_close_matches(name, list(ARGUMENTS), n=1, cutoff=0.6)) for name in unknown)]
        raise VobizError("%s: unknown argument%s %s; valid arguments: %s"
                         % (SOURCE_NAME, "s" if len(unknown) > 1 else "", ", ".join(hints), ", ".join(ARGUMENTS)))
    settings = {}
    for name, (env, default) in ARGUMENTS.items():
        value = given.get(name)
        if value is None and env:
            value = environ.get(env) or None
        settings[name] = default if value is None else value
    settings["validate_certs"] = _boolean("validate_certs", settings["validate_certs"])
    settings["initial_state"] = _boolean("initial_state", settings["initial_state"])
    settings["interval"] = _interval(settings["interval"])
    settings["events"] = _event_types(settings["events"])
    validate_filters(settings["filters"])
    settings["filters"] = dict(settings["filters"] or {})
    return settings


def index_listing(records):
    """{endpoint_id: record} of one listing; a repeated endpoint_id means the listing is not consistent."""
    indexed = {}
    for record in records:
        endpoint_id = record["endpoint_id"]
        if endpoint_id in indexed:
            raise VobizError("the listing holds endpoint %s twice, so it is not consistent" % endpoint_id)
        indexed[endpoint_id] = record
    return indexed


def diff_listings(account, before, after, timestamp, kinds=EVENT_TYPES):
    """The events that turn listing `before` into listing `after` (both {endpoint_id: record}), of the given kinds.

    Each difference gives exactly one event: a new id `created`, a vanished id `deleted`, sip_registered turning
    true `registered` and turning from true `unregistered`, and any other compared field (sip_registered between
    null and false included) one `changed` event per endpoint listing those fields. Volatile fields never count.
    Order: the new listing's order, then deletions in the old listing's order.
    """
    events = []
    for endpoint_id, record in after.items():
        previous = before.get(endpoint_id)
        if previous is None:
            events.append(endpoint_event("created", account, record, None, [], timestamp))
            continue
        registration = registration_change(previous.get("sip_registered"), record.get("sip_registered"))
        if registration:
            events.append(endpoint_event(registration, account, record, previous, ["sip_registered"], timestamp))
        changed = [field for field in COMPARED_FIELDS if previous.get(field) != record.get(field)
                   and not (registration and field == "sip_registered")]
        if changed:
            events.append(endpoint_event("changed", account, record, previous, changed, timestamp))
    for endpoint_id, previous in before.items():
        if endpoint_id not in after:
            events.append(endpoint_event("deleted", account, previous, previous, [], timestamp))
    return [event for event in events if event["vobiz"]["type"] in kinds]


def initial_events(account, listing, timestamp, kinds=EVENT_TYPES):
    """A `created` event marked initial for every endpoint of the first listing (the initial_state switch)."""
    if "created" not in kinds:
        return []
    return [endpoint_event("created", account, record, None, [], timestamp, initial=True) for record in listing.values()]


def registration_change(before, after):
    """'registered', 'unregistered' or None (no change, or only between unknown (null) and false)."""
    if before == after:
        return None
    if after is True:
        return "registered"
    if before is True:
        return "unregistered"
    return None


def endpoint_event(kind, account, record, previous, changed, timestamp, initial=False):
    """One event as ansible-rulebook receives it: everything under the key `vobiz`."""
    return {"vobiz": {
        "type": kind,
        "account": account,
        "endpoint_id": record["endpoint_id"],
        "endpoint": dict(record),
        "previous": dict(previous) if previous is not None else None,
        "changed": list(changed),
        "timestamp": timestamp,
        "initial": initial,
    }}


def retry_delay(interval, failures):
    """Seconds to wait after `failures` failed listings in a row (at least 1)."""
    return min(interval * 2 ** failures, max(interval, MAX_BACKOFF))


def _boolean(name, value):
    try:
        return parse_boolean(value, null=False)
    except ValueError:
        raise VobizError("%s: %s must be true or false, got %r" % (SOURCE_NAME, name, value)) from None


def _interval(value):
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number) or number < MIN_INTERVAL:
        raise VobizError("%s: interval must be a number of seconds, at least %s, got %r" % (SOURCE_NAME, MIN_INTERVAL, value))
    return number


def _event_types(value):
    kinds = [value] if isinstance(value, str) else value
    if not isinstance(kinds, (list, tuple)) or not kinds:
        raise VobizError("%s: events must be a non-empty list of event types (%s), got %r"
                         % (SOURCE_NAME, ", ".join(EVENT_TYPES), value))
    unknown = [kind for kind in kinds if kind not in EVENT_TYPES]
    if unknown:
        raise VobizError("%s: unknown event type%s %s in events; the types are: %s"
                         % (SOURCE_NAME, "s" if len(unknown) > 1 else "", ", ".join(map(str, unknown)), ", ".join(EVENT_TYPES)))
    return tuple(dict.fromkeys(kinds))
