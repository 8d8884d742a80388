# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client under a token-bucket rate limit, and what overlapping pages cost (part of `make bench`).

Usage: python bench/rate_limited.py [--endpoints 10000] [--rate 10] [--burst 5] [--max-concurrency 8] [--runs 1] [--loads idle,busy]

The client alone (VobizClient in this process, default retries and timeouts) lists N endpoints from the simulator
in its own process, limited to `rate` requests/s with `burst` saved up, once with 429s carrying `Retry-After` and
once without it. The floor is what the limit itself allows: (requests - burst) / rate. Ansible's own start-up is
left out on purpose: it does not depend on the rate limit.

Each run is done idle and busy in turn: busy runs with one CPU burner per core (processes this script starts for
the run, that stop themselves after BURNER_SECONDS at the latest, and are killed when the run ends). Each run also
reports what the client left unused: the seconds the API's bucket (replayed from the simulator's request log) stood
full, throwing its refill away, and the largest such stretch; and the client's own time outside the requests (before
the first, after the last answer: normalising the records). Above the floor, a run is about these two, the tokens
left in the bucket at the end, and the last round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
benchlib = __import__("benchlib")

PAGE_SIZE = 100
TARGET_RATIO = 1.3
BURNER_SECONDS = 300  # a burner stops itself after this long, whatever happens to this process
LOADS = ("idle", "busy")


@contextlib.contextmanager
def cpu_burners(busy):
    """One process spinning on each core while the block runs (none when not `busy`); each stops itself after
    BURNER_SECONDS, and all are killed when the block ends."""
    code = "import time\nend = time.monotonic() + %d\nwhile time.monotonic() < end:\n    pass\n" % BURNER_SECONDS
    burners = [subprocess.Popen([sys.executable, "-c", code]) for _core in range(os.cpu_count() or 1)] if busy else []
    try:
        yield len(burners)
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait(timeout=30)


def unused_bucket(made, rate, burst):
    """(seconds, longest stretch) the API's token bucket stood full during a listing, replayed from the simulator's log.

    The bucket was full at the first request (each run waits for that). While it is full its refill is thrown away:
    time the client could have sent in and did not. (requests answered - burst) / rate + this is the listing's
    length, less its last round trip.
    """
    tokens, last, unused, longest = float(burst), None, 0.0, 0.0
    for request in sorted(made, key=lambda request: request["started"]):
        if last is not None:
            refilled = tokens + rate * (request["started"] - last)
            thrown = max(0.0, refilled - burst) / rate
            unused, longest, tokens = unused + thrown, max(longest, thrown), min(float(burst), refilled)
        last = request["started"]
        if tokens >= 1:
            tokens -= 1
    return unused, longest


def list_once(sim, max_concurrency):
    """(seconds, records, error text or None, client stats) of one listing at default retries and timeout."""
    client = benchlib.client_class()(benchlib.AUTH_ID, benchlib.AUTH_TOKEN, api_url=sim.url, page_size=PAGE_SIZE,
                                     max_concurrency=max_concurrency)
    started = time.monotonic()  # the simulator's request log is on the same (system-wide) clock
    try:
        records, error = client.list_endpoints(), None
    except Exception as exc:  # pylint: disable=broad-except  # a failure is a result here, reported as such
        records, error = [], str(exc)
    finished = time.monotonic()
    client.close()
    paced = getattr(getattr(client, "_rate", None), "rate", None)  # diagnostics only: the rate the workers ended paced at
    return finished - started, records, error, dict(client.stats, paced=paced, started=started, finished=finished)


