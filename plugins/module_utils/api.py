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

import collections
import email.utils
import ipaddress
import json
import random
import re
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from urllib.parse import urlencode, urlsplit

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
# When records move while we page, the listing is walked again; this many walks at most.
MAX_WALKS = 4
# The longest Retry-After honoured; a longer one ends the request with an error naming the wait.
MAX_RETRY_WAIT = 120.0
DEFAULT_LISTING_TIMEOUT = 600
# Progress at -v: the first line after this many seconds of listing, then one every as many.
PROGRESS_EVERY = 5.0
# The learned request rate stays between these (requests per second).
MIN_RATE = 0.5
MAX_RATE = 1000.0
# Until the second refusal shows the rate, the paced rate grows this much per success (x1.1: about twice as fast
# within a second at 10 requests/s), from what the first refusal shows, a lower bound.
PROBE_GROWTH = 1.1
# Once learned, the rate is paced a little below what the refusal showed (the measure is good to a few per cent),
# and grows this much per success (x1.0003: 3 % in 100 requests) to find a limit that was raised.
LEARN_MARGIN = 0.96
RATE_GROWTH = 1.0003
# A rate is learned from a refusal only this long (seconds) after the pause before it ended.
LEARN_SECONDS = 0.5
_LOOPBACK_NAMES = ("localhost",)
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


class _ListingTimeout(Exception):
    """listing_timeout passed; _list_all turns it into a VobizError that says how far the listing got."""


class _ListingAborted(Exception):
    """Another page of the same walk failed: the requests still waiting give up instead of retrying on."""


class _Walk:
    """One walk over a paged listing whose pages overlap by one record (stride limit - 1).

    Page k+1 must start with the record page k ended with. API order keeps the relative order of records,
    so when every page chains on to the one before, the pages cover one unbroken run of the list from its
    first record to its last, and every record that existed throughout the walk is in some page, whatever
    the timing of the pages. A create or delete in front of a page not yet fetched shifts that page, it no
    longer starts with the expected record, and the walk is broken (even when total_count never moves). The
    last page must end the list: shorter than a page, or ending exactly at its own total_count; when it is
    full and its total_count says more, records were added at the end and the walk goes on.
    """

    def __init__(self, first, page_size, key):
        self.key = key
        limit = max(page_size, 2)  # one record of overlap needs pages of two at least
        if first.limit:
            limit = min(limit, first.limit)
        if 2 <= len(first.objects) < limit and first.total_count > len(first.objects):
            limit = len(first.objects)  # the API serves smaller pages than asked for (and says nothing)
        if limit < 2:
            raise VobizError("the API serves one record per page; vobiz.sip needs pages of two records or more to "
                             "check that a listing is complete. Report this to Vobiz")
        self.limit = limit
        self.stride = limit - 1
        self.pages = {0: first}
        self.broken = not first.objects and first.total_count > 0
        # Offsets stride, 2 * stride, ... below _planned_end (the last page must reach index total_count - 1);
        # computed as needed, never listed: a lying total_count of a billion must cost nothing up front.
        self._planned_end = first.total_count - 1 if first.objects else 0
        self._next = self.stride
        self._end_offset = 0 if first.objects and self._ends_list(first) else float("inf")

    def next_offset(self):
        """The next page to ask for, or None (none left, or the walk is already broken or has reached the end)."""
        if self.broken or self._next >= self._planned_end or self._next > self._end_offset:
            return None
        self._next += self.stride
        return self._next - self.stride

    def add(self, page):
        self.pages[page.offset] = page
        before = self.pages.get(page.offset - self.stride)
        after = self.pages.get(page.offset + self.stride)
        if not page.objects or (before and not self._chained(before, page)) or (after and not self._chained(page, after)) \
                or not self._consistent(page):
            self.broken = True
        elif self._ends_list(page):
            self._end_offset = min(self._end_offset, page.offset)
        elif page.offset + self.stride >= self._planned_end:
            # The last page planned, full, and its total_count says there is more: records were added; walk on.
            self._planned_end = max(self._planned_end, page.total_count - 1)

    def objects_so_far(self):
        return sum(len(page.objects) for page in self.pages.values()) - (len(self.pages) - 1)

    def finish(self):
        """(pages in offset order, None) when they chain from the first record to the end; else (pages, the problem)."""
        pages = [self.pages[offset] for offset in sorted(self.pages)]
        first = pages[0]
        if not first.objects and first.total_count == 0:
            return pages, None
        for index, page in enumerate(pages):
            if not page.objects or not self._consistent(page):
                break
            if index and (page.offset - pages[index - 1].offset != self.stride or not self._chained(pages[index - 1], page)):
                break
            if self._ends_list(page):
                return pages[:index + 1], None
        totals = [page.total_count for page in pages]
        if len(set(totals)) > 1:
            return pages, "total_count moved from %s to %s while paging" % (first.total_count, totals[-1])
        unchained = [later.offset for earlier, later in zip(pages, pages[1:])
                     if earlier.objects and later.objects and not self._chained(earlier, later)]
        if unchained:
            return pages, ("records moved while paging although total_count stayed at %s (the page at offset %s does not "
                           "start with the record the page before it ended with)" % (first.total_count, unchained[0]))
        return pages, "the API reported total_count %s but served %s distinct records" % (
            first.total_count, len(_unique(pages, self.key)))

    def _ends_list(self, page):
        return page.offset + len(page.objects) == page.total_count

    def _consistent(self, page):
        """A short page must end at its own total_count, and no page may serve records past it."""
        end = page.offset + len(page.objects)
        return end <= page.total_count and (len(page.objects) == self.limit or end == page.total_count)

    def _chained(self, earlier, later):
        if not earlier.objects or not later.objects:
            return False
        identity = _identity(later.objects[0], self.key)
        return identity is not None and identity == _identity(earlier.objects[-1], self.key)


