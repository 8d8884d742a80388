# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failures of the inventory plugin through the real ansible-inventory (ANSIBLE_INVENTORY_UNPARSED_FAILED=True).

Each one must exit non-zero with the plugin's one readable message (cause and fix), no traceback at default
verbosity, and never the token, neither at default verbosity nor at -vvvv.
"""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_TOKEN, ansible_env
from ansible_collections.vobiz.sip.tests.integration.conftest import inventory_cli, write_config

WRONG_TOKEN = "tok-wrong-8e2d41-secret"
FIRST_PAGE = "GET /api/v1/Account/MA_DEMO0001/Endpoint/?limit=100&offset=0"

CASES = {
    "bad option value": ({"page_size": 0}, {}, "page_size must be a whole number from 1 to 100, got 0"),
    # Ansible's own choices check; its wording differs between releases.
    "bad choice": ({"hostname": "mac_address"}, {}, ("mac_address", "hostname", "username, endpoint_id, alias, sip_uri")),
    "bad prefix": ({"group_prefix": "sip-"}, {}, "group_prefix must be letters, digits and underscores"),
    "unknown filter key": ({"filters": {"username__icontains": "x"}}, {},
                           "unknown filter key username__icontains in filters; the Vobiz API filters endpoints by: "
                           "username__contains, username__exact"),
    "401": ({}, {"VOBIZ_AUTH_TOKEN": WRONG_TOKEN},
            FIRST_PAGE + " failed: HTTP 401: Authentication failed. Check auth_id and auth_token "
            "(VOBIZ_AUTH_ID / VOBIZ_AUTH_TOKEN)"),
    "unreachable api_url": ({"api_url": "http://127.0.0.1:9", "retries": 0}, {},
                            FIRST_PAGE + " failed after 1 try: cannot connect to http://127.0.0.1:9 (connection refused). Check api_url"),
    "malformed reply": ({"retries": 0}, {}, "malformed reply from GET /api/v1/Account/MA_DEMO0001/Endpoint/"),
    "duplicate hostname": ({"hostname": "alias"}, {},
                           "endpoints 627778393157350 and 804710188004471 both have the host name 'Sybil231 Desk' "
                           "(hostname: alias). Set hostname to a field that is unique"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_failure_is_one_readable_message_without_traceback_or_token(sim, tmp_path, case):
    options, env_changes, message = CASES[case]
    if case == "malformed reply":
        sim.configure(faults=[{"kind": "nonjson200", "path_contains": "Endpoint"}])
    env = ansible_env(sim, tmp_path, **env_changes)
    config = write_config(tmp_path, options)
    result = inventory_cli(sim, tmp_path, "--list", env=env, config=config)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    flat = " ".join(output.split())  # Ansible wraps long warnings on some releases
    for fragment in (message,) if isinstance(message, str) else message:
        assert fragment in flat, output
    assert "auto' plugin: " in flat or "with auto plugin: " in flat  # it is reported as the plugin's failure
    assert "Traceback" not in output
    assert result.stdout == ""  # no partial inventory
    if case == "malformed reply":
        sim.configure(faults=[{"kind": "nonjson200", "path_contains": "Endpoint"}])
    verbose = inventory_cli(sim, tmp_path, "--list", "-vvvv", env=env, config=config)
    assert verbose.returncode != 0
    for text in (output, verbose.stdout + verbose.stderr):
        assert SAMPLE_TOKEN not in text and WRONG_TOKEN not in text


def test_missing_credentials_name_the_option(sim, tmp_path):
    env = ansible_env(sim, tmp_path)
    del env["VOBIZ_AUTH_TOKEN"]
    result = inventory_cli(sim, tmp_path, "--list", env=env)
    assert result.returncode != 0
    assert "auth_token" in result.stderr and "Traceback" not in result.stderr
    assert sim.requests == []
