# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks share: the simulator in its own process, the CLIs' environment, and measuring whole processes.

Not a test and not part of the collection (galaxy.yml leaves bench/ out of the build). bench/run.py imports it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIMULATOR = os.path.join(REPO, "tests", "simulator", "vobiz_simulator.py")
BIN_DIR = os.path.dirname(sys.executable)
GNU_TIME = "/usr/bin/time"
# The generated account of `vobiz_simulator.py --generate` (see tests/simulator/README.md).
AUTH_ID = "MA_DEMO0001"
AUTH_TOKEN = "demo-token-not-secret"


class BenchError(Exception):
    """A benchmark that could not run or gave a wrong answer (the numbers would mean nothing)."""


def client_class():
    """The collection's VobizClient, imported through the collection loader that tests/conftest.py installs."""
    sys.path.insert(0, os.path.join(REPO, "tests"))
    __import__("conftest")
    return __import__("ansible_collections.vobiz.sip.plugins.module_utils.api", fromlist=["VobizClient"]).VobizClient


def _simulator_module():
    sys.path.insert(0, os.path.dirname(SIMULATOR))
    return __import__("vobiz_simulator")


class SimulatorProcess:
    """`vobiz_simulator.py --generate N --latency-ms L --shape mixed` on 127.0.0.1, as the real API would be: another process."""

    def __init__(self, endpoints, latency_ms, workdir, switches=None):
        self.endpoints = endpoints
        self.latency_ms = latency_ms
        self.switches = switches or {}
        name = "sim-%d-%d%s" % (endpoints, latency_ms, "-" + hashlib.sha256(json.dumps(self.switches, sort_keys=True).encode())
                                .hexdigest()[:8] if self.switches else "")
        self._port_file = os.path.join(workdir, name + ".port")
        self._log = open(os.path.join(workdir, name + ".log"), "wb")  # pylint: disable=consider-using-with
        self._process = None
        self.url = None

    def __enter__(self):
        cli_args = ["--generate", str(self.endpoints), "--latency-ms", str(self.latency_ms), "--shape", "mixed"]
        if self.switches:
            cli_args += ["--config", json.dumps(self.switches)]
        try:
            # generating 100,000 endpoints takes a few seconds
            self._process, self.url = _simulator_module().start_process(cli_args, self._port_file, start_timeout=120,
                                                                        stdout=self._log, stderr=subprocess.STDOUT)
        except RuntimeError as exc:
            self._log.close()
            raise BenchError("%s; see %s" % (exc, self._log.name)) from None
        return self

    def __exit__(self, *exc_info):
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()

    def clear_requests(self):
        self._control("DELETE", "/_sim/requests")

    def requests_made(self):
        """How many API requests the simulator answered since clear_requests() (control requests are not counted)."""
        return len(self._control("GET", "/_sim/requests"))

    def requests(self):
        """The recorded API requests since clear_requests() (see tests/simulator/README.md)."""
        return self._control("GET", "/_sim/requests")

    def _control(self, method, path):
        with urllib.request.urlopen(urllib.request.Request(self.url + path, method=method), timeout=60) as response:
            return json.loads(response.read())


@dataclasses.dataclass
class Run:
    """One whole process: wall seconds, CPU seconds (user + system) and peak RSS in KiB."""

    wall: float
    cpu: float
    rss_kib: int
    phases: list = None  # where the wall time went, when the benchmark can tell (resource_bench.timeline)


def ansible_env(workdir, **extra):
    """The environment of a CLI run: our collection, failures fatal, nothing from the caller's ANSIBLE_*/VOBIZ_*."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VOBIZ_"))}
    env.update(
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
        ANSIBLE_COLLECTIONS_PATH=collections_root(),
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
        ANSIBLE_HOME=os.path.join(workdir, "ansible_home"),
        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "ansible_tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        PYTHONWARNINGS="ignore",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def collections_root():
    """Where Ansible finds vobiz.sip: the checkout through .build/collections (tests/conftest.py makes the link)."""
    sys.path.insert(0, os.path.join(REPO, "tests"))
    return __import__("conftest").collections_root()


# Used when GNU time is missing: a wrapper process whose RUSAGE_CHILDREN is that one child's (and its children's).
_RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write('%f %f %d' % (usage.ru_utime, usage.ru_stime, usage.ru_maxrss))\n"
    "sys.exit(code)\n"
)


def run_measured(argv, env, stdout_path, cwd=None, timeout=1800):
    """Run one process to the end; its wall time, CPU time and peak RSS (the largest of it and its children)."""
    stats_path = stdout_path + ".rusage"
    if os.access(GNU_TIME, os.X_OK):
        command = [GNU_TIME, "-f", "%U %S %M", "-o", stats_path] + argv
    else:
        command = [sys.executable, "-c", _RUSAGE_WRAPPER, stats_path] + argv
    with open(stdout_path, "wb") as stdout:
        started = time.perf_counter()
        result = subprocess.run(command, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, check=False)
        wall = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError("%s exited with %d:\n%s\n%s" % (" ".join(argv[:3]), result.returncode, _read(stdout_path)[-3000:],
                                                         result.stderr.decode(errors="replace")[-3000:]))
    user, system, rss = _read(stats_path).split()[-3:]
    return Run(wall, float(user) + float(system), int(rss))


def network_floor(endpoints, page_size, max_concurrency, latency_ms):
    """The least time any client needs: the first page, then the other pages max_concurrency at a time."""
    pages = max(1, math.ceil(endpoints / page_size))
    return (1 + math.ceil((pages - 1) / max_concurrency)) * latency_ms / 1000.0


def median(values):
    return statistics.median(values) if values else float("nan")


def unwrap_unsafe(value):
    """`ansible-inventory --list` JSON without the {"__ansible_unsafe": ...} markers ansible-core 2.19 writes for unsafe text."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_unsafe" in value:
            return value["__ansible_unsafe"]
        return {key: unwrap_unsafe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_unsafe(item) for item in value]
    return value


def load_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def machine_description():
    """What the numbers were measured on, for bench/results.md."""
    from ansible.release import __version__ as ansible_version  # the venv's ansible-core, which the CLIs run on
    cpu = "unknown CPU"
    for line in _read("/proc/cpuinfo").splitlines() if os.path.exists("/proc/cpuinfo") else ():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in _read("/proc/meminfo").splitlines() if os.path.exists("/proc/meminfo") else ():
        if line.startswith("MemTotal:"):
            memory = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
            break
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": "%s (%s)" % (platform.python_version(), checkout_path(sys.executable)),
        "ansible-core": ansible_version,
        "os": platform.platform(),
        "load average at start": "%.2f %.2f %.2f" % os.getloadavg(),
    }


def checkout_path(path):
    """A path as results may name it: relative to the checkout, or only its name when it lies outside (results are
    committed, and the machine's layout is no business of theirs)."""
    path = os.path.abspath(path)
    return os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else os.path.basename(path)


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()
