# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make simulator`: the bundled Vobiz simulator with the sample account, in the foreground until Ctrl-C.

It prints the shell lines that point vobiz.sip at it and an inventory file to try, so a user can paste them into
another terminal. Options of tests/simulator/vobiz_simulator.py (--shape rich, --latency-ms 50, ...) pass through.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))

from vobiz_simulator import LISTENING_MESSAGE, load_data  # noqa: E402  pylint: disable=wrong-import-position

SAMPLE = os.path.join("tests", "simulator", "data", "sample.yaml")

USAGE = """\
In another shell, point vobiz.sip at it (these lines are also what you would set for your own account,
without VOBIZ_API_URL):

  export VOBIZ_AUTH_ID={auth_id} VOBIZ_AUTH_TOKEN={auth_token}
  export VOBIZ_API_URL={url}

and try an inventory file, for example prod.vobiz.yml:

  plugin: vobiz.sip.endpoints

  ansible-inventory -i prod.vobiz.yml --graph

(the collection must be installed where Ansible finds it, and ansible.cfg beside it: see "Try it on your
account" in README.md). Press Ctrl-C to stop the simulator.
"""


# How long the simulator may take to stop on SIGTERM before it is killed.
STOP_SECONDS = 10
# Linux's prctl(PR_SET_PDEATHSIG): the kernel sends a process this signal when its parent ends.
_PR_SET_PDEATHSIG = 1


class _Stopped(Exception):
    """SIGTERM or SIGHUP reached this process (`kill` of it or of make, a closed terminal)."""


def _stop_on_signal(signum, _frame):
    raise _Stopped(signum)


def _die_with(parent):
    """In the simulator's process, before it runs: SIGTERM when `parent` (this process) ends, even by SIGKILL, so that
    it is never left serving, re-parented to init. Only Linux has it; elsewhere the SIGTERM handler below does the work."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent ended before prctl: nobody would send the signal
            os._exit(1)


def main(argv):
    data = SAMPLE
    if "--data" in argv:
        data = argv[argv.index("--data") + 1]
    else:
        argv = ["--data", SAMPLE] + argv
    account = load_data(os.path.join(REPO, data) if not os.path.isabs(data) else data)
    # The simulator's own CLI runs in the foreground (it stops on SIGINT or SIGTERM); this process only reads its
    # "listening" line to print the URL it really got (--port 0 picks one). GNU make passes a SIGTERM it gets on to
    # this process (`make simulator` runs it with exec), and a closed terminal sends SIGHUP: either stops the
    # simulator too, as Ctrl-C does.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    with subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "simulator", "vobiz_simulator.py")] + argv,
                          cwd=REPO, stdout=subprocess.PIPE, text=True,
                          preexec_fn=functools.partial(_die_with, os.getpid())) as simulator:  # pylint: disable=subprocess-popen-preexec-fn
        try:
            line = simulator.stdout.readline()
            prefix = LISTENING_MESSAGE.split("{url}", maxsplit=1)[0]
            if not line.startswith(prefix):
                return simulator.wait() or 2  # the simulator printed why on stderr
            url = line[len(prefix):].strip()
            print("Vobiz simulator with the account of %s on %s\n" % (data, url))
            print(USAGE.format(auth_id=account["auth_id"], auth_token=account["auth_token"], url=url), flush=True)
            return simulator.wait()
        except KeyboardInterrupt:  # the terminal's Ctrl-C reached both processes; the simulator stops by itself
            simulator.wait()
            print("simulator stopped")
            return 0
        except _Stopped as stopped:  # only this process got it: stop the simulator (it stops cleanly on SIGTERM)
            simulator.terminate()
            try:
                simulator.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                simulator.kill()
                simulator.wait()
            signum = stopped.args[0]
            print("simulator stopped (%s)" % signal.Signals(signum).name, flush=True)
            return 128 + signum


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
