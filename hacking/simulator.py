# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make simulator`: the bundled Vobiz simulator with the sample account, in the foreground until Ctrl-C.

It prints the shell lines that point vobiz.sip at it and an inventory file to try, so a user can paste them into
another terminal. Options of tests/simulator/vobiz_simulator.py (--shape rich, --latency-ms 50, ...) pass through.
"""

from __future__ import annotations

import os
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


def main(argv):
    data = SAMPLE
    if "--data" in argv:
        data = argv[argv.index("--data") + 1]
    else:
        argv = ["--data", SAMPLE] + argv
    account = load_data(os.path.join(REPO, data) if not os.path.isabs(data) else data)
    # The simulator's own CLI runs in the foreground (it stops on SIGINT or SIGTERM); this process only reads its
    # "listening" line to print the URL it really got (--port 0 picks one).
    with subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "simulator", "vobiz_simulator.py")] + argv,
                          cwd=REPO, stdout=subprocess.PIPE, text=True) as simulator:
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
