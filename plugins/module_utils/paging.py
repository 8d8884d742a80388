# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The page walk of a listing (private to vobiz.sip; pure): pages that overlap by one record, checked to chain.

`_Walk` decides which offsets to ask for and whether the pages it got make one consistent listing; `_Listing`
carries a listing's deadline and progress. The client (api.py) fetches the pages. See docs/design.md, "Paging".
"""

from __future__ import annotations

import threading
import time

from ansible_collections.vobiz.sip.plugins.module_utils.errors import VobizError

# When records move while we page, the listing is walked again; this many walks at most.
MAX_WALKS = 4
# Progress at -v: the first line after this many seconds of listing, then one every as many.
PROGRESS_EVERY = 5.0


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
    last page must end the list: shorter than a page and ending exactly at its own total_count. A full page
    ending exactly at total_count is no end (a total_count that is too small would hide the rest): the page
    after it, at offset total_count - 1, must hold just the overlap record; when a full page's total_count
    says more, records were added at the end and the walk goes on. And the walk must add up: its distinct
    records are exactly the total_count it ended on (an id served twice means another record was not served).
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
        # Offsets stride, 2 * stride, ... below _planned_end (the last page must be short, so it must start below
        # total_count); computed as needed, never listed: a lying total_count of a billion must cost nothing up front.
        self._planned_end = first.total_count if first.objects else 0
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
            self._planned_end = max(self._planned_end, page.total_count)

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
                pages = pages[:index + 1]
                distinct = len(_unique(pages, self.key))
                if distinct != page.total_count:
                    return pages, "the API reported total_count %s but served %s distinct records" % (page.total_count, distinct)
                return pages, None
        totals = [page.total_count for page in pages]
        if len(set(totals)) > 1:
            return pages, "total_count moved from %s to %s while paging" % (first.total_count, totals[-1])
        unchained = [later.offset for earlier, later in zip(pages, pages[1:])
                     if earlier.objects and later.objects and not self._chained(earlier, later)]
        if unchained:
            return pages, ("records moved while paging although total_count stayed at %s (the page at offset %s does not "
                           "start with the record the page before it ended with)" % (first.total_count, unchained[0]))
        past = [page for page in pages if page.offset + len(page.objects) > page.total_count]
        if past:
            return pages, ("the API reported total_count %s but the page at offset %s holds %s records, up to record %s"
                           % (past[0].total_count, past[0].offset, len(past[0].objects), past[0].offset + len(past[0].objects)))
        return pages, "the API reported total_count %s but served %s distinct records" % (
            first.total_count, len(_unique(pages, self.key)))

    def _ends_list(self, page):
        """A short page that ends at its own total_count (a full one may hide more: the next page tells)."""
        return len(page.objects) < self.limit and page.offset + len(page.objects) == page.total_count

    def _consistent(self, page):
        """A short page must end at its own total_count, and no page may serve records past it."""
        end = page.offset + len(page.objects)
        return end <= page.total_count and (len(page.objects) == self.limit or end == page.total_count)

    def _chained(self, earlier, later):
        if not earlier.objects or not later.objects:
            return False
        identity = _identity(later.objects[0], self.key)
        return identity is not None and identity == _identity(earlier.objects[-1], self.key)


def listing_requests(records, page_size):
    """The requests one walk over an unchanging listing of `records` records takes in pages of `page_size` overlapping
    by one record (see _Walk): the first page, then one a stride until a page is short, a full last page confirmed."""
    limit = max(page_size, 2)
    return 1 if records < limit else 2 + (records - limit) // (limit - 1)


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
