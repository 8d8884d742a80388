# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP side of the client (private to vobiz.sip): one request with retries, and its errors.

`HttpTransport` is the part of `VobizClient` (api.py) that sends a request over the client's keep-alive
`requests.Session`, waits for the rate state, retries what may be retried and turns every failure into one
`VobizError` naming the request, the cause and the fix, never the auth token. With api.py, the only file that
imports `requests`.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import random
import re
import socket
import threading
import time
import warnings
from urllib.parse import urlencode, urlsplit

try:
    import requests
    import urllib3.connectionpool
    import urllib3.exceptions
    import urllib3.poolmanager
    from urllib3.exceptions import InsecureRequestWarning
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # the modules turn this into missing_required_lib()
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

from ansible_collections.vobiz.sip.plugins.module_utils.errors import VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.paging import _ListingTimeout
from ansible_collections.vobiz.sip.plugins.module_utils.values import clip as _clip

DEFAULT_API_URL = "https://api.vobiz.ai"
# The longest Retry-After honoured; a longer one ends the request with an error naming the wait.
MAX_RETRY_WAIT = 120.0
_LOOPBACK_NAMES = ("localhost",)
_RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))
# What request() returns for a 404 when the caller said missing_ok (an empty body is None).
MISSING = object()
# The largest reply read (a page of 100 rich records is about 100 KB): a larger one is an error, not retried, so at most
# max_concurrency replies of this size are held at once.
MAX_REPLY_BYTES = 16 * 1024 * 1024
# A reply's body is read this much at most per socket read, the deadline checked between reads.
_CHUNK_BYTES = 64 * 1024
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


class HttpTransport:
    """request() and its helpers; VobizClient sets what they use: api_url, auth_id, timeout, retries, backoff_base,
    _token, _session, _rate, _listing (the listing under way, or None), _log, stats and _stats_lock."""

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
            # A wall-clock deadline for the whole reply, body included (requests' timeout bounds each socket read
            # only, so a server sending a byte a second would never end); never past the listing's deadline.
            deadline = started + self.timeout if listing is None else min(started + self.timeout, listing.deadline)
            try:
                timeout = max(0.1, deadline - started)
                # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's
                # verify=False, which would silently turn validate_certs: false back on.
                # No redirects: requests would carry X-Auth-Token to any host a redirect names (it strips only
                # Authorization), so the token goes to api_url and nowhere else.
                _REQUEST.deadline = deadline  # for the connection's watchdog over the status line and headers
                try:
                    response = self._session.request(method, self.api_url + self._path(resource), params=params,
                                                     json=json_body, timeout=timeout, verify=self._session.verify,
                                                     allow_redirects=False, stream=True)
                finally:
                    _REQUEST.deadline = None
                try:
                    _read_body(response, deadline, label)
                finally:
                    response.close()  # back to the pool when read whole; closed when not
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
                body = _decode(response)
                if body is None and status == 200 and method == "GET":
                    raise ValueError("empty body")  # every GET of the API answers JSON: a proxy or a cut reply
                return body
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
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError) or (
                isinstance(exc, requests.exceptions.ConnectionError) and _connection_reason(exc) in _DROPPED):
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


# The deadline of the request this thread is sending, for the connection classes below (None outside request()).
_REQUEST = threading.local()


class _Watchdog:
    """Shuts a connection's socket down when the request's deadline passes, so that a blocked socket read ends at once:
    requests' timeout bounds each socket read, so a server sending its status line and headers a byte a second would
    never end. The body is bounded by _read_body; this bounds what comes before it.
    The timer is a daemon thread, cancelled and joined before the watched call returns: no thread outlives it."""

    def __init__(self, connection):
        self.connection = connection
        self.fired = False
        deadline = getattr(_REQUEST, "deadline", None)
        self._timer = None
        if deadline is not None:
            self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
            self._timer.daemon = True

    def _fire(self):
        self.fired = True
        sock = self.connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def call(self, method, *args, **kwargs):
        """method(*args, **kwargs), or socket.timeout (urllib3 makes it a ReadTimeoutError) when the deadline passed
        meanwhile: whatever a cut socket gave (an error, or headers cut short) is not the answer."""
        if self._timer is None:
            return method(*args, **kwargs)
        self._timer.start()
        try:
            result = method(*args, **kwargs)
        except BaseException as exc:  # even KeyboardInterrupt stops the timer: none outlives the call
            if not self._stop() or not isinstance(exc, Exception):
                raise
        else:
            if not self._stop():
                return result
        self.connection.close()  # never back to the pool
        raise socket.timeout("no answer within the request's deadline")

    def _stop(self):
        self._timer.cancel()
        self._timer.join()
        return self.fired


class _DeadlineConnection:
    """Mixed into urllib3's connections: the status line and headers (getresponse) bounded by the request's wall-clock
    deadline (urllib3 1.26 and 2 alike). Connecting needs no watchdog: its timeout is what is left of the deadline,
    and CPython bounds a whole TLS handshake by the socket's timeout."""

    def getresponse(self, *args, **kwargs):
        return _Watchdog(self).call(super().getresponse, *args, **kwargs)


