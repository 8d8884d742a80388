# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long the API client takes to list N simulated endpoints at L ms latency, and in how many requests (not a test: it prints).

Usage: python bench/client_listing.py [--endpoints 10000] [--latency-ms 50] [--max-concurrency 8] [--runs 3]
The simulator runs in its own process, as the real API would, on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_simulator(endpoints, latency_ms, workdir):
    sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))
    return __import__("vobiz_simulator").start_process(["--generate", str(endpoints), "--latency-ms", str(latency_ms)],
                                                       os.path.join(workdir, "port"), stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    client_class = __import__("benchlib").client_class()
    with tempfile.TemporaryDirectory() as workdir:
        simulator, url = start_simulator(args.endpoints, args.latency_ms, workdir)
        try:
            seconds, requests = [], set()
            for _run in range(args.runs):
                client = client_class("MA_DEMO0001", "demo-token-not-secret", api_url=url, page_size=args.page_size,
                                      max_concurrency=args.max_concurrency)
                started = time.perf_counter()
                records = client.list_endpoints()
                seconds.append(time.perf_counter() - started)
                requests.add(client.stats["requests"])
                client.close()
                assert len(records) == args.endpoints, len(records)
        finally:
            simulator.terminate()
            simulator.wait()
    pages = math.ceil(args.endpoints / args.page_size)
    floor = (1 + math.ceil((pages - 1) / args.max_concurrency)) * args.latency_ms / 1000
    summary = (args.endpoints, pages, "/".join(str(count) for count in sorted(requests)), args.latency_ms, args.max_concurrency,
               statistics.median(seconds), args.runs, min(seconds), floor)
    print("client listing: %d endpoints, %d pages, %s requests a listing, latency %d ms, max_concurrency %d: median %.3f s "
          "over %d runs (min %.3f s; network floor %.3f s)" % summary)


if __name__ == "__main__":
    main()
