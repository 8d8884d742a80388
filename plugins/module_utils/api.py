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

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

try:
    import requests
except ImportError:  # HAS_REQUESTS (transport.py) says so, and VobizClient() fails with the fix
    pass

from ansible_collections.vobiz.sip.plugins.module_utils.applications import fill_application_names, unnamed_applications
from ansible_collections.vobiz.sip.plugins.module_utils.errors import VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.paging import (  # noqa: F401 (re-exported)
    MAX_WALKS,
    _Listing,
    _ListingTimeout,
    _Page,
    _Walk,
    _unique,
)
from ansible_collections.vobiz.sip.plugins.module_utils.rate import _RateState
from ansible_collections.vobiz.sip.plugins.module_utils.records import (
    MalformedRecordError,
    normalize_endpoint,
)
from ansible_collections.vobiz.sip.plugins.module_utils.transport import (  # noqa: F401 (re-exported)
    DEFAULT_API_URL,
    DeadlineAdapter,
    HAS_REQUESTS,
    MAX_RETRY_WAIT,
    MISSING,
    REQUESTS_IMPORT_ERROR,
    HttpTransport,
    _checked_api_url,
    _path_segment,
    _warn_unverified,
)
from ansible_collections.vobiz.sip.plugins.module_utils.values import clip as _clip, yaml_kind

__all__ = ("DEFAULT_API_URL", "DEFAULT_LISTING_TIMEOUT", "ENDPOINT_FILTERS", "HAS_REQUESTS", "MAX_CONCURRENCY", "MAX_PAGE_SIZE",
           "MAX_RETRY_WAIT", "MAX_WALKS", "MISSING", "REQUESTS_IMPORT_ERROR", "VobizClient", "VobizError", "validate_filters")

MAX_PAGE_SIZE = 100
MAX_CONCURRENCY = 32
DEFAULT_LISTING_TIMEOUT = 600
ENDPOINT_FILTERS = (
    "username__contains", "username__exact", "username__startswith",
    "alias__contains", "alias__exact",
    "application_id__exact", "application_id__isnull", "sub_account",
)


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
    return {key: _query_value(value, "%s.%s" % (option, key)) for key, value in filters.items()}


def _query_value(value, where):
    """One filter value as query text; a list, mapping or null is an error (it would be sent as its Python text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, (str, int, float)):
        raise VobizError("%s must be a single value (text, number or boolean), got %s" % (where, yaml_kind(value)))
    return str(value)


class VobizClient(HttpTransport):
    """A keep-alive session against one Vobiz account.

    `log` receives one line per request (for -vvv); `stats` counts what a listing cost (for -v).
    `backoff_base` is the first retry wait in seconds when the API sends no Retry-After.
    `warn` receives warnings meant for the user (display.warning, module.warn): today the one that
    validate_certs is off.
    """

    def __init__(self, auth_id, auth_token, api_url=None, validate_certs=True, timeout=30, retries=5,
                 page_size=MAX_PAGE_SIZE, max_concurrency=4, log=None, backoff_base=0.5, warn=None,
                 listing_timeout=DEFAULT_LISTING_TIMEOUT, progress=None):
        if not HAS_REQUESTS:
            raise VobizError("the Python library 'requests' is required by vobiz.sip: pip install requests")
        self.auth_id = _required_text("auth_id", auth_id, "VOBIZ_AUTH_ID")
        self._token = _required_text("auth_token", auth_token, "VOBIZ_AUTH_TOKEN")
        self.api_url = _checked_api_url(api_url)
        self.timeout = _ranged("timeout", timeout, 1, 3600)
        self.retries = _ranged("retries", retries, 0, 100)
        self.page_size = _ranged("page_size", page_size, 1, MAX_PAGE_SIZE)
        self.max_concurrency = _ranged("max_concurrency", max_concurrency, 1, MAX_CONCURRENCY)
        self.listing_timeout = _ranged("listing_timeout", DEFAULT_LISTING_TIMEOUT if listing_timeout is None else listing_timeout,
                                       1, 86400)
        self.backoff_base = backoff_base
        self._log = log or (lambda line: None)
        self._progress = progress or (lambda line: None)
        self._stats_lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "pages": 0, "walks": 0, "rate_limited": 0}
        self._rate = _RateState(self.max_concurrency)
        self._listing = None  # the _Listing under way, which carries the deadline
        self._session = requests.Session()
        self._session.verify = bool(validate_certs)
        if not validate_certs:
            _warn_unverified(self.api_url, warn)
        adapter = DeadlineAdapter(pool_connections=1, pool_maxsize=max(self.max_concurrency, 4))
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

        Pages overlap by one record (see _Walk): each page must start with the record the page before it
        ended with, and the last one must end the list. Any shift (a create or delete before a page not yet
        fetched) breaks that chain, and the listing is walked again, at most MAX_WALKS times; the whole
        listing must end within listing_timeout.
        """
        path = self._path(resource)
        listing = self._listing = _Listing(path, self.listing_timeout, self.stats)
        try:
            problem = None
            for walk in range(1, MAX_WALKS + 1):
                self._count("walks")
                listing.walk = walk
                pages, problem = self._walk(resource, query, key, listing)
                if problem is None:
                    return _unique(pages, key)
                self._log("listing %s again: %s" % (path, problem))
        except _ListingTimeout:
            raise VobizError(listing.timeout_message(), request="GET " + path) from None
        finally:
            self._listing = None
        raise VobizError("could not get a consistent listing of GET %s after %s walks: %s. If the account is "
                         "changing fast, retry later; otherwise the API is serving inconsistent pages"
                         % (path, MAX_WALKS, problem), request="GET " + path)

    def _walk(self, resource, query, key, listing):
        """One walk over the listing: (pages in offset order, None) or (pages, what was inconsistent).

        The first page tells total_count; the others are fetched concurrently, at most max_concurrency (and
        what the rate state allows) in flight. No page is asked for once the walk is known to be broken (an
        empty page, a page that does not chain on): a total_count of a billion must not mean ten million
        requests.
        """
        first = self._get_page(resource, query, 0, max(self.page_size, 2))
        walk = _Walk(first, self.page_size, key)
        listing.started_walk(walk)
        self._report_progress(listing)
        if self.max_concurrency == 1:  # in this thread: no pool to start for a plain sequential walk
            for offset in iter(walk.next_offset, None):
                walk.add(self._get_page(resource, query, offset, walk.limit))
                self._report_progress(listing)
            return walk.finish()
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            running = set()
            try:
                while True:
                    while len(running) < self.max_concurrency:
                        offset = walk.next_offset()
                        if offset is None:
                            break
                        running.add(pool.submit(self._get_page, resource, query, offset, walk.limit))
                    if not running:
                        break
                    done, running = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                    for future in done:
                        walk.add(future.result())
                    self._report_progress(listing)
            except BaseException:
                listing.aborted.set()  # the pages still in flight give up rather than retry on
                raise
        return walk.finish()

    def _report_progress(self, listing):
        line = listing.progress_line(self._rate)
        if line:
            self._progress(line)

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
