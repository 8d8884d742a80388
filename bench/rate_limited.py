# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client under a token-bucket rate limit, and what overlapping pages cost (part of `make bench`).

Usage: python bench/rate_limited.py [--endpoints 10000] [--rate 10] [--burst 5] [--max-concurrency 8] [--runs 1]

The client alone (VobizClient in this process, default retries and timeouts) lists N endpoints from the simulator
in its own process, limited to `rate` requests/s with `burst` saved up, once with 429s carrying `Retry-After` and
once without it. The floor is what the limit itself allows: (requests - burst) / rate. Ansible's own start-up is
left out on purpose: it does not depend on the rate limit.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
benchlib = __import__("benchlib")

PAGE_SIZE = 100
TARGET_RATIO = 1.3


def list_once(sim, max_concurrency):
    """(seconds, records, error text or None, client stats) of one listing at default retries and timeout."""
    client = benchlib.client_class()(benchlib.AUTH_ID, benchlib.AUTH_TOKEN, api_url=sim.url, page_size=PAGE_SIZE,
                                     max_concurrency=max_concurrency)
    started = time.perf_counter()
    try:
        records, error = client.list_endpoints(), None
    except Exception as exc:  # pylint: disable=broad-except  # a failure is a result here, reported as such
        records, error = [], str(exc)
    seconds = time.perf_counter() - started
    client.close()
    return seconds, records, error, dict(client.stats)


def measure_rate_limited(endpoints, rate, burst, max_concurrency, runs, workdir, log=print):
    """One row per header case: median time, floor, ratio, requests, 429s, failures."""
    rows = []
    for retry_after in (True, False):
        switches = {"rate_limit": {"rate": rate, "burst": burst, "retry_after": retry_after}}
        with benchlib.SimulatorProcess(endpoints, 0, workdir, switches) as sim:
            results = []
            for run in range(runs):
                time.sleep(burst / rate + 0.5)  # a full bucket, as a user would find it
                sim.clear_requests()
                seconds, records, error, stats = list_once(sim, max_concurrency)
                made = sim.requests()
                refused = sum(1 for request in made if request["status"] == 429)
                if error is None and len(records) != endpoints:
                    error = "listed %d of %d endpoints" % (len(records), endpoints)
                answered = len(made) - refused
                floor = max(answered - burst, 0) / rate
                results.append({"seconds": seconds, "floor": floor, "requests": len(made), "answered": answered,
                                "refused": refused, "error": error, "retries": stats["retries"]})
                log("  rate-limited listing, Retry-After %s, run %d/%d: %.2f s, floor %.2f s, %d requests, %d refused%s"
                    % ("yes" if retry_after else "no", run + 1, runs, seconds, floor, len(made), refused,
                       ", FAILED: " + error if error else ""))
        rows.append({"retry_after": retry_after, "runs": results})
    return rows


def measure_overlap(sizes, workdir):
    """Requests of one listing of an unchanging account: the overlapping pages against pages that do not overlap."""
    rows = []
    for endpoints in sizes:
        with benchlib.SimulatorProcess(endpoints, 0, workdir) as sim:
            sim.clear_requests()
            _seconds, records, error, _stats = list_once(sim, 4)
            if error or len(records) != endpoints:
                raise benchlib.BenchError("listing %d endpoints failed: %s" % (endpoints, error or len(records)))
            rows.append({"endpoints": endpoints, "overlap": sim.requests_made(),
                         "disjoint": max(1, math.ceil(endpoints / PAGE_SIZE))})
    return rows


def tables(rate_rows, overlap_rows, endpoints, rate, burst, max_concurrency):
    lines = ["Client alone, %d endpoints, page_size %d, max_concurrency %d, default retries and timeout; simulator token "
             "bucket %s requests/s, burst %d. Floor = (requests answered - burst) / rate. Target: no failure, at most %.1f x the floor."
             % (endpoints, PAGE_SIZE, max_concurrency, rate, burst, TARGET_RATIO), "",
             "| 429s carry | listing (median) | floor | ratio | requests | 429s (median) | failures |", "|---|---|---|---|---|---|---|"]
    for row in rate_rows:
        runs = row["runs"]
        ratio = benchlib.median([run["seconds"] / run["floor"] for run in runs if run["floor"]]) if any(run["floor"] for run in runs) else 0
        lines.append("| %s | %.2f s | %.2f s | %.2f | %d | %d | %d of %d |" % (
            "Retry-After" if row["retry_after"] else "no Retry-After", benchlib.median([run["seconds"] for run in runs]),
            benchlib.median([run["floor"] for run in runs]), ratio, benchlib.median([run["requests"] for run in runs]),
            benchlib.median([run["refused"] for run in runs]), sum(1 for run in runs if run["error"]), len(runs)))
    lines += ["", "Requests of one listing of an unchanging account, pages overlapping by one record against disjoint pages "
              "(ceil(N / %d), what the client did before):" % PAGE_SIZE, "",
              "| endpoints | overlapping | disjoint | extra |", "|---|---|---|---|"]
    for row in overlap_rows:
        extra = 100.0 * (row["overlap"] - row["disjoint"]) / row["disjoint"]
        lines.append("| %d | %d | %d | %+.1f %% |" % (row["endpoints"], row["overlap"], row["disjoint"], extra))
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--overlap-sizes", default="1000,10000,12345")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vobiz-bench-rate-") as workdir:
        rate_rows = measure_rate_limited(args.endpoints, args.rate, args.burst, args.max_concurrency, args.runs, workdir)
        overlap_rows = measure_overlap([int(size) for size in args.overlap_sizes.split(",") if size], workdir)
    print("\n".join(tables(rate_rows, overlap_rows, args.endpoints, args.rate, args.burst, args.max_concurrency)))


if __name__ == "__main__":
    try:
        main()
    except benchlib.BenchError as error:
        sys.exit("bench: %s" % error)
