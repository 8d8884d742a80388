"""A local, faithful simulator of the Vobiz REST API (SIP endpoints, applications, sub-accounts).

Used by ``make demo``, the integration tests, the benchmarks and users' own CI.  Stdlib plus
PyYAML only, and it binds to 127.0.0.1 only.  See README.md next to this file for the data
format, the switches and the control API.

Library use::

    with Simulator("tests/simulator/data/sample.yaml", shape="rich") as sim:
        requests.get(sim.url + "/api/v1/Account/MA_DEMO0001/Endpoint/", headers=...)
        assert len(sim.requests) == 1

Command line::

    python tests/simulator/vobiz_simulator.py --data tests/simulator/data/sample.yaml --port 0
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import operator
import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

LOOPBACK = "127.0.0.1"
REGISTRAR_HOST = "registrar.vobiz.ai"
LISTENING_MESSAGE = "vobiz simulator listening on {url}"

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
DEFAULT_SUB_ACCOUNT_PAGE_SIZE = 25
FIRST_ENDPOINT_ID = 100000000000001  # 15 digits, like the ids in the docs
REWRITE_DIGITS = 12
DEFAULT_TIMESTAMP = "2026-01-01T00:00:00Z"
DEFAULT_APP_CREATED = "2026-01-01 00:00:00.000000+00:00"
DEFAULT_SUB_ACCOUNT_CREATED = "2026-01-01"

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_]+", re.ASCII)
DIGITS_PATTERN = re.compile(r"[0-9]+", re.ASCII)
MIN_PASSWORD_LENGTH = 8

# Documented create defaults (D-create).
ALLOW_DEFAULTS = {
    "allow_voice": True,
    "allow_message": True,
    "allow_video": False,
    "allow_same_domain": True,
    "allow_other_domains": False,
    "allow_phones": True,
    "allow_apps": True,
}
UPDATABLE_FLAGS = ("allow_voice", "allow_message", "allow_video")
LOCKED_FIELDS = ("username", "endpoint_id", "domain", "allow_same_domain", "allow_other_domains",
                 "allow_phones", "allow_apps", "sub_account")

# The documented text filters: query key -> (record field, test(value, wanted)).
TEXT_FILTERS = {
    "username__contains": ("username", operator.contains),
    "username__exact": ("username", operator.eq),
    "username__startswith": ("username", str.startswith),
    "alias__contains": ("alias", operator.contains),
    "alias__exact": ("alias", operator.eq),
}

ERROR_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    411: "LENGTH_REQUIRED", 429: "RATE_LIMIT_EXCEEDED", 500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
}
STATUS_MESSAGES = {
    429: "Too many requests, slow down",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}
HTML_502_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                 b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
                 b"</body>\r\n</html>\r\n")

DEFAULT_SWITCHES = {
    "shape": "compact",
    "responses": "prose",
    "nulls": "present",
    "latency_ms": 0,
    "auth_check": True,
    "limit_over_max": "reject",
    "rewrite_usernames": False,
    "update_ignores_application": False,
    "error_style": "flat",
    "faults": [],
    "page_mutations": [],
    "total_count_extra": 0,
    "rate_limit": None,
}


class InvalidParameters(Exception):
    """A request the API answers with 400 and a ``details`` map of field -> message."""

    def __init__(self, details):
        super().__init__("invalid request parameters")
        self.details = details


# --------------------------------------------------------------------------- small helpers

def new_api_id():
    return str(uuid.uuid4())


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_int(text, default):
    """Parse a query value; None when it is not an integer."""
    if text is None:
        return default
    text = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII):
        return None
    return int(text)


def parse_bool(text):
    """Parse a query boolean; None when it is not one."""
    return {"true": True, "1": True, "false": False, "0": False}.get(str(text).strip().lower())


def drop_nulls(value):
    """Leave out keys whose value is null, at every depth (the C# SDK fixture's style)."""
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def stable_number(text):
    """A number derived from an id, for deterministic per-record choices."""
    return int(text) if DIGITS_PATTERN.fullmatch(text) else zlib.crc32(text.encode("utf-8"))


def as_text(value):
    """Ids and timestamps as strings; YAML turns unquoted ones into ints, dates and datetimes."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def as_bool(value, where):
    if isinstance(value, bool):
        return value
    parsed = parse_bool(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"{where}: expected a boolean, got {value!r}")
    return parsed


# --------------------------------------------------------------------------- data loading

def load_data(source):
    """Read a data file (YAML or JSON) or take a dict; returns the canonical, validated dataset."""
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
    else:
        path = os.fspath(source)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        raw = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    return canonical_dataset(raw)


def canonical_dataset(raw):
    if not isinstance(raw, dict):
        raise ValueError("simulator data must be a mapping with auth_id, auth_token, applications, sub_accounts, endpoints")
    for key in ("auth_id", "auth_token"):
        if not raw.get(key):
            raise ValueError(f"simulator data: '{key}' is required")
    # Hostile-data tests need usernames the real API would refuse (Jinja, quotes, newlines): opt in explicitly.
    any_username = as_bool(raw.get("allow_any_username", False), "allow_any_username")
    dataset = {
        "auth_id": str(raw["auth_id"]),
        "auth_token": str(raw["auth_token"]),
        "applications": [canonical_application(item, index) for index, item in enumerate(raw.get("applications") or [])],
        "sub_accounts": [canonical_sub_account(item, index) for index, item in enumerate(raw.get("sub_accounts") or [])],
        "endpoints": [canonical_endpoint(item, index, any_username) for index, item in enumerate(raw.get("endpoints") or [])],
    }
    check_dataset(dataset)
    return dataset


def canonical_application(raw, index):
    where = f"applications[{index}]"
    if not isinstance(raw, dict) or raw.get("app_id") is None:
        raise ValueError(f"{where}: a mapping with app_id is required")
    app_id = as_text(raw["app_id"])
    return {
        "app_id": app_id,
        "app_name": as_text(raw.get("app_name", f"Application {app_id}")),
        "answer_url": raw.get("answer_url"),
        "answer_method": raw.get("answer_method", "POST"),
        "sub_account": raw.get("sub_account"),
        "default_endpoint_app": as_bool(raw.get("default_endpoint_app", False), where),
        "created": as_text(raw.get("created", DEFAULT_APP_CREATED)),
    }


def canonical_sub_account(raw, index):
    where = f"sub_accounts[{index}]"
    if not isinstance(raw, dict) or not raw.get("auth_id"):
        raise ValueError(f"{where}: a mapping with auth_id is required")
    return {
        "auth_id": str(raw["auth_id"]),
        "name": as_text(raw.get("name", raw["auth_id"])),
        "id": as_text(raw.get("id", str(5001 + index))),
        "enabled": as_bool(raw.get("enabled", True), where),
        "created": as_text(raw.get("created", DEFAULT_SUB_ACCOUNT_CREATED)),
    }


def canonical_endpoint(raw, index, any_username=False):
    """The one internal form of an endpoint; response shapes are rendered from it per request."""
    where = f"endpoints[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping")
    username = as_text(raw.get("username"))
    if not username or not (any_username or USERNAME_PATTERN.fullmatch(username)):
        raise ValueError(f"{where}: username must be letters, digits and underscores, got {username!r}")
    record = {
        "endpoint_id": as_text(raw.get("endpoint_id")),  # None: the Account assigns one
        "username": username,
        "alias": as_text(raw.get("alias")),
        "app_id": as_text(raw.get("app_id")),
        "sub_account": raw.get("sub_account"),
        "sip_registered": as_bool(raw.get("sip_registered", False), where),
        "sip_contact": raw.get("sip_contact"),
        "sip_expires": as_text(raw.get("sip_expires")),
        "sip_user_agent": raw.get("sip_user_agent"),
        "sip_received": raw.get("sip_received"),
        "sip_path": raw.get("sip_path"),
        "created_at": as_text(raw.get("created_at", DEFAULT_TIMESTAMP)),
        "updated_at": as_text(raw.get("updated_at", raw.get("created_at", DEFAULT_TIMESTAMP))),
        "password": raw.get("password"),
    }
    for flag, default in ALLOW_DEFAULTS.items():
        record[flag] = as_bool(raw.get(flag, default), f"{where}.{flag}")
    return record


def check_dataset(dataset):
    """Reject data the real API could never hold; dangling app ids are allowed on purpose."""
    sub_accounts = {item["auth_id"] for item in dataset["sub_accounts"]}
    seen_ids, seen_names = set(), set()
    for index, endpoint in enumerate(dataset["endpoints"]):
        where = f"endpoints[{index}]"
        if endpoint["endpoint_id"] in seen_ids:
            raise ValueError(f"{where}: duplicate endpoint_id {endpoint['endpoint_id']}")
        if endpoint["username"] in seen_names:
            raise ValueError(f"{where}: duplicate username {endpoint['username']}")
        if endpoint["sub_account"] is not None and endpoint["sub_account"] not in sub_accounts:
            raise ValueError(f"{where}: unknown sub_account {endpoint['sub_account']}")
        if endpoint["endpoint_id"] is not None:
            seen_ids.add(endpoint["endpoint_id"])
        seen_names.add(endpoint["username"])
    app_ids = [app["app_id"] for app in dataset["applications"]]
    if len(set(app_ids)) != len(app_ids):
        raise ValueError("applications: duplicate app_id")


# --------------------------------------------------------------------------- generated data

BUILTIN_APPLICATIONS = [
    {"app_id": "20000000000000001", "app_name": "Front Desk", "answer_url": "https://example.invalid/answer/front"},
    {"app_id": "20000000000000002", "app_name": "front-desk", "answer_url": "https://example.invalid/answer/front2"},
    {"app_id": "20000000000000003", "app_name": "Sales", "answer_url": "https://example.invalid/answer/sales"},
    {"app_id": "20000000000000004", "app_name": "Support Line", "answer_url": "https://example.invalid/answer/support"},
    {"app_id": "20000000000000005", "app_name": "R\u00e9ception \u2013 Paris", "answer_url": "https://example.invalid/answer/paris"},
]
BUILTIN_SUB_ACCOUNTS = [
    {"auth_id": "SA_BRANCH01", "name": "Branch 01", "id": "5001", "created": "2026-01-15"},
    {"auth_id": "SA_LAB0002", "name": "Lab", "id": "5002", "created": "2026-02-20"},
]
USER_AGENTS = ("Zoiper rv2.10.20.2", "Linphone/5.2.5", "Yealink SIP-T46U 108.86.0.20", "MicroSIP/3.21.3")


def generate_data(count, base=None):
    """N deterministic endpoints for benchmarks, over base's applications/sub-accounts or a built-in set.

    40% are registered, 10% have no application, 20% belong to the two sub-accounts.
    """
    base = dict(base or {})
    applications = base.get("applications") or BUILTIN_APPLICATIONS
    sub_accounts = base.get("sub_accounts") or BUILTIN_SUB_ACCOUNTS
    app_ids = [str(app["app_id"]) for app in applications]
    sub_ids = [str(sub["auth_id"]) for sub in sub_accounts]
    return {
        "auth_id": base.get("auth_id", "MA_DEMO0001"),
        "auth_token": base.get("auth_token", "demo-token-not-secret"),
        "applications": copy.deepcopy(applications),
        "sub_accounts": copy.deepcopy(sub_accounts),
        "endpoints": [generated_endpoint(index, app_ids, sub_ids) for index in range(count)],
    }


def generated_endpoint(index, app_ids, sub_ids):
    username = f"bench{index:06d}"
    registered = index % 5 in (0, 3)
    sub_account = {3: sub_ids[0], 6: sub_ids[-1]}.get(index % 10) if sub_ids else None
    host = f"198.51.100.{index % 250 + 1}:5060"
    return {
        "endpoint_id": str(FIRST_ENDPOINT_ID + index),
        "username": username,
        "alias": f"Bench Phone {index}",
        "app_id": None if index % 10 == 9 or not app_ids else app_ids[index % len(app_ids)],
        "sub_account": sub_account,
        "sip_registered": registered,
        "sip_contact": f"sip:{username}@{host};transport=udp" if registered else None,
        "sip_expires": "2026-04-02T13:00:00Z" if registered else None,
        "sip_user_agent": USER_AGENTS[index % len(USER_AGENTS)] if registered else None,
        "sip_received": host if registered else None,
        "created_at": DEFAULT_TIMESTAMP,
        "updated_at": DEFAULT_TIMESTAMP,
    }


# --------------------------------------------------------------------------- switches

def choice_switch(*choices):
    def validate(value):
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")
        return value
    return validate


def bool_switch(value):
    return as_bool(value, "switch")


def latency_switch(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"must be a number >= 0; got {value!r}")
    return value


def int_switch(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer; got {value!r}")
    return value


def positive_number(rule, key, default):
    value = rule.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"'{key}' must be a number > 0; got {value!r}")
    return value


def count_field(rule, key, default, minimum):
    value = rule.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"'{key}' must be an integer >= {minimum}; got {value!r}")
    return value


def rate_limit_switch(value):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("must be null or {rate, burst, retry_after}")
    retry_after = value.get("retry_after", True)
    if not isinstance(retry_after, bool):
        raise ValueError(f"'retry_after' must be true or false; got {retry_after!r}")
    return {"rate": positive_number(value, "rate", None), "burst": count_field(value, "burst", 1, 1),
            "retry_after": retry_after}


def faults_switch(value):
    if not isinstance(value, list):
        raise ValueError("must be a list of rules")
    return [fault_rule(rule) for rule in value]


def fault_rule(rule):
    if not isinstance(rule, dict) or str(rule.get("kind")) not in FAULT_HANDLERS:
        raise ValueError(f"each fault needs a kind out of {', '.join(FAULT_HANDLERS)}; got {rule!r}")
    normalised = {"kind": str(rule["kind"]), "times": count_field(rule, "times", 1, 1)}
    if rule.get("method") is not None:
        normalised["method"] = str(rule["method"]).upper()
    if rule.get("path_contains") is not None:
        normalised["path_contains"] = str(rule["path_contains"])
    if rule.get("retry_after") is not None:
        normalised["retry_after"] = str(rule["retry_after"])
    if normalised["kind"] == "slow":
        normalised["delay_s"] = positive_number(rule, "delay_s", 1.0)
    if normalised["kind"] == "redirect":
        if not isinstance(rule.get("location"), str) or not rule["location"]:
            raise ValueError(f"a redirect fault needs a location (a URL); got {rule!r}")
        normalised["location"] = rule["location"]
    return normalised


def page_mutations_switch(value):
    if not isinstance(value, list):
        raise ValueError("must be a list of rules")
    return [page_mutation_rule(rule) for rule in value]


def page_mutation_rule(rule):
    if not isinstance(rule, dict):
        raise ValueError(f"each page mutation must be a mapping; got {rule!r}")
    where = rule.get("where", "end")
    if where not in ("start", "end"):
        raise ValueError(f"'where' must be start or end; got {where!r}")
    return {
        "after_list_requests": count_field(rule, "after_list_requests", None, 1),
        "add": count_field(rule, "add", 0, 0),
        "remove": count_field(rule, "remove", 0, 0),
        "where": where,
    }


SWITCH_VALIDATORS = {
    "shape": choice_switch("compact", "rich", "mixed"),
    "responses": choice_switch("prose", "openapi"),
    "nulls": choice_switch("present", "omit"),
    "latency_ms": latency_switch,
    "auth_check": bool_switch,
    "limit_over_max": choice_switch("reject", "clamp"),
    "rewrite_usernames": bool_switch,
    "update_ignores_application": bool_switch,
    "error_style": choice_switch("flat", "nested", "text"),
    "faults": faults_switch,
    "page_mutations": page_mutations_switch,
    "total_count_extra": int_switch,
    "rate_limit": rate_limit_switch,
}


def merge_switches(current, changes):
    """A new switch dict with changes validated and applied; ValueError names the bad switch."""
    merged = copy.deepcopy(current)
    for name, value in changes.items():
        if name not in SWITCH_VALIDATORS:
            raise ValueError(f"unknown switch '{name}'; known: {', '.join(SWITCH_VALIDATORS)}")
        try:
            merged[name] = SWITCH_VALIDATORS[name](copy.deepcopy(value))
        except ValueError as exc:
            raise ValueError(f"switch '{name}': {exc}") from exc
    return merged


# --------------------------------------------------------------------------- requests and responses

@dataclass
class ApiRequest:
    method: str
    target: str  # path and query exactly as sent; what fault rules match against
    path: str
    query: dict
    headers: dict = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json_body(self):
        """The parsed JSON body, or None when there is none or it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            return None

    def json_object(self):
        body = self.json_body()
        if not isinstance(body, dict):
            raise InvalidParameters({"body": "a JSON object is required"})
        return body


@dataclass
class ApiResponse:
    status: int
    payload: object = None  # JSON-serialisable; encoded outside the lock
    raw: bytes = None  # a ready body (text, HTML, truncated JSON) instead of payload
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    drop_connection: bool = False  # the "reset" fault: close without answering
    fault: str = None
    served_by: object = None  # the VobizApi (account) the request arrived at; see Simulator.serve_api

    def body_bytes(self):
        if self.raw is not None:
            return self.raw
        if self.payload is None:
            return b""
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def invalid_parameters(details):
    # 400 and 409 bodies are the endpoint pages' flat ones whatever error_style says.
    return ApiResponse(400, {"api_id": new_api_id(), "error": "invalid request parameters", "details": details})


def error_response(style, status, message, extra=None, headers=None):
    """An error body in the configured style: flat (endpoint pages), nested (D-err) or plain text."""
    headers = dict(headers or {})
    if style == "text":
        return ApiResponse(status, raw=(message + "\n").encode("utf-8"), content_type="text/plain; charset=utf-8", headers=headers)
    if style == "nested":
        payload = {
            "status": "error",
            "error": {"code": ERROR_CODES.get(status, "ERROR"), "message": message, "details": dict(extra or {})},
            "timestamp": utc_now(),
            "requestId": new_api_id(),
        }
    else:
        payload = {"api_id": new_api_id(), "error": message}
        payload.update(extra or {})
    return ApiResponse(status, payload, headers=headers)


# --------------------------------------------------------------------------- rendering

def application_uri(auth_id, app_id):
    return f"/v1/Account/{auth_id}/Application/{app_id}/"


def endpoint_uri(auth_id, endpoint_id):
    return f"/v1/Account/{auth_id}/Endpoint/{endpoint_id}/"


def render_compact(endpoint, auth_id):
    """Shape A (Plivo style): what the reference says the server most likely returns today."""
    app_id = endpoint["app_id"]
    return {
        "alias": endpoint["alias"],
        "application": application_uri(auth_id, app_id) if app_id is not None else None,
        "endpoint_id": endpoint["endpoint_id"],
        "resource_uri": endpoint_uri(auth_id, endpoint["endpoint_id"]),
        "sip_registered": "true" if endpoint["sip_registered"] else "false",
        "sip_uri": f"sip:{endpoint['username']}@{REGISTRAR_HOST}",
        "sub_account": endpoint["sub_account"],
        "username": endpoint["username"],
    }


def render_rich(endpoint, auth_id, applications, detail):
    """Shape B (D-obj): real allow_* booleans, timestamps, registration fields, application object."""
    registered = endpoint["sip_registered"]
    record = render_compact(endpoint, auth_id)
    record["application"] = render_application_ref(endpoint["app_id"], applications, detail)
    record.update({flag: endpoint[flag] for flag in ALLOW_DEFAULTS})
    record.update({
        "created_at": endpoint["created_at"],
        "updated_at": endpoint["updated_at"],
        "sip_contact": endpoint["sip_contact"] if registered else None,
        "sip_expires": endpoint["sip_expires"] if registered else None,
        "sip_user_agent": endpoint["sip_user_agent"] if registered else None,
    })
    if detail and registered:
        record["sip_registration"] = {
            "contact": endpoint["sip_contact"],
            "expires": endpoint["sip_expires"],
            "user_agent": endpoint["sip_user_agent"],
            "received": endpoint["sip_received"],
            "path": endpoint["sip_path"],
        }
    return record


def render_application_ref(app_id, applications, detail):
    if app_id is None:
        return None
    app = applications.get(app_id, {})  # a dangling id still renders, without a name
    ref = {"app_id": app_id, "app_name": app.get("app_name")}
    if detail:
        ref.update({"answer_url": app.get("answer_url"), "answer_method": app.get("answer_method")})
    return ref


def render_application(app, auth_id):
    return {
        "app_id": app["app_id"],
        "app_name": app["app_name"],
        "answer_url": app["answer_url"],
        "answer_method": app["answer_method"],
        "resource_uri": application_uri(auth_id, app["app_id"]),
        "sub_account": app["sub_account"],
        "default_endpoint_app": app["default_endpoint_app"],
        "created": app["created"],
    }


def render_sub_account(sub, auth_id):
    return {
        "id": sub["id"],
        "auth_id": sub["auth_id"],
        "name": sub["name"],
        "enabled": sub["enabled"],
        "created": sub["created"],
        "resource_uri": f"/v1/Account/{auth_id}/Subaccount/{sub['auth_id']}/",
        "auth_token": "********",
    }


def page_meta(auth_id, resource, limit, offset, total):
    # next/previous are host-less and lack /api, as on the Application list page (D-app).
    base = f"/v1/Account/{auth_id}/{resource}/"
    return {
        "limit": limit,
        "offset": offset,
        "total_count": total,
        "next": f"{base}?limit={limit}&offset={offset + limit}" if offset + limit < total else None,
        # Past the end, previous is the page that ends at the last record rather than another empty page.
        "previous": f"{base}?limit={limit}&offset={max(min(offset, total) - limit, 0)}" if offset > 0 else None,
    }


# --------------------------------------------------------------------------- the account

class Account:
    """The simulated account's data in canonical form; the Simulator's lock guards it."""

    def __init__(self, dataset):
        self.auth_id = dataset["auth_id"]
        self.auth_token = dataset["auth_token"]
        self.applications = {app["app_id"]: app for app in dataset["applications"]}
        self.sub_accounts = {sub["auth_id"]: sub for sub in dataset["sub_accounts"]}
        numeric_ids = [int(ep["endpoint_id"]) for ep in dataset["endpoints"]
                       if ep["endpoint_id"] and DIGITS_PATTERN.fullmatch(ep["endpoint_id"])]
        self.next_endpoint_id = max(numeric_ids + [FIRST_ENDPOINT_ID - 1]) + 1
        self.rewrite_serial = 0
        self.added_serial = 0
        self.endpoints = {}  # endpoint_id -> record, in API (insertion) order
        for endpoint in dataset["endpoints"]:
            endpoint["endpoint_id"] = endpoint["endpoint_id"] or self.new_endpoint_id()
            self.endpoints[endpoint["endpoint_id"]] = endpoint

    def new_endpoint_id(self):
        endpoint_id = str(self.next_endpoint_id)
        self.next_endpoint_id += 1
        return endpoint_id

    def usernames(self):
        return {endpoint["username"] for endpoint in self.endpoints.values()}

    def rewritten_username(self, base):
        """Append digits like the field reports (sairam8391265128911238046), deterministically."""
        taken = self.usernames()
        while True:
            self.rewrite_serial += 1
            digits = (839126512891 + self.rewrite_serial * 104729) % 10 ** REWRITE_DIGITS
            candidate = f"{base}{digits:0{REWRITE_DIGITS}d}"
            if candidate not in taken:
                return candidate

    def default_application(self, sub_account):
        """Create without an application gets the account's default_endpoint_app, if any (D-create)."""
        for app in self.applications.values():
            if app["default_endpoint_app"] and app["sub_account"] == sub_account:
                return app["app_id"]
        return None

    def add_endpoint(self, username, **fields):
        now = utc_now()
        record = canonical_endpoint({"username": username, "created_at": now, "updated_at": now}, 0)
        record.update(fields)
        record["endpoint_id"] = self.new_endpoint_id()
        self.endpoints[record["endpoint_id"]] = record
        return record

    def mutate(self, rule):
        """Remove then add endpoints at the start or end of the API order (a page_mutations rule)."""
        at_start = rule["where"] == "start"
        ids = list(self.endpoints)
        for endpoint_id in ids[:rule["remove"]] if at_start else ids[len(ids) - rule["remove"]:]:
            del self.endpoints[endpoint_id]
        added = [self.add_endpoint(self.unused_username("paged")) for _count in range(rule["add"])]
        for record in added:
            record["alias"] = f"Added while paging ({record['username']})"
        if at_start:  # the new block goes first, in creation order
            self.endpoints = {**{record["endpoint_id"]: record for record in added}, **self.endpoints}

    def unused_username(self, prefix):
        taken = self.usernames()
        while True:
            self.added_serial += 1
            candidate = f"{prefix}{self.added_serial:05d}"
            if candidate not in taken:
                return candidate

    def snapshot(self):
        return {
            "auth_id": self.auth_id,
            "applications": copy.deepcopy(list(self.applications.values())),
            "sub_accounts": copy.deepcopy(list(self.sub_accounts.values())),
            "endpoints": copy.deepcopy(list(self.endpoints.values())),
        }


# --------------------------------------------------------------------------- request validation

def check_username(value, details):
    if not isinstance(value, str) or not value:
        details["username"] = "this field is required (a string)"
    elif not USERNAME_PATTERN.fullmatch(value):
        details["username"] = "only letters, digits and underscores are allowed"
    return value


def check_password(value, details):
    if not isinstance(value, str) or not value:
        details["password"] = "this field is required (a string)"
    elif len(value) < MIN_PASSWORD_LENGTH:
        details["password"] = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    return value


def check_alias(value, details):
    if value is not None and not isinstance(value, str):
        details["alias"] = "must be a string"
    return value


def check_flags(body, names, details):
    flags = {}
    for name in names:
        if name in body:
            if isinstance(body[name], bool):
                flags[name] = body[name]
            else:
                details[name] = "must be a boolean"
    return flags


UNCHANGED = object()


def requested_application(body, applications, details, keys):
    """The app id asked for through the given keys (application, app_id); UNCHANGED when absent.

    Ids may be ints or numeric strings (ints in requests, strings in responses); null clears.
    """
    wanted = {}
    for key in keys:
        if key not in body:
            continue
        raw = body[key]
        if raw is None or raw == "":
            wanted[key] = None
        elif isinstance(raw, bool) or not DIGITS_PATTERN.fullmatch(str(raw).strip()):
            details[key] = "must be an integer application id"
        elif str(raw).strip() not in applications:
            details[key] = f"application {str(raw).strip()} does not exist"
        else:
            wanted[key] = str(raw).strip()
    if len(set(wanted.values())) > 1:
        details["app_id"] = "application and app_id name different applications"
    return next(iter(wanted.values())) if wanted else UNCHANGED


# --------------------------------------------------------------------------- the API

ACCOUNT_PATH = r"^/api/v1/Account/(?P<auth>[^/]+)/"
ROUTES = (
    (re.compile(ACCOUNT_PATH + r"Endpoint/$"), {"GET": "list_endpoints", "POST": "create_endpoint"}),
    (re.compile(ACCOUNT_PATH + r"Endpoint/(?P<item>[^/]+)/$"),
     {"GET": "get_endpoint", "POST": "update_endpoint", "DELETE": "delete_endpoint"}),
    (re.compile(ACCOUNT_PATH + r"Application/$"), {"GET": "list_applications"}),
    (re.compile(ACCOUNT_PATH + r"Application/(?P<item>[^/]+)/$"), {"GET": "get_application"}),
    (re.compile(r"^/api/v1/accounts/(?P<auth>[^/]+)/sub-accounts/$"), {"GET": "list_sub_accounts"}),
)


def find_route(path):
    for pattern, methods in ROUTES:
        match = pattern.match(path)
        if match:
            return match, methods
    return None, {}


class VobizApi:
    """Answers Vobiz API requests from an Account; the caller holds the Simulator's lock."""

    def __init__(self, account, switches):
        self.account = account
        self.switches = switches  # the Simulator's live dict
        self.list_requests = 0  # Endpoint list requests answered, for page_mutations

    def answer(self, request):
        match, methods = find_route(request.path)
        if request.path.startswith("/api/") and not self.authenticated(request, match):
            return self.error(401, "Authentication failed")
        if match is None:
            return self.error(404, f"Not found: {request.path}")
        if request.method not in methods:
            return self.error(405, f"Method {request.method} not allowed on {request.path}")
        arguments = {key: value for key, value in match.groupdict().items() if key != "auth"}
        try:
            return getattr(self, methods[request.method])(request, **arguments)
        except InvalidParameters as exc:
            return invalid_parameters(exc.details)

    def authenticated(self, request, match):
        if not self.switches["auth_check"]:
            return True
        if match is not None and match.group("auth") != self.account.auth_id:
            return False  # an account you cannot see is a 401, like a bad token
        return (request.headers.get("x-auth-id") == self.account.auth_id
                and request.headers.get("x-auth-token") == self.account.auth_token)

    def error(self, status, message, extra=None, headers=None):
        return error_response(self.switches["error_style"], status, message, extra, headers)

    def json(self, status, body):
        if self.switches["nulls"] == "omit":
            body = drop_nulls(body)
        return ApiResponse(status, body)

    def page_window(self, query):
        """limit/offset per the docs; the undocumented edges (limit > 100) follow limit_over_max."""
        details = {}
        limit = parse_int(query.get("limit"), DEFAULT_LIMIT)
        if limit is None or limit <= 0:
            details["limit"] = "must be a positive integer"
        elif limit > MAX_LIMIT:
            if self.switches["limit_over_max"] == "clamp":
                limit = MAX_LIMIT
            else:
                details["limit"] = f"must not exceed {MAX_LIMIT}"
        offset = parse_int(query.get("offset"), 0)
        if offset is None or offset < 0:
            details["offset"] = "must be a non-negative integer"
        if details:
            raise InvalidParameters(details)
        return limit, offset

    # ---- endpoints

    def render(self, endpoint, detail):
        shape = self.switches["shape"]
        rich = shape == "rich" or (shape == "mixed" and stable_number(endpoint["endpoint_id"]) % 2 == 0)
        if rich:
            return render_rich(endpoint, self.account.auth_id, self.account.applications, detail)
        return render_compact(endpoint, self.account.auth_id)

    def list_endpoints(self, request):
        limit, offset = self.page_window(request.query)
        wanted = endpoint_filter(request.query)
        matches = list(self.account.endpoints.values())
        if wanted is not None:  # filtering 10,000 records per page would dominate the benchmarks
            matches = [endpoint for endpoint in matches if wanted(endpoint)]
        total = max(len(matches) + self.switches["total_count_extra"], 0)
        body = {
            "api_id": new_api_id(),
            "meta": page_meta(self.account.auth_id, "Endpoint", limit, offset, total),
            "objects": [self.render(endpoint, detail=False) for endpoint in matches[offset:offset + limit]],
        }
        self.list_requests += 1
        self.apply_due_page_mutations()
        return self.json(200, body)

    def apply_due_page_mutations(self):
        # Applied under the same lock right after the K-th list answer was built, so the
        # (K+1)-th list request sees the change even when requests run concurrently.
        pending = self.switches["page_mutations"]
        for rule in [rule for rule in pending if rule["after_list_requests"] == self.list_requests]:
            self.account.mutate(rule)
            pending.remove(rule)

    def get_endpoint(self, request, item):
        endpoint = self.account.endpoints.get(item)
        if endpoint is None:
            return self.error(404, "Endpoint not found", {"endpoint_id": item})
        body = {} if self.openapi else {"api_id": new_api_id()}  # the OAS's retrieve schema has no api_id
        body.update(self.render(endpoint, detail=True))
        return self.json(200, body)

    @property
    def openapi(self):
        """True when retrieve, create and update answer as the OpenAPI document and the SDK fixtures show them."""
        return self.switches["responses"] == "openapi"

    def create_endpoint(self, request):
        body = request.json_object()
        details = {}
        username = check_username(body.get("username"), details)
        password = check_password(body.get("password"), details)
        alias = check_alias(body.get("alias"), details)
        if self.openapi and alias is None:
            details["alias"] = "this field is required (a string)"  # the OAS's create schema requires it
        app_id = requested_application(body, self.account.applications, details, ("application", "app_id"))
        flags = check_flags(body, ALLOW_DEFAULTS, details)
        sub_account = body.get("sub_account")
        if sub_account is not None and (not isinstance(sub_account, str) or sub_account not in self.account.sub_accounts):
            details["sub_account"] = f"sub-account {sub_account!r} does not exist"
        if details:
            raise InvalidParameters(details)
        # The submitted name is checked even when rewriting, so reusing a base name makes another endpoint.
        if username in self.account.usernames():
            return ApiResponse(409, {"api_id": new_api_id(), "error": "username already exists", "username": username})
        if app_id is UNCHANGED:
            app_id = self.account.default_application(sub_account)
        if self.switches["rewrite_usernames"]:
            username = self.account.rewritten_username(username)
        endpoint = self.account.add_endpoint(username, alias=alias, app_id=app_id, sub_account=sub_account,
                                             password=password, **flags)
        if self.openapi:  # the OAS example and the C# SDK's fixtures: 200 with these three keys
            return ApiResponse(200, {"alias": endpoint["alias"], "endpoint_id": endpoint["endpoint_id"], "username": endpoint["username"]})
        created = render_compact(endpoint, self.account.auth_id)
        return ApiResponse(201, {
            "api_id": new_api_id(),
            "message": "created",
            "endpoint_id": endpoint["endpoint_id"],
            "username": endpoint["username"],
            "alias": endpoint["alias"],
            "sip_uri": created["sip_uri"],
            "resource_uri": created["resource_uri"],
        })

    def update_endpoint(self, request, item):
        endpoint = self.account.endpoints.get(item)
        if endpoint is None:
            return ApiResponse(404)  # the docs show no body for this one
        body = request.json_object()
        details = {name: "cannot be changed after creation" for name in LOCKED_FIELDS if name in body}
        changes = check_flags(body, UPDATABLE_FLAGS, details)
        if "password" in body:
            changes["password"] = check_password(body["password"], details)
        if "alias" in body:
            changes["alias"] = check_alias(body["alias"], details)
        # The field report: the server answers 202 but only app_id moves the endpoint.
        app_keys = ("app_id",) if self.switches["update_ignores_application"] else ("application", "app_id")
        app_id = requested_application(body, self.account.applications, details, app_keys)
        if app_id is not UNCHANGED:
            changes["app_id"] = app_id
        if details:
            raise InvalidParameters(details)
        endpoint.update(changes)
        endpoint["updated_at"] = utc_now()
        # The OAS's 200 is a JSON string; the C# SDK's realistic fixture sends "" (the prose's 202 has no body).
        return ApiResponse(200, "") if self.openapi else ApiResponse(202)

    def delete_endpoint(self, request, item):
        if self.account.endpoints.pop(item, None) is None:
            return self.error(404, "Endpoint not found", {"endpoint_id": item})
        return ApiResponse(204)

    # ---- applications and sub-accounts

    def list_applications(self, request):
        limit, offset = self.page_window(request.query)
        applications = list(self.account.applications.values())
        return self.json(200, {
            "api_id": new_api_id(),
            "meta": page_meta(self.account.auth_id, "Application", limit, offset, len(applications)),
            "objects": [render_application(app, self.account.auth_id) for app in applications[offset:offset + limit]],
        })

    def get_application(self, request, item):
        app = self.account.applications.get(item)
        if app is None:
            return self.error(404, "Application not found", {"app_id": item})
        body = {"api_id": new_api_id()}
        body.update(render_application(app, self.account.auth_id))
        return self.json(200, body)

    def list_sub_accounts(self, request):
        details = {}
        page = parse_int(request.query.get("page"), 1)
        size = parse_int(request.query.get("size"), DEFAULT_SUB_ACCOUNT_PAGE_SIZE)
        active_only = parse_bool(request.query.get("active_only", "false"))
        if page is None or page < 1:
            details["page"] = "must be a positive integer"
        if size is None or size < 1:
            details["size"] = "must be a positive integer"
        if active_only is None:
            details["active_only"] = "must be true or false"
        if details:
            raise InvalidParameters(details)
        subs = [sub for sub in self.account.sub_accounts.values() if sub["enabled"] or not active_only]
        start = (page - 1) * size
        return self.json(200, {
            "sub_accounts": [render_sub_account(sub, self.account.auth_id) for sub in subs[start:start + size]],
            "total": len(subs),
            "page": page,
            "size": size,
        })


def endpoint_filter(query):
    """A predicate for the 8 documented filters (None when none is given); unknown keys are ignored, like Plivo does."""
    tests = []
    for key, (name, test) in TEXT_FILTERS.items():
        if key in query:
            tests.append(lambda endpoint, name=name, test=test, wanted=query[key]:
                         endpoint[name] is not None and test(endpoint[name], wanted))
    details = {}
    if "application_id__exact" in query:
        # Any integer, as the OAS types it (-1 too): an id no application has matches nothing.
        wanted_app = parse_int(query["application_id__exact"], None)
        if wanted_app is None:
            details["application_id__exact"] = "must be an integer"
        tests.append(lambda endpoint: endpoint["app_id"] == str(wanted_app))
    if "application_id__isnull" in query:
        isnull = parse_bool(query["application_id__isnull"])
        if isnull is None:
            details["application_id__isnull"] = "must be true or false"
        tests.append(lambda endpoint: (endpoint["app_id"] is None) == isnull)
    if "sub_account" in query:
        if not query["sub_account"].strip():  # an empty filter would silently match nothing
            details["sub_account"] = "must be a sub-account auth_id; leave sub_account out to list every endpoint"
        tests.append(lambda endpoint: endpoint["sub_account"] == query["sub_account"])
    if details:
        raise InvalidParameters(details)
    if not tests:
        return None
    return lambda endpoint: all(test(endpoint) for test in tests)


# --------------------------------------------------------------------------- faults

def fault_status(sim, rule, answer):
    """429 / 5xx with an error body; Retry-After only when the rule gives one."""
    status = int(rule["kind"])
    headers = {"Retry-After": rule["retry_after"]} if "retry_after" in rule else {}
    extra = {"retryAfter": int(rule["retry_after"])} if status == 429 and rule.get("retry_after", "").isdigit() else None
    return sim.error_response(status, STATUS_MESSAGES[status], extra, headers)


def fault_reset(sim, rule, answer):
    return ApiResponse(0, drop_connection=True)


def fault_slow(sim, rule, answer):
    time.sleep(rule["delay_s"])
    return answer()


def fault_truncated(sim, rule, answer):
    body = answer().body_bytes()
    return ApiResponse(200, raw=body[:len(body) // 2])


def fault_html502(sim, rule, answer):
    return ApiResponse(502, raw=HTML_502_PAGE, content_type="text/html")


def fault_nonjson200(sim, rule, answer):
    return ApiResponse(200, raw=b"OK", content_type="text/plain")


def fault_redirect(sim, rule, answer):
    """302 to the rule's `location`, as a proxy or a moved API might answer; the request is not carried out."""
    return ApiResponse(302, raw=b"", headers={"Location": rule["location"]})


def fault_empty_page(sim, rule, answer):
    """A list page with its true meta (total_count too) but no objects; other answers pass unchanged."""
    response = answer()
    if isinstance(response.payload, dict) and isinstance(response.payload.get("objects"), list):
        response.payload = dict(response.payload, objects=[])
    return response


# kind -> handler(simulator, rule, answer_normally); add a kind by adding a handler here.
FAULT_HANDLERS = {
    "429": fault_status,
    "500": fault_status,
    "502": fault_status,
    "503": fault_status,
    "504": fault_status,
    "reset": fault_reset,
    "slow": fault_slow,
    "truncated": fault_truncated,
    "html502": fault_html502,
    "nonjson200": fault_nonjson200,
    "empty_page": fault_empty_page,
    "redirect": fault_redirect,
}


def fault_matches(rule, request):
    if rule.get("method") and rule["method"] != request.method:
        return False
    return rule.get("path_contains", "") in request.target


class TokenBucket:
    """The rate_limit switch: `rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate, burst):
        self.rate = rate
        self.capacity = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self):
        """0 when a token was taken, else the seconds until the next one."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


# --------------------------------------------------------------------------- TLS

TLS_HANDSHAKE_TIMEOUT = 10  # seconds; a client that connects and says nothing is dropped
TEST_CA_NAME = "vobiz simulator test CA"
TEST_CERT_DAYS = 2


def server_tls_context(tls):
    """A server-side TLS context from (certfile, keyfile); ValueError when they do not load."""
    try:
        certfile, keyfile = tls
    except (TypeError, ValueError):
        raise ValueError(f"tls must be (certfile, keyfile), got {tls!r}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(os.fspath(certfile), os.fspath(keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the TLS certificate {certfile} / key {keyfile}: {exc}") from None
    return context


def make_test_certificates(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1), valid 2 days.

    Writes ca.pem, server.pem and server.key into directory and returns their paths as a dict
    (ca, cert, key). Uses the openssl command when there is one, else the cryptography package.
    Clients trust the server by trusting ca.pem (for example REQUESTS_CA_BUNDLE=ca.pem).
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    paths = {name: os.path.join(directory, file) for name, file in
             (("ca", "ca.pem"), ("ca_key", "ca.key"), ("cert", "server.pem"), ("key", "server.key"))}
    if shutil.which("openssl"):
        _certificates_with_openssl(directory, paths)
    else:
        _certificates_with_cryptography(paths)
    return {name: paths[name] for name in ("ca", "cert", "key")}


def _certificates_with_openssl(directory, paths):
    extensions = os.path.join(directory, "server.ext")
    with open(extensions, "w", encoding="ascii") as handle:
        handle.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                     "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    request = os.path.join(directory, "server.csr")
    key_options = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        ["openssl", "req", "-x509", *key_options, "-keyout", paths["ca_key"], "-out", paths["ca"],
         "-days", str(TEST_CERT_DAYS), "-subj", f"/CN={TEST_CA_NAME}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-new", *key_options, "-keyout", paths["key"], "-out", request, "-subj", f"/CN={LOOPBACK}"],
        ["openssl", "x509", "-req", "-in", request, "-CA", paths["ca"], "-CAkey", paths["ca_key"], "-CAcreateserial",
         "-out", paths["cert"], "-days", str(TEST_CERT_DAYS), "-extfile", extensions],
    ]
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:3])} failed: {result.stderr.strip()}")