def _identity(obj, key):
    identity = obj.get(key) if isinstance(obj, dict) else None
    return identity if isinstance(identity, (str, int, float)) and not isinstance(identity, bool) else None


class _Listing:
    """One _list_all under way: its deadline, how far it got (for progress and the timeout error)."""

    def __init__(self, path, timeout, stats):
        self.path = path
        self.timeout = timeout
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.stats = stats
        self.walk = 1
        self.current = None
        self.aborted = threading.Event()
        self._next_progress = self.started + PROGRESS_EVERY

    def started_walk(self, walk):
        self.current = walk

    def remaining(self):
        return self.deadline - time.monotonic()

    def check(self):
        if self.aborted.is_set():
            raise _ListingAborted()
        if self.remaining() <= 0:
            raise _ListingTimeout()

    def sleep(self, seconds):
        """Sleep, but not past the deadline, and not on once another page of the walk has failed."""
        if seconds >= self.remaining():
            raise _ListingTimeout()
        if self.aborted.wait(seconds):
            raise _ListingAborted()

    def so_far(self):
        walk = self.current
        total = walk.pages[0].total_count if walk else "?"
        got = walk.objects_so_far() if walk else 0
        return "%s of %s records (total_count) in %d pages, walk %d of %d, %d retries" % (
            got, total, self.stats["pages"], self.walk, MAX_WALKS, self.stats["retries"])

    def progress_line(self, rate):
        now = time.monotonic()
        if now < self._next_progress:
            return None
        self._next_progress = now + PROGRESS_EVERY
        return "listing %s: %s, concurrency %d%s, %.0f s so far" % (
            self.path, self.so_far(), rate.concurrency, rate.describe(), now - self.started)

    def timeout_message(self):
        return ("listing GET %s did not finish within listing_timeout=%ss (VOBIZ_LISTING_TIMEOUT): it got %s. Raise "
                "listing_timeout; if the API is rate limiting (see the retries), a smaller page_size does not help, "
                "filters that select fewer endpoints do" % (self.path, self.timeout, self.so_far()))