if HAS_REQUESTS:
    class _DeadlineHTTPConnection(_DeadlineConnection, urllib3.connectionpool.HTTPConnection):
        pass

    class _DeadlineHTTPSConnection(_DeadlineConnection, urllib3.connectionpool.HTTPSConnection):
        pass

    class _DeadlineHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
        ConnectionCls = _DeadlineHTTPConnection

    class _DeadlineHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
        ConnectionCls = _DeadlineHTTPSConnection

    class DeadlineAdapter(requests.adapters.HTTPAdapter):
        """requests' HTTPAdapter whose connections keep the request's deadline before the body too (see _Watchdog).
        TLS verification and pooling are requests' own; a proxy manager with pools of its own (SOCKS) keeps them."""

        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            _use_deadline_pools(self.poolmanager)

        def proxy_manager_for(self, proxy, **proxy_kwargs):
            return _use_deadline_pools(super().proxy_manager_for(proxy, **proxy_kwargs))
else:
    # api.py checks HAS_REQUESTS before it builds one.
    DeadlineAdapter = None  # pylint: disable=invalid-name


def _use_deadline_pools(manager):
    if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}
    return manager


def _warn_unverified(api_url, warn):
    """Say once, in the user's own output, that TLS is not checked; silence urllib3's per-request warning instead."""
    if not api_url.startswith("https://"):
        return  # nothing to verify over plain http (the local simulator)
    warnings.simplefilter("ignore", InsecureRequestWarning)
    if warn is not None:
        warn("validate_certs is false: the TLS certificate of %s is not checked, so anyone on the network path could read "
             "the auth token and change the answers. Use it for a test server only; to trust a private CA keep "
             "validate_certs true and set REQUESTS_CA_BUNDLE to its certificate" % api_url)


def _read_body(response, deadline, label):
    """Read the reply's body into response.content, a chunk per socket read, against the wall-clock deadline and
    MAX_REPLY_BYTES. Raises requests' ReadTimeout past the deadline, ChunkedEncodingError when the connection broke
    mid-body, and VobizError (not retried) when the reply is too large."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > MAX_REPLY_BYTES:
        raise _too_large(label, " (Content-Length: %s)" % length)
    read = _chunk_reader(response.raw)
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    if not hasattr(sock, "settimeout"):
        sock = None  # no socket to bound (a proxy's tunnel): the deadline is still checked between reads
    chunks, size = [], 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise requests.exceptions.ReadTimeout("the reply did not end within the deadline")
            if sock is not None:  # a socket read that waits for nothing ends at the deadline too (urllib3 resets it)
                sock.settimeout(max(0.05, min(left, sock.gettimeout() or left)))
            chunk = read()
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise _too_large(label, "")
            chunks.append(chunk)
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(str(exc)) from None
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
        # A socket read cut short at the deadline surfaces as a timeout, or wrapped as a broken connection. A TLS
        # error here is one too: the certificate was checked before the status line came.
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)) or time.monotonic() >= deadline:
            raise requests.exceptions.ReadTimeout(str(exc)) from None
        raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
    response._content = b"".join(chunks)  # pylint: disable=protected-access
    response._content_consumed = True  # pylint: disable=protected-access


def _chunk_reader(raw):
    """A function giving the next piece of the decoded body (b"" at its end), one socket read at most per call."""
    if hasattr(raw, "read1"):  # urllib3 2
        return lambda: raw.read1(_CHUNK_BYTES)
    # urllib3 1.26 has no read1 (its read(n) waits for n bytes): http.client's read1, decoded as urllib3 would.
    raw._init_decoder()  # pylint: disable=protected-access

    def read():
        data = raw._fp.read1(_CHUNK_BYTES)  # pylint: disable=protected-access
        if not data and raw._fp.length:  # pylint: disable=protected-access
            raise urllib3.exceptions.ProtocolError("IncompleteRead: the connection closed before Content-Length")
        return raw._decode(data, True, not data)  # pylint: disable=protected-access
    return read


def _too_large(label, content_length):
    return VobizError("%s failed: the reply is larger than 16 MiB%s. Check api_url points at the Vobiz API; narrow the "
                      "listing with filters if it does" % (label, content_length), request=label)


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


_DROPPED = ("connection reset by peer", "remote end closed connection", "the reply was cut off")


def _connection_reason(exc):
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                   "Connection reset by peer", "Remote end closed connection", "No route to host"):
        if marker in text:
            return marker.lower()
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the reply was cut off"
    return type(exc).__name__


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


def _path_segment(value):
    text = str(value)
    if not text or "/" in text or "?" in text or "#" in text or text in (".", ".."):
        raise VobizError("%r is not a valid id for a Vobiz API path" % text)
    return text


def _ms(started):
    return int((time.monotonic() - started) * 1000)