def _certificates_with_cryptography(paths):
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise RuntimeError("making test certificates needs the openssl command or the cryptography package") from None
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, public_key, signing_key, extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=TEST_CERT_DAYS)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    def write(path, data):
        with open(path, "wb") as handle:
            handle.write(data)

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEST_CA_NAME)])
    no_usage = dict(content_commitment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                    decipher_only=False)
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(digital_signature=False, key_encipherment=False, key_cert_sign=True, crl_sign=True, **no_usage), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])
    server = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]), ca_name, server_key.public_key(), ca_key, [
        (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False, crl_sign=False, **no_usage), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ])
    no_password = serialization.NoEncryption()
    write(paths["ca"], ca.public_bytes(serialization.Encoding.PEM))
    write(paths["ca_key"], ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, no_password))
    write(paths["cert"], server.public_bytes(serialization.Encoding.PEM))
    write(paths["key"], server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, no_password))


# --------------------------------------------------------------------------- HTTP server

def read_chunked(rfile):
    chunks = []
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            line = rfile.readline()
            while line not in (b"\r\n", b"\n", b""):
                line = rfile.readline()
            return b"".join(chunks)
        chunks.append(rfile.read(size))
        rfile.readline()


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "VobizSimulator/1.0"
    timeout = 120  # idle keep-alive connections end eventually
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle + delayed ACK would add ~40 ms

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def do_DELETE(self):
        self.serve()

    def do_PUT(self):
        self.serve()

    def do_PATCH(self):
        self.serve()

    def serve(self):
        started = time.monotonic()
        simulator = self.server.simulator
        request = self.read_request()
        control = request.path.startswith("/_sim/")
        try:
            response = simulator.control(request) if control else simulator.serve_api(request)
        except Exception as exc:  # a simulator bug: answer 500 and stay up instead of dropping the connection
            response = ApiResponse(500, raw=f"simulator error: {exc!r}\n".encode("utf-8"), content_type="text/plain")
        if not control:
            # Recorded before the bytes go out, so a client that reads the record right after
            # its response always finds it there.
            simulator.record(request, response, started, time.monotonic())
        try:
            self.send(response)
        except OSError:
            self.close_connection = True  # the client went away

    def read_request(self):
        split = urlsplit(self.path)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)
        else:
            length = parse_int(self.headers.get("Content-Length"), 0)
            body = self.rfile.read(length) if length and length > 0 else b""
        return ApiRequest(
            method=self.command,
            target=self.path,
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )

    def send(self, response):
        if response.drop_connection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        body = response.body_bytes()
        self.send_response(response.status)
        if body:
            self.send_header("Content-Type", response.content_type)
        if response.status != 204:  # RFC 9110: no Content-Length on 204
            self.send_header("Content-Length", str(len(body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.verbose:
            super().log_message(format, *args)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops connections when clients open many at once

    def __init__(self, address, simulator, verbose=False, tls_context=None):
        self.simulator = simulator
        self.verbose = verbose
        self.tls_context = tls_context
        self.open_connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        # The TLS handshake runs here, in the connection's own thread, so a client that stalls or
        # refuses our certificate never holds up accept() for the others.
        request.settimeout(TLS_HANDSHAKE_TIMEOUT)
        try:
            secure = self.tls_context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError included: e.g. a client that does not trust the certificate
            return
        self._swap_connection(request, secure)
        try:
            super().finish_request(secure, client_address)
        finally:
            self._swap_connection(secure, None)
            secure.close()

    def _swap_connection(self, old, new):
        # wrap_socket() takes the file descriptor over, so stop() must shut down the TLS socket instead.
        with self.connections_lock:
            self.open_connections.discard(old)
            if new is not None:
                self.open_connections.add(new)

    def server_bind(self):
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return  # a client hanging up mid-request is normal here, not worth a traceback
        super().handle_error(request, client_address)

    def close_open_connections(self):
        """Keep-alive connections would otherwise outlive stop() and keep answering."""
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# --------------------------------------------------------------------------- the simulator

class Simulator:
    """The simulated Vobiz API: ``Simulator(data, **switches)``, then ``start()`` / ``stop()``.

    ``data`` is a dict or a path to a YAML/JSON file; ``port=0`` picks a free port;
    ``tls=(certfile, keyfile)`` serves HTTPS instead of HTTP (see ``make_test_certificates``).
    """

    def __init__(self, data, host=LOOPBACK, port=0, verbose=False, tls=None, **switches):
        if host not in (LOOPBACK, "localhost"):
            raise ValueError(f"the simulator binds to {LOOPBACK} only, not {host!r}")
        self._seed = load_data(data)
        self._port = port
        self._verbose = verbose
        self._tls_context = server_tls_context(tls) if tls else None
        self._lock = threading.RLock()
        self._initial_switches = merge_switches(DEFAULT_SWITCHES, switches)
        self._server = None
        self._thread = None
        self._restore()

    def _restore(self):
        self._switches = copy.deepcopy(self._initial_switches)
        self._api = VobizApi(Account(copy.deepcopy(self._seed)), self._switches)
        self._bucket = self._new_bucket()
        self._requests = []

    def _new_bucket(self):
        limit = self._switches["rate_limit"]
        return TokenBucket(limit["rate"], limit["burst"]) if limit else None

    # ---- lifecycle

    def start(self):
        """Start serving in a background thread; returns the base URL."""
        if self._server is None:
            self._server = SimulatorServer((LOOPBACK, self._port), self, self._verbose, self._tls_context)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="vobiz-simulator", daemon=True)
            self._thread.start()
        return self.url

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    @property
    def url(self):
        scheme = "https" if self._tls_context else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}" if self._server else None

    # ---- state and switches

    @property
    def auth_id(self):
        return self._seed["auth_id"]

    @property
    def auth_token(self):
        return self._seed["auth_token"]

    @property
    def requests(self):
        """The recorded API requests (control requests are not recorded), oldest first."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def reset_requests(self):
        with self._lock:
            cleared = len(self._requests)
            self._requests = []
        return cleared

    @property
    def switches(self):
        with self._lock:
            return copy.deepcopy(self._switches)

    def configure(self, **switches):
        """Merge switches (validated; ValueError on a bad one); returns the resulting switches."""
        with self._lock:
            merged = merge_switches(self._switches, switches)
            self._switches.clear()
            self._switches.update(merged)
            if "page_mutations" in switches:
                self._api.list_requests = 0  # K counts list requests from now on
            if "rate_limit" in switches:
                self._bucket = self._new_bucket()
            return copy.deepcopy(self._switches)

    @property
    def endpoints(self):
        """The current endpoints in canonical form and API order."""
        with self._lock:
            return self._api.account.snapshot()["endpoints"]

    def set_endpoint_fields(self, endpoint_id, **fields):
        """Change stored fields of one endpoint the way the account changes on its own (a phone registering or
        dropping, someone editing it in the console); returns the canonical record. Unknown ids or fields: ValueError."""
        with self._lock:
            record = self._api.account.endpoints.get(str(endpoint_id))
            if record is None:
                raise ValueError(f"no endpoint {endpoint_id!r}")
            unknown = sorted(set(fields) - set(record) - {"endpoint_id"})
            if unknown or "endpoint_id" in fields:
                raise ValueError(f"cannot set {', '.join(unknown) or 'endpoint_id'}; fields: {', '.join(sorted(record))}")
            record.update(fields)
            return copy.deepcopy(record)

    def state(self):
        with self._lock:
            snapshot = self._api.account.snapshot()
            snapshot["switches"] = copy.deepcopy(self._switches)
            snapshot["list_requests"] = self._api.list_requests
            return snapshot

    def reset(self):
        """Restore the seed data and the switches given at construction, and clear the requests."""
        with self._lock:
            self._restore()

    # ---- serving (called from handler threads)

    def error_response(self, status, message, extra=None, headers=None):
        with self._lock:
            style = self._switches["error_style"]
        return error_response(style, status, message, extra, headers)

    def serve_api(self, request):
        # A request is answered by the account it arrived at: one still sleeping (latency, a slow fault) when a
        # test calls reset() must not count as, change or be recorded among the next test's requests.
        with self._lock:
            api = self._api
        response = self._serve_api(api, request)
        response.served_by = api
        return response

    def _serve_api(self, api, request):
        with self._lock:
            latency_ms = self._switches["latency_ms"]
        if latency_ms:
            time.sleep(latency_ms / 1000.0)  # outside the lock: concurrent requests overlap
        with self._lock:
            if api is not self._api:  # reset while it slept: the client has moved on, so it is dropped
                return ApiResponse(0, drop_connection=True)
            wait = self._bucket.take() if self._bucket else 0.0
            rule = None if wait else self._take_fault(request)
        if wait:
            if not self._switches["rate_limit"]["retry_after"]:
                return self.error_response(429, STATUS_MESSAGES[429])
            retry_after = str(max(1, math.ceil(wait)))
            return self.error_response(429, STATUS_MESSAGES[429], {"retryAfter": int(retry_after)}, {"Retry-After": retry_after})
        if rule is None:
            return self._answer(api, request)
        response = FAULT_HANDLERS[rule["kind"]](self, rule, lambda: self._answer(api, request))
        response.fault = rule["kind"]
        return response

    def _answer(self, api, request):
        with self._lock:
            if api is not self._api:  # reset during a slow fault
                return ApiResponse(0, drop_connection=True)
            return api.answer(request)

    def _take_fault(self, request):
        """Consume one use of the first matching fault rule, in order."""
        faults = self._switches["faults"]
        for rule in faults:
            if fault_matches(rule, request):
                rule["times"] -= 1
                if rule["times"] <= 0:
                    faults.remove(rule)
                return dict(rule)
        return None

    def record(self, request, response, started, finished):
        entry = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "status": None if response.drop_connection else response.status,
            "started": started,
            "finished": finished,
            "thread": threading.current_thread().name,
            "fault": response.fault,
            "body": request.json_body(),
        }
        with self._lock:
            if response.served_by is self._api:  # not one that outlived a reset
                self._requests.append(entry)

    # ---- control API: no auth, not recorded, no latency or faults

    def control(self, request):
        handlers = {
            ("GET", "/_sim/health"): lambda: {"ok": True},
            ("GET", "/_sim/requests"): lambda: self.requests,
            ("DELETE", "/_sim/requests"): lambda: {"cleared": self.reset_requests()},
            ("GET", "/_sim/config"): lambda: self.switches,
            ("POST", "/_sim/config"): lambda: self.configure(**self._control_object(request)),
            ("GET", "/_sim/state"): self.state,
            ("POST", "/_sim/reset"): self._control_reset,
        }
        handler = handlers.get((request.method, request.path.rstrip("/")))
        if handler is None:
            return ApiResponse(404, {"error": f"unknown control request {request.method} {request.path}",
                                     "known": sorted(f"{method} {path}" for method, path in handlers)})
        try:
            return ApiResponse(200, handler())
        except ValueError as exc:
            return ApiResponse(400, {"error": str(exc)})

    def _control_reset(self):
        self.reset()
        return {"reset": True}

    @staticmethod
    def _control_object(request):
        body = request.json_body()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object of switches")
        return body


# --------------------------------------------------------------------------- command line

def parse_args(argv):
    parser = argparse.ArgumentParser(description="Local Vobiz API simulator (binds to 127.0.0.1 only).")
    parser.add_argument("--data", help="YAML or JSON data file (optional with --generate)")
    parser.add_argument("--host", default=LOOPBACK, help="only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--port-file", help="write the port number to this file once listening")
    parser.add_argument("--generate", type=int, metavar="N", help="serve N generated endpoints instead of the file's")
    parser.add_argument("--shape", choices=("compact", "rich", "mixed"))
    parser.add_argument("--responses", choices=("prose", "openapi"))
    parser.add_argument("--nulls", choices=("present", "omit"))
    parser.add_argument("--latency-ms", type=float)
    parser.add_argument("--rewrite-usernames", action="store_true", default=None)
    parser.add_argument("--config", help="JSON object of switches, applied last")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (needs --tls-key)")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    if args.data is None and args.generate is None:
        parser.error("--data is required unless --generate is given")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    return args


def switches_from_args(args):
    switches = {"shape": args.shape, "responses": args.responses, "nulls": args.nulls, "latency_ms": args.latency_ms,
                "rewrite_usernames": args.rewrite_usernames}
    switches = {name: value for name, value in switches.items() if value is not None}
    if args.config:
        config = json.loads(args.config)
        if not isinstance(config, dict):
            raise ValueError("--config must be a JSON object")
        switches.update(config)
    return switches


def data_from_args(args):
    if args.generate is None:
        return args.data
    base = None
    if args.data:
        with open(args.data, encoding="utf-8") as handle:
            text = handle.read()
        base = json.loads(text) if args.data.endswith(".json") else yaml.safe_load(text)
    return generate_data(args.generate, base)


def write_port_file(path, port):
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(f"{port}\n")
    os.replace(temporary, path)  # readers never see a half-written file


def start_process(cli_args, port_file, start_timeout=60, **popen_options):
    """Run this simulator's CLI in a process of its own, as the real API would be; (process, base URL) once it listens.

    For demos and benchmarks. Raises RuntimeError when the process exits or does not listen within start_timeout.
    The process gets a session of its own, so that a test's or a benchmark's clean-up can end its whole group.
    """
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, os.path.abspath(__file__)] + list(cli_args) + ["--port", "0", "--port-file", port_file],
        start_new_session=True, **popen_options)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the simulator exited with status %s" % process.returncode)
        if os.path.exists(port_file):  # written atomically by write_port_file()
            with open(port_file, encoding="utf-8") as handle:
                return process, "http://127.0.0.1:" + handle.read().strip()
        time.sleep(0.05)
    process.terminate()
    process.wait()
    raise RuntimeError("the simulator did not listen within %s s" % start_timeout)


def main(argv=None):
    args = parse_args(argv)
    try:
        tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
        simulator = Simulator(data_from_args(args), host=args.host, port=args.port, verbose=args.verbose, tls=tls,
                              **switches_from_args(args))
        url = simulator.start()
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"vobiz simulator: {exc}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stop_requested.set())
    if args.port_file:
        write_port_file(args.port_file, simulator.port)
    print(LISTENING_MESSAGE.format(url=url), flush=True)
    while not stop_requested.wait(0.5):
        pass
    simulator.stop()
    if args.port_file and os.path.exists(args.port_file):
        os.remove(args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