def learned_bucket_rate(burst, empty_at, sends, refused_sent_at):
    """The refill rate of a token bucket holding at most `burst` that refused a request sent at `empty_at`, then
    served `sends` and refused a request sent at `refused_sent_at`.

    A refused request found 0 to 1 token: the learned rate is the one at which both found half a token, the middle
    of what "refused" allows. None when no rate fits (the API's limit is no token bucket of that size).
    """
    sends = sorted(sent for sent in sends if empty_at < sent < refused_sent_at)

    def left_at_refusal(rate):
        tokens, last = 0.5, empty_at
        for sent in sends:
            tokens, last = min(float(burst), tokens + rate * (sent - last)) - 1, sent
        return min(float(burst), tokens + rate * (refused_sent_at - last))

    low, high = MIN_RATE, MAX_RATE
    if left_at_refusal(low) > 0.5 or left_at_refusal(high) < 0.5:
        return None
    for _step in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if left_at_refusal(middle) < 0.5 else (low, middle)
    return low


class _RateState:
    """What one client has learned about the API's rate limit, shared by all its worker threads.

    A 429 pauses every worker until Retry-After (or the backoff when there is none). Two things adapt,
    additive increase / multiplicative decrease: the concurrency (halved on a 429, back up by one per
    window of successes) and, once the API has refused once, a request rate the workers are paced to
    (a token bucket learned from the refusals). The first 429 shows the bucket's size (what the burst
    before it got through) and a lower bound of the rate; until the second 429 the rate grows fast
    (PROBE_GROWTH per success). Each later 429 shows the rate: the bucket was empty at the refusal before,
    so the requests served since then and the one refused give it (learned_bucket_rate). The workers are
    then paced a little below it (LEARN_MARGIN), and it grows slowly (RATE_GROWTH per success), to find
    a limit that was raised. When a refusal shows no rate, the rate drops by a fifth. The pacing is the
    learned bucket itself: what the pause refilled (up to the burst, less one token against clock jitter)
    goes at once when it ends, so a pause costs only its length less what it refilled.
    Refusals that were already in flight when a pause began count once. No rate is learned from a
    refusal that comes before two successes (a single 429 from a proxy is not a rate).
    """

    def __init__(self, max_concurrency):
        self._cond = threading.Condition()
        self.max_concurrency = max_concurrency
        self.concurrency = float(max_concurrency)
        self.rate = None
        self._in_flight = 0
        self._paused_until = 0.0
        self._tokens = 0.0  # the learned bucket as this client last left it: tokens, and when
        self._tokens_at = 0.0
        self._started = None
        self._successes = 0
        self._burst = None  # successes of the requests sent before the first refusal: the API's burst, as seen
        self._first_refusal = None  # when the first refusal a rate was learned from came back
        self._empty_at = None  # when the request of the last refusal was sent: the API's bucket was empty then
        self._refusals = 0
        self._episode = float("-inf")
        self._resumed = 0.0  # when the last pause ended
        self._served = collections.deque(maxlen=10000)  # when the latest successful requests were sent
        self._sending = []  # when the requests in flight were sent

    def describe(self):
        return ", paced at %.1f requests/s" % self.rate if self.rate else ""

    def acquire(self, listing=None):
        """Wait for a slot (concurrency, pace, pause); returns the monotonic time the request may be sent."""
        with self._cond:
            while True:
                if listing is not None:
                    listing.check()
                now = time.monotonic()
                ready = max(self._paused_until, self._token_ready(now))
                if now >= ready and self._in_flight < max(1, int(self.concurrency)):
                    break
                wait_for = ready - now if now < ready else 0.5
                if listing is not None:
                    wait_for = min(wait_for, max(listing.remaining(), 0.01))
                self._cond.wait(min(wait_for, 0.5))
            self._in_flight += 1
            self._sending.append(now)
            if self._started is None:
                self._started = now
            self._take_token(now)
            return now

    def _take_token(self, now):
        if self.rate:
            self._tokens, self._tokens_at = self._tokens_left(now) - 1, now

    def _capacity(self):
        """What the workers may send at once when the learned bucket is full: the API's burst less one token."""
        return max(1.0, self._burst - 1.0)

    def _tokens_left(self, now):
        return min(self._capacity(), self._tokens + self.rate * max(0.0, now - self._tokens_at))

    def _token_ready(self, now):
        """When the learned bucket has a token for the next request (now when no rate is learned)."""
        if not self.rate:
            return 0.0
        left = self._tokens_left(now)
        return now if left >= 1 else now + (1 - left) / self.rate

    def release(self, sent_at, outcome, pause=0.0):
        """A request sent at sent_at ended: "ok" (any answer but a 429), "refused" (a 429 asking for `pause` s), "failed"."""
        with self._cond:
            self._in_flight -= 1
            self._sending.remove(sent_at)
            now = time.monotonic()
            if outcome == "ok":
                self._successes += 1
                self._served.append(sent_at)
                if self._first_refusal is not None and sent_at <= self._first_refusal:
                    self._burst += 1  # in flight with the first refusal: served from the same burst
                self.concurrency = min(float(self.max_concurrency), self.concurrency + 1.0 / self.concurrency)
                if self.rate:
                    self.rate = min(MAX_RATE, self.rate * (PROBE_GROWTH if self._refusals < 2 else RATE_GROWTH))
            elif outcome == "refused":
                self._paused_until = max(self._paused_until, now + pause)
                if sent_at > self._episode:  # the first refusal of an episode; those in flight with it count once
                    self._refused(now, sent_at, pause)
            self._cond.notify_all()

    def _refused(self, now, sent_at, pause):
        self._episode = now
        self._refusals += 1
        self.concurrency = max(1.0, self.concurrency / 2)
        elapsed = max(now - self._started, 0.001)
        if self.rate is None:
            if self._successes < 2:  # refused before any burst: nothing to learn a rate from yet
                self._refusals -= 1
                self._resumed = now + pause
                return
            self._burst = self._successes
            self._first_refusal = now
            self.rate = max(MIN_RATE, self._successes / (elapsed + max(pause, 0.1)))
        else:
            learned = None
            # Shorter, one token either way is a large error; and every send since the last refusal must be known.
            if sent_at - self._resumed >= LEARN_SECONDS and (len(self._served) < self._served.maxlen or
                                                             self._served[0] < self._empty_at):
                # Those still in flight were sent before the refusal came back: they took tokens too.
                learned = learned_bucket_rate(self._burst, self._empty_at, list(self._served) + self._sending, sent_at)
            self.rate = learned * LEARN_MARGIN if learned is not None else max(MIN_RATE, self.rate * 0.8)
        self._resumed = now + pause
        self._empty_at = sent_at
        self._tokens, self._tokens_at = 0.0, sent_at  # the API's bucket was empty; it refills while we pause


