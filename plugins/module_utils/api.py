# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client of the vobiz.sip collection.

Private to the collection: the inventory plugin, the modules and the filters share it,
users should not import it. Everything that talks to api.vobiz.ai goes through
`VobizClient`; every failure leaves it as one `VobizError` whose message names the
request, the cause and the fix, and never the auth token.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice
from urllib.parse import urlencode

try:
    import requests
    from urllib3.exceptions import InsecureRequestWarning
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # the modules turn this into missing_required_lib()
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

from ansible_collections.vobiz.sip.plugins.module_utils.applications import fill_application_names, unnamed_applications
from ansible_collections.vobiz.sip.plugins.module_utils.records import (
    MalformedRecordError,
    normalize_endpoint,
)
from ansible_collections.vobiz.sip.plugins.module_utils.values import clip as _clip

DEFAULT_API_URL = "https://api.vobiz.ai"
MAX_PAGE_SIZE = 100
MAX_CONCURRENCY = 32
# When total_count moves while we page, the listing is walked again; this many walks at most.
MAX_WALKS = 4
MAX_RETRY_WAIT = 60.0
ENDPOINT_FILTERS = (
    "username__contains", "username__exact", "username__startswith",
    "alias__contains", "alias__exact",
    "application_id__exact", "application_id__isnull", "sub_account",
)
_RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))
# What request() returns for a 404 when the caller said missing_ok (an empty body is None).
MISSING = object()
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


class VobizError(Exception):
    """Any failure talking to the Vobiz API, with a message fit to show a user as is."""

    def __init__(self, message, status=None, request=None):
        super().__init__(message)
        self.status = status
        self.request = request


def validate_filters(filters, option="filters"):
    """The server-side filters as query parameters; an unknown key is an error listing the valid ones.

    `option` names where the filters came from in messages (filters, include_filters[0], ...).
    """
    filters = filters or {}
    if not isinstance(filters, dict):
        raise VobizError("%s must be a mapping of filter name to value, got %s" % (option, type(filters).__name__))
    unknown = sorted(set(filters) - set(ENDPOINT_FILTERS))
    if unknown:
        raise VobizError("unknown filter key%s %s in %s; the Vobiz API filters endpoints by: %s"
                         % ("s" if len(unknown) > 1 else "", ", ".join(unknown), option, ", ".join(ENDPOINT_FILTERS)))
    return {key: _query_value(value) for key, value in filters.items()}


def _query_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Page:
    __slots__ = ("offset", "objects", "total_count", "limit")

    def __init__(self, offset, objects, total_count, limit):
        self.offset = offset
        self.objects = objects
        self.total_count = total_count
        self.limit = limit


