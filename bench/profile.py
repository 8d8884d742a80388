# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cProfile of one `ansible-inventory --list` run of vobiz.sip.endpoints against the simulator, split into ours and Ansible's.

Usage: python bench/profile.py [--endpoints 10000] [--latency-ms 0] [--cache] [--top 25] [--save FILE.prof]

Prints where the time goes in phases (the plugin's parse, Ansible's per-host variables for --list, the JSON dump),
the cumulative time of the collection's own functions, and the top functions by own time. Profiling slows Python
code down about three times, so read the shares, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import pstats
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
benchlib = __import__("benchlib")

# (label, file suffix, function name) of the phases of `ansible-inventory --list`.
PHASES = (
    ("inventory parsing (plugin parse(), incl. Ansible's add_host/set_variable)", "ansible/inventory/manager.py", "parse_sources"),
    ("  of which set_variable (Ansible: checks and copies each variable)", "ansible/inventory/manager.py", "set_variable"),
    ("  of which vobiz.sip.endpoints parse()", "plugins/inventory/endpoints.py", "parse"),
    ("  of which listing + normalising (VobizClient.list_endpoints)", "plugins/module_utils/api.py", "list_endpoints"),
    ("  of which building hosts (_build_hosts)", "plugins/inventory/endpoints.py", "_build_hosts"),
    ("host variables for --list (Ansible: VariableManager.get_vars per host)", "ansible/cli/inventory.py", "json_inventory"),
    ("JSON output of --list (Ansible's encoder, incl. unsafe markers)", "ansible/cli/inventory.py", "dump"),
    ("inventory cache (Ansible's jsonfile plugin: load or store)", "ansible/plugins/cache/__init__.py", "get"),
)


def profile(endpoints, latency_ms, cache, save):
    with tempfile.TemporaryDirectory(prefix="vobiz-profile-") as workdir:
        with benchlib.SimulatorProcess(endpoints, latency_ms, workdir) as sim:
            source = os.path.join(workdir, "profile.vobiz.yml")
            with open(source, "w", encoding="utf-8") as handle:
                handle.write("plugin: vobiz.sip.endpoints\napi_url: %s\nmax_concurrency: 8\n" % sim.url)
                if cache:
                    handle.write("cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\n"
                                 % os.path.join(workdir, "cache"))
            env = benchlib.ansible_env(workdir, VOBIZ_AUTH_ID=benchlib.AUTH_ID, VOBIZ_AUTH_TOKEN=benchlib.AUTH_TOKEN)
            argv = [os.path.join(benchlib.BIN_DIR, "ansible-inventory"), "-i", source, "--list"]
            if cache:  # fill the cache first, so that the profiled run is a hit
                benchlib.run_measured(argv, env, os.path.join(workdir, "fill.json"))
            save = save or os.path.join(workdir, "inventory.prof")
            benchlib.run_measured([sys.executable, "-m", "cProfile", "-o", save] + argv, env, os.path.join(workdir, "list.json"))
            return pstats.Stats(save)


def cumulative(stats, suffix, name):
    total = 0.0
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if function == name and filename.endswith(suffix):
            total += ct
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10000)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--cache", action="store_true", help="profile a cache hit instead of a cold run")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", help="keep the .prof file here (for snakeviz, pstats...)")
    args = parser.parse_args()
    stats = profile(args.endpoints, args.latency_ms, args.cache, args.save)
    total = stats.total_tt
    state = "cache hit" if args.cache else "cold"
    print("%d endpoints, %d ms latency, %s: %.1f s profiled\n" % (args.endpoints, args.latency_ms, state, total))
    for label, suffix, name in PHASES:
        seconds = cumulative(stats, suffix, name)
        print("%5.1f %%  %6.2f s  %s" % (100 * seconds / total, seconds, label))
    print("\nThe collection's own functions (cumulative):")
    stats.sort_stats("cumulative").print_stats("ansible_collections/vobiz/sip/plugins", args.top)
    print("Top functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
