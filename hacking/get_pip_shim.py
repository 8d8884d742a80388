# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py that ansible-test downloads from a host this machine cannot reach.

ansible-test creates each sanity venv without pip, then runs this file with the venv's Python
(see ansible/ansible#77304). Bootstrapping pip from the stdlib's ensurepip and then installing
what ansible-test asks for from PyPI gives the same venv.
"""

from __future__ import annotations

import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + args)


if __name__ == "__main__":
    main()
