# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registration and naming checks of vobiz.sip.endpoint_audit (private to vobiz.sip).

Pure functions over normalised endpoint records: registration freshness (sip_expires), user agents,
username and alias patterns, alias uniqueness, contact networks (sip_contact). The filter plugin
endpoint_audit registers them; each returns results in its {check, status, message, endpoints} form,
made by the `result` function it passes in. Edge cases are defined in docs/audit.md.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.vobiz.sip.plugins.module_utils.values import describe_value

VARIABLE_PREFIX = "endpoint_audit_"
UNREPORTED_POLICIES = ("warn", "fail", "ignore")
PASSED = "passed"
FAILED = "failed"
WARNING = "warning"

# ISO-8601 as the API writes it ("2026-04-02T13:00:00Z", "2026-04-02 12:11:19.740666+00:00"); no zone means UTC.
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$",
                        re.IGNORECASE)
# A SIP contact: an optional display name and <...>, the scheme, optional user@, then the host (a [v6], or up to : ; > ? or space).
_CONTACT = re.compile(r"^(?:[^<]*<)?\s*(?:sips?|tel):(?:[^@;>]*@)?(\[[^\]]*\]|[^:;>?\s]+)", re.IGNORECASE)
_BARE_CONTACT = re.compile(r"^(\[[^\]]*\]|[^:;>?\s/@]+)(?::\d+)?$")


# Settings ----------------------------------------------------------------------------------------

def normalize_settings(checks):
    """The new checks' settings from the role's check mapping, validated; names as the role variables without the prefix."""
    return {
        "registration_min_minutes": _minutes(checks.get("registration_min_minutes")),
        "user_agents": _patterns(checks, "user_agents"),
        "username_patterns": _patterns(checks, "username_patterns"),
        "alias_patterns": _patterns(checks, "alias_patterns"),
        "unique_aliases": _flag(checks, "unique_aliases"),
        "contact_networks": _networks(checks.get("contact_networks")),
        "unreported_registration": _policy(checks.get("unreported_registration")),
    }


def _minutes(value):
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise AnsibleFilterError("%sregistration_min_minutes must be a whole number of minutes (0: not expired), got %s"
                             % (VARIABLE_PREFIX, describe_value(value)))


def _patterns(checks, key):
    value = checks.get(key) or []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("%s%s must be a list of regular expressions, got %s" % (VARIABLE_PREFIX, key, describe_value(value)))
    compiled = []
    for pattern in value:
        if not isinstance(pattern, str):
            raise AnsibleFilterError("%s%s must list regular expressions (text), got %s" % (VARIABLE_PREFIX, key, describe_value(pattern)))
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise AnsibleFilterError("%s%s: %r is not a valid regular expression (%s)" % (VARIABLE_PREFIX, key, pattern, error))
    return compiled


def _flag(checks, key):
    value = checks.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0", ""):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise AnsibleFilterError("%s%s must be true or false, got %s" % (VARIABLE_PREFIX, key, describe_value(value)))


def _networks(value):
    value = value or []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("%scontact_networks must be a list of networks (CIDRs such as 10.0.0.0/8), got %s"
                                 % (VARIABLE_PREFIX, describe_value(value)))
    networks = []
    for entry in value:
        text = str(entry).strip() if isinstance(entry, str) else None
        try:
            networks.append(ipaddress.ip_network(text))
        except (TypeError, ValueError) as error:
            hint = ""
            if text and "/" in text:
                try:
                    hint = " (did you mean %s?)" % ipaddress.ip_network(text, strict=False)
                except ValueError:
                    pass
            raise AnsibleFilterError("%scontact_networks: %s is not a network: %s%s" % (VARIABLE_PREFIX, describe_value(entry), error, hint))
    return networks


def _policy(value):
    value = value or UNREPORTED_POLICIES[0]
    if value not in UNREPORTED_POLICIES:
        raise AnsibleFilterError("%sunreported_registration must be one of %s, got %r" % (VARIABLE_PREFIX, ", ".join(UNREPORTED_POLICIES), value))
    return value


# Parsing -----------------------------------------------------------------------------------------

def parse_timestamp(text):
    """An aware datetime from the API's ISO-8601 forms (no zone: UTC), or None when the text is not one."""
    match = _TIMESTAMP.match(str(text).strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = datetime.timedelta(0)
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)) * (-1 if zone[0] == "-" else 1)
    try:
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                 int((fraction or "0").ljust(6, "0")[:6]), tzinfo=datetime.timezone(offset))
    except ValueError:  # 2026-02-30, 25:00 and their like
        return None