class VobizClient:
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

    # HTTP ------------------------------------------------------------------------------------

    def request(self, method, resource, params=None, json_body=None, missing_ok=False, idempotent=True):
        """One API call with retries; returns the decoded JSON body (None when empty; MISSING for a 404 if missing_ok).

        Retried: 429, 5xx, connection errors, timeouts and unreadable 200 replies, with exponential
        backoff and jitter, or the server's Retry-After. A non-idempotent call (create) is retried only
        where the request cannot have been acted on: 429 and connection refused.
        """
        path = self._path(resource, params)
        label = "%s %s" % (method, path)
        listing = self._listing
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            sent_at = self._rate.acquire(listing)
            refused = False
            started = time.monotonic()
            try:
                timeout = self.timeout if listing is None else max(0.1, min(self.timeout, listing.remaining()))
                # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's
                # verify=False, which would silently turn validate_certs: false back on.
                # No redirects: requests would carry X-Auth-Token to any host a redirect names (it strips only
                # Authorization), so the token goes to api_url and nowhere else.
                response = self._session.request(method, self.api_url + self._path(resource), params=params, json=json_body,
                                                 timeout=timeout, verify=self._session.verify, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                self._rate.release(sent_at, "failed")
                self._count("requests")
                self._log("%s failed after %d ms: %s" % (label, _ms(started), self._redact(type(exc).__name__)))
                if listing is not None and listing.remaining() <= 0:
                    raise _ListingTimeout() from None
                retryable = idempotent or _never_reached_server(exc)
                if last or not retryable or isinstance(exc, requests.exceptions.SSLError):
                    raise self._transport_error(exc, label, attempt) from None
                self._wait(attempt, None, label, listing)
                continue
            except BaseException:
                self._rate.release(sent_at, "failed")
                raise
            self._count("requests")
            self._log("%s %s %d ms" % (label, response.status_code, _ms(started)))
            status = response.status_code
            if status != 429:
                self._rate.release(sent_at, "ok")
            else:
                self._count("rate_limited")
                try:
                    pause = self._retry_delay(attempt, response.headers.get("Retry-After"), label)
                except VobizError:
                    self._rate.release(sent_at, "failed")
                    raise
                self._rate.release(sent_at, "refused", pause)
                refused = True
            if status == 404 and missing_ok:
                return MISSING
            if 300 <= status < 400:
                raise VobizError(self._redact(
                    "%s was redirected (HTTP %s) to %s. vobiz.sip does not follow redirects, so that the auth token goes to "
                    "api_url only: set api_url to the API's own address (the default is %s)"
                    % (label, status, _clip(response.headers.get("Location") or "nowhere", 200), DEFAULT_API_URL)),
                    status=status, request=label)
            if status in _RETRYABLE_STATUS and (idempotent or status == 429) and not last:
                if refused:  # every worker waits out the pause in acquire(); this one only counts the retry
                    self._count("retries")
                else:
                    self._wait(attempt, response.headers.get("Retry-After"), label, listing)
                continue
            if status >= 400:
                raise self._http_error(response, label, attempt)
            try:
                return _decode(response)
            except ValueError as exc:
                if last or not idempotent:
                    raise VobizError("malformed reply from %s (HTTP %s): %s, after %d tries. Check api_url points at the "
                                     "Vobiz API" % (label, status, exc, attempt + 1), status=status, request=label) from None
                self._wait(attempt, None, label, listing)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _retry_delay(self, attempt, retry_after, label):
        """Seconds to wait before the next try: the API's Retry-After (up to MAX_RETRY_WAIT), else the backoff."""
        delay = _retry_after_seconds(retry_after)
        if delay is None:
            return self.backoff_base * (2 ** attempt) * random.uniform(0.5, 1.0)
        if delay > MAX_RETRY_WAIT:
            raise VobizError("%s: the API asks to wait %.0f s before retrying (Retry-After), longer than vobiz.sip waits "
                             "(%.0f s). Try again after that wait" % (label, delay, MAX_RETRY_WAIT), status=429, request=label)
        return delay

    def _wait(self, attempt, retry_after, label, listing=None):
        self._count("retries")
        delay = self._retry_delay(attempt, retry_after, label)
        if listing is not None:
            listing.sleep(delay)
        else:
            time.sleep(delay)

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
            identity = _identity(obj, key)
            if identity is None:
                objects.append(obj)  # no usable id (null, a list...): the normaliser names the broken record
            elif identity not in seen:
                seen.add(identity)
                objects.append(obj)
    return objects


def _checked_api_url(api_url):
    """api_url without a trailing slash; https, or http to a loopback host only (the token is in every request)."""
    url = (api_url or DEFAULT_API_URL).strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("https", "http") or not host:
        raise VobizError("api_url must be an https:// URL such as %s, got %r (http:// is accepted only for a local test "
                         "server on a loopback address: 127.0.0.1, localhost or ::1)" % (DEFAULT_API_URL, _clip(url)))
    if parts.scheme == "http" and not _is_loopback(host):
        raise VobizError("api_url %s uses http:// to %s, which is not a loopback address: the auth token would travel in "
                         "cleartext. Use https://; http:// is accepted only for 127.0.0.1, localhost or ::1"
                         % (_clip(url), host))
    return url


def _is_loopback(host):
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
