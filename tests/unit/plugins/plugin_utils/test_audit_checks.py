# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registration, user agent, naming and contact network checks (plugin_utils/audit_checks.py), through the audit filter."""

from __future__ import annotations

import datetime
import ipaddress

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.filter.endpoint_audit import audit
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS
from ansible_collections.vobiz.sip.plugins.plugin_utils.audit_checks import contact_address, parse_timestamp

NOW = datetime.datetime(2026, 4, 2, 12, 0, tzinfo=datetime.timezone.utc)


def record(username, registered=True, **fields):
    base = {key: None for key in RECORD_KEYS}
    base.update(endpoint_id="id-" + username, username=username, sip_registered=registered, **fields)
    return base


def results(records, **checks):
    return {(item["check"], item["status"]): item for item in audit(records, checks, now=NOW)["results"]}


@pytest.mark.parametrize("text, expected", [
    ("2026-04-02T13:00:00Z", datetime.datetime(2026, 4, 2, 13, 0, tzinfo=datetime.timezone.utc)),
    ("2026-04-02 12:11:19.740666+00:00", datetime.datetime(2026, 4, 2, 12, 11, 19, 740666, tzinfo=datetime.timezone.utc)),
    ("2026-04-02T14:00:00+02:00", datetime.datetime(2026, 4, 2, 12, 0, tzinfo=datetime.timezone.utc)),
    ("2026-04-02T12:30", datetime.datetime(2026, 4, 2, 12, 30, tzinfo=datetime.timezone.utc)),  # no zone: UTC
    ("2026-04-02T12:30:00.123456789z", datetime.datetime(2026, 4, 2, 12, 30, 0, 123456, tzinfo=datetime.timezone.utc)),
])
def test_timestamps_the_api_writes(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["soon", "3600", "2026-04-02", "2026-02-30T10:00:00Z", "2026-04-02T25:00:00Z", "", "02/04/2026 12:00"])
def test_what_is_not_a_timestamp(text):
    assert parse_timestamp(text) is None


@pytest.mark.parametrize("contact, address", [
    ("sip:alice@198.51.100.7:5060;transport=udp", "198.51.100.7"),
    ("sip:198.51.100.7", "198.51.100.7"),
    ("SIPS:bob@[2001:db8::5]:5061;transport=tls", "2001:db8::5"),
    ('"Desk 3" <sip:desk03@10.9.9.9:5062>;expires=3600', "10.9.9.9"),
    ("<sip:desk03@10.9.9.9>", "10.9.9.9"),
    ("sip:x@[::ffff:10.1.1.1]:5060", "10.1.1.1"),      # IPv4-mapped: judged as the IPv4 address
    ("198.51.100.7:5060", "198.51.100.7"),
    ("[2001:db8::1]:5060", "2001:db8::1"),
])
def test_contact_addresses(contact, address):
    assert contact_address(contact) == (ipaddress.ip_address(address), None)


@pytest.mark.parametrize("contact, why", [
    ("sip:alice@pbx.example.com:5060", "host name pbx.example.com, not an address"),
    ("sip:alice@[not-v6]:5060", "not a SIP contact"),
    ("http://198.51.100.7/", "not a SIP contact"),
    ("sip:alice@999.1.1.1", "host name 999.1.1.1, not an address"),
])
def test_contacts_without_an_address(contact, why):
    assert contact_address(contact) == (None, why)


def test_freshness_judges_registered_endpoints_only():
    records = [record("fresh", sip_expires="2026-04-02T13:00:00Z"), record("soon", sip_expires="2026-04-02T12:04:00Z"),
               record("past", sip_expires="2026-04-02T11:00:00Z"), record("garbled", sip_expires="tomorrow"),
               record("offline", registered=False, sip_expires="2020-01-01T00:00:00Z"), record("silent", sip_expires=None)]
    found = results(records, registration_min_minutes=5)
    failed = found[("registration_fresh", "failed")]
    assert failed["endpoints"] == ["past", "soon", "garbled"]
    assert failed["message"] == ("3 of 5 registered endpoints fail: 1 expired: past; 1 expire within 5 minutes: soon; "
                                 "1 have a sip_expires that is not a timestamp: garbled (tomorrow)")
    assert found[("registration_fresh", "warning")]["endpoints"] == ["silent"]
    # 0 minutes: only what has expired
    assert results(records[:2], registration_min_minutes=0)[("registration_fresh", "passed")]["message"] == \
        "all 2 registered endpoints that report sip_expires have not expired at 2026-04-02T12:00:00Z"


@pytest.mark.parametrize("policy, statuses", [
    ("warn", {("user_agents", "passed"), ("user_agents", "warning")}),
    ("fail", {("user_agents", "failed")}),
    ("ignore", {("user_agents", "passed")}),
])
def test_endpoints_without_a_user_agent_are_counted_apart(policy, statuses):
    records = [record("a", sip_user_agent="Yealink SIP-T46S 66.86.0.15"), record("b", sip_user_agent="")]
    found = results(records, user_agents=[r"^Yealink SIP-\S+ \d+\.8[6-9]\."], unreported_registration=policy)
    assert set(found) == statuses
    if policy == "fail":
        assert found[("user_agents", "failed")]["message"] == "1 of 2 registered endpoints fail: 1 do not report sip_user_agent: b"