def contact_address(contact):
    """(address or None, why not): the IP address a SIP contact registered from.

    Accepts `sip:user@1.2.3.4:5060;transport=udp`, `sips:user@[2001:db8::1]:5061`, `"Name" <sip:user@host>;expires=60`
    and a bare `host[:port]`. A host name is not resolved (an audit must not depend on DNS): it is reported as such.
    """
    text = str(contact).strip()
    match = _CONTACT.match(text) or _BARE_CONTACT.match(text)
    if not match:
        return None, "not a SIP contact"
    bracketed = match.group(1).startswith("[")
    host = match.group(1).strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        is_name = not bracketed and re.match(r"^[A-Za-z0-9.-]+$", host)
        return None, "host name %s, not an address" % host if is_name else "not a SIP contact"
    return (address.ipv4_mapped or address if address.version == 6 else address), None


def normalized_alias(alias):
    """How aliases are compared for uniqueness: case and runs of white space do not count."""
    return " ".join(str(alias).split()).casefold()


# The checks --------------------------------------------------------------------------------------

def run(records, settings, show, result, now=None):
    """Results of the new checks that the settings switch on, in a fixed order."""
    results = []
    registered = [record for record in records if record["sip_registered"] is True]
    policy = settings["unreported_registration"]
    if settings["registration_min_minutes"] is not None:
        results.extend(check_registration_fresh(registered, settings["registration_min_minutes"], now or _utc_now(), policy, show, result))
    if settings["user_agents"]:
        results.extend(check_user_agents(registered, settings["user_agents"], policy, show, result))
    if settings["username_patterns"]:
        results.append(check_names(records, "username", settings["username_patterns"], show, result))
    if settings["alias_patterns"]:
        results.append(check_names(records, "alias", settings["alias_patterns"], show, result))
    if settings["unique_aliases"]:
        results.append(check_unique_aliases(records, show, result))
    if settings["contact_networks"]:
        results.extend(check_contact_networks(registered, settings["contact_networks"], policy, show, result))
    return results


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def check_registration_fresh(registered, minutes, now, policy, show, result):
    """Registered endpoints whose sip_expires is past, within `minutes` of now, or unreadable fail."""
    check = "registration_fresh"
    limit = now + datetime.timedelta(minutes=minutes)
    expired, expiring, unreadable, unreported = [], [], [], []
    for record in registered:
        if record["sip_expires"] in (None, ""):
            unreported.append(record["username"])
            continue
        expires = parse_timestamp(record["sip_expires"])
        if expires is None:
            unreadable.append(record)
        elif expires <= now:
            expired.append(record["username"])
        elif expires <= limit:
            expiring.append(record["username"])
    parts = []
    if expired:
        parts.append("%d expired: %s" % (len(expired), show(expired)))
    if expiring:
        parts.append("%d expire within %d minutes: %s" % (len(expiring), minutes, show(expiring)))
    if unreadable:
        parts.append("%d have a sip_expires that is not a timestamp: %s"
                     % (len(unreadable), show("%s (%s)" % (record["username"], record["sip_expires"]) for record in unreadable)))
    wanted = "expire more than %d minutes from %s" % (minutes, now.strftime("%Y-%m-%dT%H:%M:%SZ")) if minutes else \
        "have not expired at %s" % now.strftime("%Y-%m-%dT%H:%M:%SZ")
    at_fault = expired + expiring + [record["username"] for record in unreadable]
    return _with_unreported(check, registered, at_fault, parts, unreported, "sip_expires", wanted, policy, show, result)


def check_user_agents(registered, patterns, policy, show, result):
    """Registered endpoints whose sip_user_agent matches none of the patterns fail; those that report none are counted apart."""
    outside, unreported = [], []
    for record in registered:
        agent = record["sip_user_agent"]
        if agent in (None, ""):
            unreported.append(record["username"])
        elif not any(pattern.search(str(agent)) for pattern in patterns):
            outside.append(record)
    parts = []
    if outside:
        agents = {}
        for record in outside:
            agents[record["sip_user_agent"]] = agents.get(record["sip_user_agent"], 0) + 1
        parts.append("%d run a user agent outside the allowed patterns (%s): %s" % (
            len(outside), ", ".join("%s: %d" % (agent, count) for agent, count in sorted(agents.items())),
            show(record["username"] for record in outside)))
    return _with_unreported("user_agents", registered, [record["username"] for record in outside], parts, unreported,
                            "sip_user_agent", "run an allowed user agent", policy, show, result)