class VobizClient:
    """A keep-alive session against one Vobiz account.

    `log` receives one line per request (for -vvv); `stats` counts what a listing cost (for -v).
    `backoff_base` is the first retry wait in seconds when the API sends no Retry-After.
    `warn` receives warnings meant for the user (display.warning, module.warn): today the one that
    validate_certs is off.
    """

    def __init__(self, auth_id, auth_token, api_url=None, validate_certs=True, timeout=30, retries=5,
                 page_size=MAX_PAGE_SIZE, max_concurrency=4, log=None, backoff_base=0.5, warn=None):
        if not HAS_REQUESTS:
            raise VobizError("the Python library 'requests' is required by vobiz.sip: pip install requests")
        self.auth_id = _required_text("auth_id", auth_id, "VOBIZ_AUTH_ID")
        self._token = _required_text("auth_token", auth_token, "VOBIZ_AUTH_TOKEN")
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        if not self.api_url.startswith(("https://", "http://")):
            raise VobizError("api_url must start with https:// (got %r); the default is %s" % (self.api_url, DEFAULT_API_URL))
        self.timeout = _ranged("timeout", timeout, 1, 3600)
        self.retries = _ranged("retries", retries, 0, 100)
        self.page_size = _ranged("page_size", page_size, 1, MAX_PAGE_SIZE)
        self.max_concurrency = _ranged("max_concurrency", max_concurrency, 1, MAX_CONCURRENCY)
        self.backoff_base = backoff_base
        self._log = log or (lambda line: None)
        self._stats_lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "pages": 0, "walks": 0}
        self._session = requests.Session()
        self._session.verify = bool(validate_certs)
        if not validate_certs:
            _warn_unverified(self.api_url, warn)
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(self.max_concurrency, 4))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({
            "X-Auth-ID": self.auth_id,
            "X-Auth-Token": self._token,
            "Accept": "application/json",
            "User-Agent": "vobiz.sip-ansible-collection",
        })

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # Endpoints -------------------------------------------------------------------------------

    def list_endpoints(self, filters=None, resolve_applications=False):
        """Every endpoint matching `filters`, normalised, each once, in API order."""
        query = validate_filters(filters)
        records = [self._normalize(raw) for raw in self._list_all("Endpoint/", query, "endpoint_id")]
        if resolve_applications:
            self.fill_application_names(records)
        return records

    def get_endpoint(self, endpoint_id, resolve_applications=False):
        """One endpoint by id, normalised; None when the API does not know it."""
        body = self.request("GET", "Endpoint/%s/" % _path_segment(endpoint_id), missing_ok=True)
        if body is MISSING:
            return None
        record = self._normalize(body)
        if resolve_applications:
            self.fill_application_names([record])
        return record

    def create_endpoint(self, fields):
        """POST a new endpoint; returns the API's answer (endpoint_id and the username it kept)."""
        body = self.request("POST", "Endpoint/", json_body=fields, idempotent=False)
        if not isinstance(body, dict) or not body.get("endpoint_id"):
            raise VobizError(self._redact("the API accepted the new endpoint but its reply names no endpoint_id (%s); "
                                          "list the endpoints to find it" % _clip(body)), request="POST Endpoint/")
        return body

    def update_endpoint(self, endpoint_id, fields):
        """POST changed fields to an endpoint (the API answers 202 with an empty body)."""
        self.request("POST", "Endpoint/%s/" % _path_segment(endpoint_id), json_body=fields)

    def delete_endpoint(self, endpoint_id):
        """DELETE an endpoint; False when it was already gone."""
        return self.request("DELETE", "Endpoint/%s/" % _path_segment(endpoint_id), missing_ok=True) is not MISSING

    # Applications ----------------------------------------------------------------------------

    def list_applications(self):
        """Every Application of the account as the API gives it (app_id, app_name, ...)."""
        applications = self._list_all("Application/", {}, "app_id")
        for application in applications:
            if not isinstance(application, dict) or application.get("app_id") in (None, ""):
                raise VobizError(self._redact("malformed Application record from GET %s: %s"
                                              % (self._path("Application/"), _clip(application))))
            application["app_id"] = str(application["app_id"])
        return applications

    def fill_application_names(self, records):
        """Set application_name from the Application list where the record did not carry it (listed only then)."""
        if unnamed_applications(records):
            fill_application_names(records, self.list_applications())
        return records

    # Paging ----------------------------------------------------------------------------------

    def _list_all(self, resource, query, key):
        """Every object of a paged resource, each once, in API order, consistent under changes.

        The first page tells total_count; the other pages are fetched concurrently. When any page
        reports another total_count, or the objects do not add up to it, records moved while we
        paged (an insert or delete shifts every later offset), so the listing is walked again.
        """
        problem = None
        for _walk in range(MAX_WALKS):
            self._count("walks")
            first = self._get_page(resource, query, 0, self.page_size)
            page_size = min(self.page_size, first.limit or self.page_size)
            offsets = range(page_size, first.total_count if first.objects else 0, page_size)
            pages = [first] + self._get_pages(resource, query, offsets, page_size)
            objects = _unique(pages, key)
            totals = {page.total_count for page in pages}
            if len(totals) == 1 and len(objects) == first.total_count:
                return objects
            problem = ("total_count moved from %s to %s while paging" % (first.total_count, pages[-1].total_count)
                       if len(totals) > 1 else
                       "the API reported total_count %s but served %s distinct records" % (first.total_count, len(objects)))
            self._log("listing %s again: %s" % (self._path(resource), problem))
        raise VobizError("could not get a consistent listing of GET %s after %s walks: %s. If the account is "
                         "changing fast, retry later; otherwise the API is serving inconsistent pages"
                         % (self._path(resource), MAX_WALKS, problem), request="GET " + self._path(resource))

    def _get_pages(self, resource, query, offsets, page_size):
        """The pages at `offsets`, in offset order, at most max_concurrency in flight.

        No page is asked for once one comes back empty: the API has nothing at that offset, so total_count
        overstated the listing (a lying server, or records deleted meanwhile) and this walk fails its check
        anyway. Without that stop, a total_count of a billion would mean ten million requests.
        """
        if not offsets:
            return []
        if self.max_concurrency == 1 or len(offsets) == 1:
            pages = []
            for offset in offsets:
                pages.append(self._get_page(resource, query, offset, page_size))
                if not pages[-1].objects:
                    break
            return pages
        pending = iter(offsets)
        pages = []
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(offsets))) as pool:
            def submit(count):
                return {pool.submit(self._get_page, resource, query, offset, page_size) for offset in islice(pending, count)}

            running = submit(self.max_concurrency)
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                finished = [future.result() for future in done]
                pages.extend(finished)
                if all(page.objects for page in finished):
                    running |= submit(len(done))
        return sorted(pages, key=lambda page: page.offset)

    def _get_page(self, resource, query, offset, limit):
        params = dict(query, limit=limit, offset=offset)
        body = self.request("GET", resource, params=params)
        self._count("pages")
        meta = body.get("meta") if isinstance(body, dict) else None
        objects = body.get("objects") if isinstance(body, dict) else None
        total = meta.get("total_count") if isinstance(meta, dict) else None
        if not isinstance(objects, list) or not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise VobizError(self._redact("malformed reply from GET %s: expected {meta: {total_count}, objects: [...]}, got %s. "
                                          "Check api_url points at the Vobiz API" % (self._path(resource, params), _clip(body))),
                             request="GET " + self._path(resource, params))
        page_limit = meta.get("limit")
        return _Page(offset, objects, total, page_limit if isinstance(page_limit, int) and page_limit > 0 else None)

    def _normalize(self, raw):
        try:
            return normalize_endpoint(raw)
        except MalformedRecordError as exc:
            raise VobizError(self._redact("malformed endpoint record from the Vobiz API: %s. Report it with the record's shape; "
                                          "vobiz.sip accepts the compact and the rich documented shapes" % exc)) from None

    # HTTP ------------------------------------------------------------------------------------

    def request(self, method, resource, params=None, json_body=None, missing_ok=False, idempotent=True):
        """One API call with retries; returns the decoded JSON body (None when empty; MISSING for a 404 if missing_ok).

        Retried: 429, 5xx, connection errors, timeouts and unreadable 200 replies, with exponential
        backoff and jitter, or the server's Retry-After. A non-idempotent call (create) is retried only
        where the request cannot have been acted on: 429 and connection refused.
        """
        path = self._path(resource, params)
        label = "%s %s" % (method, path)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            started = time.monotonic()
            try:
                # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's
                # verify=False, which would silently turn validate_certs: false back on.
                # No redirects: requests would carry X-Auth-Token to any host a redirect names (it strips only
                # Authorization), so the token goes to api_url and nowhere else.
                response = self._session.request(method, self.api_url + self._path(resource), params=params, json=json_body,
                                                 timeout=self.timeout, verify=self._session.verify, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                self._count("requests")
                self._log("%s failed after %d ms: %s" % (label, _ms(started), self._redact(type(exc).__name__)))
                retryable = idempotent or _never_reached_server(exc)
                if last or not retryable or isinstance(exc, requests.exceptions.SSLError):
                    raise self._transport_error(exc, label, attempt) from None
                self._wait(attempt, None)
                continue
            self._count("requests")
            self._log("%s %s %d ms" % (label, response.status_code, _ms(started)))
            status = response.status_code
            if status == 404 and missing_ok:
                return MISSING
            if 300 <= status < 400:
                raise VobizError(self._redact(
                    "%s was redirected (HTTP %s) to %s. vobiz.sip does not follow redirects, so that the auth token goes to "
                    "api_url only: set api_url to the API's own address (the default is %s)"
                    % (label, status, _clip(response.headers.get("Location") or "nowhere", 200), DEFAULT_API_URL)),
                    status=status, request=label)
            if status in _RETRYABLE_STATUS and (idempotent or status == 429) and not last:
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            if status >= 400:
                raise self._http_error(response, label, attempt)
            try:
                return _decode(response)
            except ValueError as exc:
                if last or not idempotent:
                    raise VobizError("malformed reply from %s (HTTP %s): %s, after %d tries. Check api_url points at the "
                                     "Vobiz API" % (label, status, exc, attempt + 1), status=status, request=label) from None
                self._wait(attempt, None)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _wait(self, attempt, retry_after):
        self._count("retries")
        delay = _retry_after_seconds(retry_after)
        if delay is None:
            delay = self.backoff_base * (2 ** attempt) * random.uniform(0.5, 1.0)
        time.sleep(min(delay, MAX_RETRY_WAIT))

    def _http_error(self, response, label, attempt):
        status = response.status_code
        reason = _api_error_text(response)
        message = "%s failed: HTTP %s%s" % (label, status, ": " + reason if reason else "")
        if attempt:
            message += " (after %d tries)" % (attempt + 1)
        hint = _HINTS.get(status) or (_HINTS["5xx"] if status >= 500 else None)
        if hint:
            message += ". " + hint
        return VobizError(self._redact(message), status=status, request=label)

    def _transport_error(self, exc, label, attempt):
        if isinstance(exc, requests.exceptions.SSLError):
            cause = ("TLS certificate verification failed for %s. Trust the server's CA with REQUESTS_CA_BUNDLE, "
                     "or set validate_certs: false (VOBIZ_VALIDATE_CERTS=false) for a test server only" % self.api_url)
        elif isinstance(exc, requests.exceptions.Timeout):
            cause = "no answer within timeout=%ss. Raise timeout, or check the network path to %s" % (self.timeout, self.api_url)
        elif isinstance(exc, requests.exceptions.ConnectionError) and _connection_reason(exc) in _DROPPED:
            # Connected, then the connection died before the answer: api_url is fine, the path or server is not.
            cause = "the connection to %s broke before the answer came (%s). Try again later or raise retries; if it keeps " \
                    "happening check the network path or proxy" % (self.api_url, _connection_reason(exc))
        elif isinstance(exc, requests.exceptions.ConnectionError):
            cause = "cannot connect to %s (%s). Check api_url (VOBIZ_API_URL) and the network or proxy" % (
                self.api_url, _connection_reason(exc))
        else:
            cause = "%s: %s" % (type(exc).__name__, exc)
        return VobizError(self._redact("%s failed after %d tr%s: %s" % (label, attempt + 1, "y" if attempt == 0 else "ies", cause)),
                          request=label)

    def _path(self, resource, params=None):
        path = "/api/v1/Account/%s/%s" % (_path_segment(self.auth_id), resource)
        return path + "?" + urlencode(params) if params else path

    def _redact(self, text):
        return text.replace(self._token, "********") if self._token else text

    def _count(self, what):
        with self._stats_lock:
            self.stats[what] += 1


_HINTS = {
    400: "The API rejected the request's fields; fix the values it names",
    401: "Check auth_id and auth_token (VOBIZ_AUTH_ID / VOBIZ_AUTH_TOKEN) and that api_url is the Vobiz API",
    403: "These credentials may not act on this account; check auth_id (VOBIZ_AUTH_ID)",
    404: "Check auth_id and api_url; an id in the path may not exist",
    409: "The endpoint already exists; pick another username or manage the existing one",
    429: "The API kept rate limiting; lower max_concurrency or raise retries",
    "5xx": "The Vobiz API failed; try again later or raise retries",
}


def _warn_unverified(api_url, warn):
    """Say once, in the user's own output, that TLS is not checked; silence urllib3's per-request warning instead."""
    if not api_url.startswith("https://"):
        return  # nothing to verify over plain http (the local simulator)
    warnings.simplefilter("ignore", InsecureRequestWarning)
    if warn is not None:
        warn("validate_certs is false: the TLS certificate of %s is not checked, so anyone on the network path could read "
             "the auth token and change the answers. Use it for a test server only; to trust a private CA keep "
             "validate_certs true and set REQUESTS_CA_BUNDLE to its certificate" % api_url)


def _decode(response):
    if not response.content or not response.content.strip():
        return None
    return json.loads(response.content)


def _api_error_text(response):
    """The API's own words, from {"error": "..."}, {"error": {"message": ...}}, {"message": ...} or a non-JSON body."""
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        text = response.text or ""
        title = _HTML_TITLE.search(text)
        return _clip(_WHITESPACE.sub(" ", title.group(1) if title else text).strip(), 200) if text.strip() else ""
    if not isinstance(body, dict):
        return _clip(body, 200) if body is not None else ""
    error = body.get("error")
    if isinstance(error, dict):
        text = error.get("message") or error.get("code") or json.dumps(error, sort_keys=True)
        details = error.get("details")
    else:
        text = error or body.get("message") or ""
        details = body.get("details")
    text = _clip(str(text), 300)
    if details:
        text += " (%s)" % _clip(details, 300)
    return text


def _retry_after_seconds(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _never_reached_server(exc):
    """True when a failed request cannot have been acted on, so even a create may be sent again."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or "Connection refused" in str(exc)


_DROPPED = ("connection reset by peer", "remote end closed connection")


def _connection_reason(exc):
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                   "Connection reset by peer", "Remote end closed connection", "No route to host"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _unique(pages, key):
    seen = set()
    objects = []
    for page in pages:
        for obj in page.objects:
            identity = obj.get(key) if isinstance(obj, dict) else None
            if not isinstance(identity, (str, int, float)):
                objects.append(obj)  # no usable id (null, a list...): the normaliser names the broken record
            elif identity not in seen:
                seen.add(identity)
                objects.append(obj)
    return objects


def _required_text(name, value, env):
    if value is None or not str(value).strip():
        raise VobizError("%s is required: set the %s option or the %s environment variable" % (name, name, env))
    return str(value).strip()


def _ranged(name, value, low, high):
    """A whole number within bounds (Ansible may hand options over as strings)."""
    try:
        number = int(value) if not isinstance(value, (bool, float)) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise VobizError("%s must be a whole number from %s to %s, got %r" % (name, low, high, value))
    return number


def _path_segment(value):
    text = str(value)
    if not text or "/" in text or "?" in text or "#" in text or text in (".", ".."):
        raise VobizError("%r is not a valid id for a Vobiz API path" % text)
    return text


def _ms(started):
    return int((time.monotonic() - started) * 1000)