def test_compact_records_leave_the_registration_checks_unchecked():
    records = [record("a"), record("b")]  # the compact shape: no sip_* details at all
    found = results(records, registration_min_minutes=5, user_agents=["x"], contact_networks=["10.0.0.0/8"])
    assert set(found) == {("registration_fresh", "warning"), ("user_agents", "warning"), ("contact_networks", "warning")}
    assert found[("contact_networks", "warning")]["message"] == \
        "no registered endpoint reports sip_contact (the API answered with compact records), so it was not checked"


def test_no_registered_endpoint_passes_with_nothing_to_check():
    found = results([record("a", registered=False)], user_agents=["x"])
    assert found == {("user_agents", "passed"): found[("user_agents", "passed")]}


def test_naming_patterns_and_missing_aliases():
    records = [record("desk01", alias="Lobby"), record("Desk02", alias=None), record("desk03", alias="")]
    found = results(records, username_patterns=["^desk[0-9]+$"], alias_patterns=["^[A-Z]"])
    assert found[("username_patterns", "failed")]["endpoints"] == ["Desk02"]
    assert found[("alias_patterns", "failed")]["message"] == \
        "2 of 3 endpoints have an alias matching none of ^[A-Z]: Desk02 (none), desk03 ('')"
    assert ("alias_patterns", "passed") in results(records, alias_patterns=["^[A-Z]", "^$"])


def test_unique_aliases_ignore_case_and_spacing_but_not_missing_ones():
    records = [record("a", alias="Lobby Phone"), record("b", alias=" lobby  PHONE"), record("c", alias=None), record("d", alias=""),
               record("e", alias="Kiosk"), record("f", alias="kiosk"), record("g", alias="Desk")]
    failed = results(records, unique_aliases=True)[("unique_aliases", "failed")]
    assert failed["endpoints"] == ["a", "b", "e", "f"]
    assert failed["message"] == "2 aliases are shared by 4 endpoints: 'Lobby Phone' (a, b), 'Kiosk' (e, f)"
    assert ("unique_aliases", "passed") in results(records[2:5] + records[6:], unique_aliases="true")


def test_contact_networks_v4_v6_and_names():
    records = [record("in4", sip_contact="sip:in4@10.1.2.3:5060"), record("in6", sip_contact="sip:in6@[2001:db8::9]"),
               record("out", sip_contact="sip:out@192.0.2.1"), record("named", sip_contact="sip:named@pbx.example.com"),
               record("mapped", sip_contact="sip:m@[::ffff:192.0.2.1]"), record("offline", registered=False, sip_contact="sip:x@192.0.2.2")]
    failed = results(records, contact_networks=["10.0.0.0/8", "2001:db8::/32"])[("contact_networks", "failed")]
    assert failed["endpoints"] == ["out", "mapped", "named"]
    assert "3 register from outside" not in failed["message"] and "2 register from outside the allowed networks: out (192.0.2.1), " \
        "mapped (192.0.2.1)" in failed["message"]
    assert ("contact_networks", "passed") in results(records[:2], contact_networks=["10.1.2.3", "2001:db8::/32"])


@pytest.mark.parametrize("checks, message", [
    ({"registration_min_minutes": -1}, "endpoint_audit_registration_min_minutes must be a whole number of minutes"),
    ({"registration_min_minutes": True}, "endpoint_audit_registration_min_minutes must be a whole number of minutes"),
    ({"user_agents": "Yealink"}, "endpoint_audit_user_agents must be a list of regular expressions, got text 'Yealink'"),
    ({"username_patterns": ["("]}, "endpoint_audit_username_patterns: '(' is not a valid regular expression"),
    ({"alias_patterns": [3]}, "endpoint_audit_alias_patterns must list regular expressions (text), got number 3"),
    ({"unique_aliases": "sometimes"}, "endpoint_audit_unique_aliases must be true or false"),
    ({"contact_networks": ["10.0.0.0/33"]}, "endpoint_audit_contact_networks: text '10.0.0.0/33' is not a network"),
    ({"contact_networks": ["192.168.1.1/24"]}, "(did you mean 192.168.1.0/24?)"),
    ({"contact_networks": "10.0.0.0/8"}, "endpoint_audit_contact_networks must be a list of networks"),
    ({"unreported_registration": "never"}, "endpoint_audit_unreported_registration must be one of warn, fail, ignore"),
])
def test_bad_settings_name_the_role_variable(checks, message):
    with pytest.raises(AnsibleFilterError, match=None) as raised:
        audit([], checks)
    assert message in str(raised.value)


def test_checks_are_off_until_set():
    found = audit([record("a", alias="x"), record("b", alias="x")], {"registration_min_minutes": None, "unique_aliases": False})
    assert found["results"] == [] and found["summary"]["checks"] == 0