def measure_rate_limited(endpoints, rate, burst, max_concurrency, runs, workdir, log=print, loads=LOADS):
    """One row per (header case, load): its runs' time, floor, ratio, requests, 429s, unused bucket, failures."""
    rows = []
    for retry_after in (True, False):
        switches = {"rate_limit": {"rate": rate, "burst": burst, "retry_after": retry_after}}
        with benchlib.SimulatorProcess(endpoints, 0, workdir, switches) as sim:
            results = {load: [] for load in loads}
            for run in range(runs):
                for load in loads:  # idle and busy in turn, so that other load falls on both alike
                    with cpu_burners(load == "busy") as burners:
                        time.sleep(burst / rate + 0.5)  # a full bucket, as a user would find it
                        sim.clear_requests()
                        seconds, records, error, stats = list_once(sim, max_concurrency)
                    made = sim.requests()
                    results[load].append(run_result(made, seconds, records, error, stats, endpoints, rate, burst))
                    log("  rate-limited listing, Retry-After %s, %s (%d burners), run %d/%d: %s"
                        % ("yes" if retry_after else "no", load, burners, run + 1, runs, describe_run(results[load][-1])))
        rows += [{"retry_after": retry_after, "load": load, "runs": results[load]} for load in loads]
    return rows


def run_result(made, seconds, records, error, stats, endpoints, rate, burst):
    refused = sum(1 for request in made if request["status"] == 429)
    if error is None and len(records) != endpoints:
        error = "listed %d of %d endpoints" % (len(records), endpoints)
    answered = len(made) - refused
    unused, longest = unused_bucket(made, rate, burst)
    # The client's own time outside the requests: before the first one, and after the last answer (the records
    # normalised, the listing's checks): CPU work, which a busy machine stretches.
    own = (min(request["started"] for request in made) - stats["started"] + stats["finished"] - max(request["finished"] for request in made)
           if made else 0.0)
    return {"seconds": seconds, "floor": max(answered - burst, 0) / rate, "requests": len(made), "answered": answered,
            "refused": refused, "error": error, "retries": stats["retries"], "unused": unused, "longest": longest,
            "paced": stats.get("paced"), "own": own}


def describe_run(run):
    ratio = run["seconds"] / run["floor"] if run["floor"] else 0
    paced = "%.2f/s" % run["paced"] if run["paced"] else "-"
    return ("%.2f s, floor %.2f s (%.2f x), %d requests, %d refused, bucket unused %.2f s (longest %.2f s), client's own %.2f s, "
            "paced at %s%s" % (run["seconds"], run["floor"], ratio, run["requests"], run["refused"], run["unused"], run["longest"],
                               run["own"], paced, ", FAILED: " + run["error"] if run["error"] else ""))


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
             "Busy: one CPU burner process per core during the run. Unused: seconds the API's bucket stood full (its refill "
             "thrown away), replayed from the simulator's log. Client's own: before the first request and after the last "
             "answer (normalising the records).", "",
             "| 429s carry | machine | listing (median) | floor | ratio (median) | ratio (spread) | requests | 429s (median) "
             "| unused (median) | client's own (median) | failures |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rate_rows:
        runs = row["runs"]
        ratios = [run["seconds"] / run["floor"] for run in runs if run["floor"]] or [0]
        lines.append("| %s | %s | %.2f s | %.2f s | %.2f | %.2f to %.2f | %d | %d | %.2f s | %.2f s | %d of %d |" % (
            "Retry-After" if row["retry_after"] else "no Retry-After", row["load"], benchlib.median([run["seconds"] for run in runs]),
            benchlib.median([run["floor"] for run in runs]), benchlib.median(ratios), min(ratios), max(ratios),
            benchlib.median([run["requests"] for run in runs]), benchlib.median([run["refused"] for run in runs]),
            benchlib.median([run["unused"] for run in runs]), benchlib.median([run["own"] for run in runs]),
            sum(1 for run in runs if run["error"]), len(runs)))
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
    parser.add_argument("--loads", default=",".join(LOADS), help="idle, busy (CPU burners on every core) or both")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vobiz-bench-rate-") as workdir:
        rate_rows = measure_rate_limited(args.endpoints, args.rate, args.burst, args.max_concurrency, args.runs, workdir,
                                         loads=[load for load in args.loads.split(",") if load])
        overlap_rows = measure_overlap([int(size) for size in args.overlap_sizes.split(",") if size], workdir)
    print("\n".join(tables(rate_rows, overlap_rows, args.endpoints, args.rate, args.burst, args.max_concurrency)))


if __name__ == "__main__":
    try:
        main()
    except benchlib.BenchError as error:
        sys.exit("bench: %s" % error)
