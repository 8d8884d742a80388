# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalise Vobiz endpoint records and name things after them.

Private to the vobiz.sip collection: plugins and modules import it, users should not.
The API answers in two documented record shapes (compact Plivo-style and rich) and
drops null keys at will; everything downstream sees one record with every key present.
"""

from __future__ import annotations

import re

from typing import Optional, TypedDict

from ansible_collections.vobiz.sip.plugins.module_utils.values import describe_value, parse_boolean


class MalformedRecordError(ValueError):
    """An API record that no documented shape explains."""


class EndpointRecord(TypedDict):
    endpoint_id: str
    username: Optional[str]
    alias: Optional[str]
    sip_uri: Optional[str]
    sip_registered: Optional[bool]
    sip_contact: Optional[str]
    sip_expires: Optional[str]
    sip_user_agent: Optional[str]
    application_id: Optional[str]
    application_name: Optional[str]
    sub_account: Optional[str]
    allow_voice: Optional[bool]
    allow_message: Optional[bool]
    allow_video: Optional[bool]
    allow_same_domain: Optional[bool]
    allow_other_domains: Optional[bool]
    allow_phones: Optional[bool]
    allow_apps: Optional[bool]
    created_at: Optional[str]
    updated_at: Optional[str]
    resource_uri: Optional[str]


RECORD_KEYS = tuple(EndpointRecord.__annotations__)
ALLOW_FLAGS = (
    "allow_voice", "allow_message", "allow_video", "allow_same_domain",
    "allow_other_domains", "allow_phones", "allow_apps",
)
_TEXT_FIELDS = ("username", "alias", "sip_uri", "created_at", "updated_at", "resource_uri")
_REGISTRATION_FIELDS = {"sip_contact": "contact", "sip_expires": "expires", "sip_user_agent": "user_agent"}
_APPLICATION_URI = re.compile(r"/Application/([^/?#]+)/?$")
_SUB_ACCOUNT_URI = re.compile(r"/Subaccount/([^/?#]+)/?$")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def normalize_endpoint(raw) -> EndpointRecord:
    """Return the normalised record for one API endpoint object, whichever shape it has."""
    if not isinstance(raw, dict):
        raise MalformedRecordError("an endpoint record is %s, not a JSON object" % type(raw).__name__)
    endpoint_id = _text(raw, "endpoint_id")
    if not endpoint_id:
        raise MalformedRecordError("an endpoint record has no endpoint_id (keys: %s)" % ", ".join(sorted(map(repr, raw))[:12]))
    application_id, application_name = _application(raw.get("application"), endpoint_id)
    record = {key: None for key in RECORD_KEYS}
    record.update((field, _text(raw, field, endpoint_id)) for field in _TEXT_FIELDS)
    record.update((flag, _boolean(raw, flag, endpoint_id)) for flag in ALLOW_FLAGS)
    record.update(_registration_details(raw, endpoint_id))
    record.update(
        endpoint_id=endpoint_id,
        sip_registered=_boolean(raw, "sip_registered", endpoint_id),
        application_id=application_id,
        application_name=application_name,
        sub_account=_sub_account(raw.get("sub_account"), endpoint_id),
    )
    return record


def slugify(text) -> str:
    """Group-name slug: lowercase, each run outside a-z0-9 becomes '_', trimmed."""
    return _SLUG_JUNK.sub("_", str(text).lower()).strip("_")


def application_id_of(reference) -> Optional[str]:
    """The app id inside an `application` URI, id or `{app_id}` object (None when there is none)."""
    return _application(reference, "?")[0]


def matches_filters(record, query) -> bool:
    """Whether a normalised record matches every one of the API's endpoint filters, evaluated here.

    `query` is what api.validate_filters() returns (values as the query string carries them). Text filters
    compare case-sensitively and never match a null field, as the API's do.
    """
    for key, wanted in query.items():
        field, _sep, lookup = key.partition("__")
        actual = record[field]
        if lookup == "isnull":
            if (actual is None) != (wanted == "true"):
                return False
        elif actual is None or not _TEXT_LOOKUPS[lookup or "exact"](actual, wanted):
            return False
    return True


_TEXT_LOOKUPS = {
    "exact": lambda actual, wanted: actual == wanted,
    "contains": lambda actual, wanted: wanted in actual,
    "startswith": lambda actual, wanted: actual.startswith(wanted),
}


def _text(raw, field, endpoint_id="?"):
    value = raw.get(field)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise MalformedRecordError("endpoint %s: %s should be text, got %s" % (endpoint_id, field, describe_value(value)))


def _registration_details(raw, endpoint_id):
    """sip_contact/_expires/_user_agent, from top-level keys or the retrieve-only `sip_registration` object."""
    registration = raw.get("sip_registration")
    registration = registration if isinstance(registration, dict) else {}
    details = {}
    for field, nested in _REGISTRATION_FIELDS.items():
        source = raw if raw.get(field) is not None else {field: registration.get(nested)}
        details[field] = _text(source, field, endpoint_id)
    return details


def _boolean(raw, field, endpoint_id):
    value = raw.get(field)
    try:
        return parse_boolean(value, api=True)
    except ValueError:
        raise MalformedRecordError("endpoint %s: %s should be true or false, got %s" % (endpoint_id, field, describe_value(value))) from None


def _application(reference, endpoint_id):
    """(app_id, app_name) from a URI string, a bare id, an {app_id, app_name} object or null."""
    if reference is None or reference == "":
        return None, None
    if isinstance(reference, dict):
        app_id = _text(reference, "app_id", endpoint_id)
        return app_id, _text(reference, "app_name", endpoint_id) if app_id else None
    if isinstance(reference, int) and not isinstance(reference, bool):
        return str(reference), None
    if isinstance(reference, str):
        if reference.isdigit():
            return reference, None
        match = _APPLICATION_URI.search(reference)
        if match:
            return match.group(1), None
    raise MalformedRecordError("endpoint %s: application should be an Application URI, an id or "
                               "{app_id, app_name}, got %s" % (endpoint_id, describe_value(reference)))


def _sub_account(value, endpoint_id):
    if value is None or value == "":
        return None
    if isinstance(value, str):
        match = _SUB_ACCOUNT_URI.search(value)
        return match.group(1) if match else value
    raise MalformedRecordError("endpoint %s: sub_account should be an auth_id, got %s" % (endpoint_id, describe_value(value)))
