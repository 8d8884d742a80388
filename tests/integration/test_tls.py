# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS: the client and ansible-inventory against the simulator serving HTTPS with a throwaway CA.

By default an unknown CA is refused with a message naming the two fixes; `validate_certs: false` accepts it
with one warning of ours and none of urllib3's; a CA bundle in REQUESTS_CA_BUNDLE accepts it silently.
This machine (like many corporate ones) already sets REQUESTS_CA_BUNDLE to the system bundle, which is the
case where requests would quietly re-enable verification; the tests keep that setting unless they replace it.
"""

from __future__ import annotations

import json
import warnings

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError
from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_DATA, ansible_env, one_line, run_cli
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator, make_test_certificates

SYSTEM_BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_test_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_sim(certificates):
    with Simulator(SAMPLE_DATA, tls=(certificates["cert"], certificates["key"])) as simulator:
        yield simulator


def client(sim, **options):
    return VobizClient(sim.auth_id, sim.auth_token, api_url=sim.url, retries=1, backoff_base=0.01, **options)


def usernames(sim):
    return sorted(endpoint["username"] for endpoint in sim.endpoints)


# ---------------------------------------------------------------- the client


def test_client_refuses_an_unknown_ca_and_names_both_fixes(tls_sim, monkeypatch):
    for name in SYSTEM_BUNDLE_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(VobizError) as error:
        client(tls_sim).list_endpoints()
    message = str(error.value)
    assert "TLS certificate verification failed for %s" % tls_sim.url in message
    assert "REQUESTS_CA_BUNDLE" in message and "validate_certs: false" in message and "VOBIZ_VALIDATE_CERTS" in message
    assert tls_sim.requests == []  # nothing was sent: the handshake failed, and it is not retried


def test_client_validate_certs_false_warns_once_and_silences_urllib3(tls_sim, monkeypatch):
    # The trap: with REQUESTS_CA_BUNDLE set, requests overrides a Session's verify=False with the bundle.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    said = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api = client(tls_sim, validate_certs=False, warn=said.append)
        records = api.list_endpoints(resolve_applications=True)
        api.get_endpoint(records[0]["endpoint_id"])
    assert sorted(record["username"] for record in records) == usernames(tls_sim)
    assert len(said) == 1
    assert said[0].startswith("validate_certs is false: the TLS certificate of %s is not checked" % tls_sim.url)
    assert "REQUESTS_CA_BUNDLE" in said[0] and tls_sim.auth_token not in said[0]
    assert not [warning for warning in caught if "InsecureRequestWarning" in type(warning.message).__name__]


def test_client_trusts_a_ca_bundle_from_requests_ca_bundle(tls_sim, certificates, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certificates["ca"])
    said = []
    records = client(tls_sim, warn=said.append).list_endpoints()
    assert sorted(record["username"] for record in records) == usernames(tls_sim)
    assert said == []


def test_client_does_not_warn_about_plain_http(monkeypatch):
    said = []
    with Simulator(SAMPLE_DATA) as plain:
        assert len(client(plain, validate_certs=False, warn=said.append).list_endpoints()) == len(plain.endpoints)
    assert said == []


# ---------------------------------------------------------------- ansible-inventory


def inventory(tls_sim, tmp_path, env_extra=None, **options):
    config = tmp_path / "tls.vobiz.yml"
    config.write_text(json.dumps(dict({"plugin": "vobiz.sip.endpoints", "timeout": 5, "retries": 1}, **options)), encoding="utf-8")
    env = ansible_env(tls_sim, tmp_path, PYTHONWARNINGS="default", **(env_extra or {}))
    return run_cli("ansible-inventory", "-i", config, "--list", env=env)


def hosts_of(completed):
    assert completed.returncode == 0, completed.stderr[-3000:]
    listing = json.loads(completed.stdout)
    return sorted(listing["_meta"]["hostvars"])


def test_inventory_refuses_an_unknown_ca_by_default(tls_sim, tmp_path):
    completed = inventory(tls_sim, tmp_path)
    assert completed.returncode != 0 and completed.stdout.strip() == ""
    assert "TLS certificate verification failed for %s" % tls_sim.url in completed.stderr
    assert "REQUESTS_CA_BUNDLE" in completed.stderr and "validate_certs: false" in completed.stderr
    assert "Traceback" not in completed.stderr and tls_sim.auth_token not in completed.stderr


@pytest.mark.parametrize("how", ["option", "environment"])
def test_inventory_validate_certs_false_accepts_with_one_warning(tls_sim, tmp_path, how):
    if how == "option":
        completed = inventory(tls_sim, tmp_path, validate_certs=False)
    else:
        completed = inventory(tls_sim, tmp_path, {"VOBIZ_VALIDATE_CERTS": "false"})
    assert hosts_of(completed) == usernames(tls_sim)
    assert one_line(completed.stderr).count("validate_certs is false: the TLS certificate of %s is not checked" % tls_sim.url) == 1
    assert "InsecureRequestWarning" not in completed.stderr and "Unverified HTTPS request" not in completed.stderr


def test_inventory_trusts_the_ca_from_requests_ca_bundle(tls_sim, tmp_path, certificates):
    completed = inventory(tls_sim, tmp_path, {"REQUESTS_CA_BUNDLE": certificates["ca"]})
    assert hosts_of(completed) == usernames(tls_sim)
    assert "validate_certs" not in completed.stderr and "WARNING" not in completed.stderr


# ---------------------------------------------------------------- endpoint_info through ansible-playbook

INFO_PLAYBOOK = """\
- name: endpoint_info over TLS
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: List the endpoints
      vobiz.sip.endpoint_info:
        validate_certs: %s
        retries: 1
      register: listing

    - name: Count them
      ansible.builtin.debug:
        msg: "endpoints={{ listing.endpoints | length }}"
"""


def play_info(tls_sim, tmp_path, validate_certs):
    playbook = tmp_path / "info.yml"
    playbook.write_text(INFO_PLAYBOOK % ("true" if validate_certs else "false"), encoding="utf-8")
    env = ansible_env(tls_sim, tmp_path, PYTHONWARNINGS="default")
    return run_cli("ansible-playbook", "-i", "localhost,", playbook, env=env)


def test_module_refuses_an_unknown_ca_by_default(tls_sim, tmp_path):
    completed = play_info(tls_sim, tmp_path, validate_certs=True)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0 and "TLS certificate verification failed for %s" % tls_sim.url in output
    assert "endpoints=" not in output and "Traceback" not in output


def test_module_validate_certs_false_accepts_with_one_warning(tls_sim, tmp_path):
    completed = play_info(tls_sim, tmp_path, validate_certs=False)
    output = one_line(completed.stdout + completed.stderr)
    assert completed.returncode == 0, output[-3000:]
    assert "endpoints=%d" % len(tls_sim.endpoints) in output
    assert output.count("validate_certs is false: the TLS certificate of %s is not checked" % tls_sim.url) == 1
    assert "InsecureRequestWarning" not in output and "Unverified HTTPS request" not in output