def check_contact_networks(registered, networks, policy, show, result):
    """Registered endpoints whose sip_contact address lies outside every allowed network (or is no address) fail."""
    outside, unplaceable, unreported = [], [], []
    for record in registered:
        contact = record["sip_contact"]
        if contact in (None, ""):
            unreported.append(record["username"])
            continue
        address, why_not = contact_address(contact)
        if address is None:
            unplaceable.append("%s (%s)" % (record["username"], why_not))
        elif not any(address.version == network.version and address in network for network in networks):
            outside.append("%s (%s)" % (record["username"], address))
    parts = []
    if outside:
        parts.append("%d register from outside the allowed networks: %s" % (len(outside), show(outside)))
    if unplaceable:
        parts.append("%d have a sip_contact without an IP address: %s" % (len(unplaceable), show(unplaceable)))
    at_fault = [entry.split(" (")[0] for entry in outside + unplaceable]
    wanted = "register from the allowed networks (%s)" % ", ".join(str(network) for network in networks)
    return _with_unreported("contact_networks", registered, at_fault, parts, unreported, "sip_contact", wanted, policy, show, result)


def _with_unreported(check, registered, at_fault, parts, unreported, field, wanted, policy, show, result):
    """The registration checks' results: `parts` say what fails; under `fail` not reporting `field` fails too."""
    if policy == "fail" and unreported:
        parts = parts + ["%d do not report %s: %s" % (len(unreported), field, show(unreported))]
        at_fault = at_fault + unreported
    failure = ("%d of %d registered endpoints fail: %s" % (len(at_fault), len(registered), "; ".join(parts)), at_fault) if parts else None
    return results_with_unreported(check, len(registered), failure, unreported, field, wanted, policy, show, result,
                                   noun="registered endpoint")


def results_with_unreported(check, total, failure, unreported, field, satisfied, policy, show, result, noun="endpoint",
                            why_unreported=""):
    """One fail or pass result, plus (policy warn) a warning for the endpoints that do not report `field`.

    `failure` is (message, endpoints at fault) or None, as the caller built it under `policy`. The compact API shape
    reports no registration details and no allow_* flags: when no endpoint reports the field, nothing was checked,
    which is a warning, never a pass (unless the policy is `ignore`).
    """
    checked = total - len(unreported)
    results = []
    if failure:
        results.append(result(check, FAILED, failure[0], failure[1]))
    elif checked or not total or policy == "ignore":
        message = "all %d %ss that report %s %s" % (checked, noun, field, satisfied)
        results.append(result(check, PASSED, message + (" (%d do not report it)" % len(unreported) if unreported else "")))
    if unreported and policy == "warn":
        if len(unreported) == total:
            message = "no %s reports %s (the API answered with compact records), so it was not checked" % (noun, field)
        else:
            message = "%d of %d %ss do not report %s%s, so it was not checked for them: %s" % (
                len(unreported), total, noun, field, why_unreported, show(unreported))
        results.append(result(check, WARNING, message, unreported))
    return results


def check_names(records, field, patterns, show, result):
    """Every endpoint's username (or alias) matches one of the patterns; a missing alias is matched as empty text."""
    check = "%s_patterns" % field
    wrong = [record for record in records if not any(pattern.search(record[field] or "") for pattern in patterns)]
    shown = " or ".join(pattern.pattern for pattern in patterns)
    if not wrong:
        return result(check, PASSED, "all %d endpoints have a%s %s matching %s" % (len(records), "n" if field == "alias" else "", field, shown))
    names = [record["username"] if field == "username" else "%s (%s)" % (record["username"], _quoted(record[field])) for record in wrong]
    return result(check, FAILED, "%d of %d endpoints have a%s %s matching none of %s: %s"
                  % (len(wrong), len(records), "n" if field == "alias" else "", field, shown, show(names)),
                  [record["username"] for record in wrong])


def check_unique_aliases(records, show, result):
    """No two endpoints share an alias (case and spacing aside); endpoints without an alias are not compared."""
    by_alias = {}
    for record in records:
        if record["alias"] not in (None, "") and str(record["alias"]).strip():
            by_alias.setdefault(normalized_alias(record["alias"]), []).append(record)
    shared = [group for group in by_alias.values() if len(group) > 1]
    if not shared:
        return result("unique_aliases", PASSED, "all %d aliases are distinct" % len(by_alias))
    at_fault = [record["username"] for group in shared for record in group]
    listed = ["%s (%s)" % (_quoted(group[0]["alias"]), ", ".join(str(record["username"]) for record in group)) for group in shared]
    return result("unique_aliases", FAILED, "%d alias%s shared by %d endpoints: %s" % (
        len(shared), " is" if len(shared) == 1 else "es are", len(at_fault), show(listed)), at_fault)


def _quoted(text):
    return "none" if text is None else "'%s'" % str(text).replace("\n", "\\n")
