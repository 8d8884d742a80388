# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in process, as Ansible would hand it its arguments."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic


def run_module_main(main, args, monkeypatch, capsys):
    """The JSON text a module prints when main() runs with `args` (exit_json and fail_json both exit)."""
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        main()
    return capsys.readouterr().out
