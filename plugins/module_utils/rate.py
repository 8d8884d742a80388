# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's side of the API's rate limit: a token bucket learned from the API's refusals (private to vobiz.sip; pure).

`_RateState` is shared by all the worker threads of one `VobizClient`; `learned_bucket_rate` is the arithmetic
of one refusal. See docs/design.md, "Rate limits".
"""

from __future__ import annotations

import collections
import threading
import time

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
