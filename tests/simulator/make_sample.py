"""Write tests/simulator/data/sample.yaml: the demo and test account, deterministically.

Run ``python tests/simulator/make_sample.py`` after changing this file and commit the output;
the same code always writes the same bytes (seeded random, fixed timestamps).
"""

from __future__ import annotations

import datetime
import os
import random

import yaml

SEED = 20260402
ENDPOINT_COUNT = 300
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sample.yaml")

AUTH_ID = "MA_DEMO0001"
AUTH_TOKEN = "demo-token-not-secret"

# Names chosen to exercise group naming: spaces, punctuation, non-ASCII, and two names
# ("Front Desk" / "front-desk") that slug to the same group name.
APPLICATIONS = [
    ("20000000000000001", "Front Desk", None),
    ("20000000000000002", "front-desk", None),
    ("20000000000000003", "R\u00e9ception \u2013 Paris", None),
    ("20000000000000004", "Sales & Support (EU)", None),
    ("20000000000000005", "Night-Shift IVR #2", None),
    ("20000000000000006", "Branch 01 Queue", "SA_BRANCH01"),
]
SUB_ACCOUNTS = [
    {"auth_id": "SA_BRANCH01", "name": "Branch 01", "id": "5001", "enabled": True, "created": "2026-01-15"},
    {"auth_id": "SA_LAB0002", "name": "Lab \u00c9quipe", "id": "5002", "enabled": True, "created": "2026-02-20"},
]
BRANCH_ENDPOINTS = 40
LAB_ENDPOINTS = 8
WITHOUT_APPLICATION = 20
REGISTERED_SHARE = 0.45

FIRST_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
               "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe")
ROLES = ("Desk", "Softphone", "Mobile", "Reception", "Lab Phone", "Conference Room", "Kiosk")
USER_AGENTS = ("Zoiper rv2.10.20.2", "Linphone/5.2.5 (belle-sip/5.2.0)", "Yealink SIP-T46U 108.86.0.20",
               "MicroSIP/3.21.3", "Grandstream GXP2170 1.0.11.23", "Obihai/OBi200-3.2.2")

# Aliases that must survive templating, quoting and unsafe-marking untouched.
TRICKY_ALIASES = [
    "{{ lookup('pipe', 'id') }}",
    "{% raw %}x",
    "She said \"hi\" and 'bye'",
    "first line\nsecond line",
    ("Long alias " * 30)[:299] + "!",  # 300 characters
    "Z\u00f6e \u2013 Bureau d'accueil",
    "\u6771\u4eac \u53d7\u4ed8",
    "Caf\u00e9 #3 @ 50%",
]


class IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key, as yamllint and ansible-lint expect."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def applications():
    return [{
        "app_id": app_id,
        "app_name": name,
        "answer_url": f"https://example.invalid/answer/{app_id[-1]}",
        "answer_method": "POST",
        "sub_account": sub_account,
        "default_endpoint_app": False,
        "created": f"2026-04-02 12:11:{10 + index:02d}.740666+00:00",
    } for index, (app_id, name, sub_account) in enumerate(APPLICATIONS)]


def usernames(rng, count):
    names, seen = [], set()
    while len(names) < count:
        name = f"{rng.choice(FIRST_NAMES)}{rng.randint(1, 999):02d}"
        if rng.random() < 0.15:
            name += "_" + rng.choice(("desk", "mobile", "lab", "x"))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def endpoint_ids(rng, count):
    ids = set()
    while len(ids) < count:
        ids.add(str(rng.randint(10 ** 14, 10 ** 15 - 1)))  # 15-digit numeric strings
    return sorted(ids)


def timestamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def endpoint(rng, index, endpoint_id, username, placement):
    """One endpoint; placement says which sub-account and whether it has an application."""
    sub_account, has_app = placement
    registered = rng.random() < REGISTERED_SHARE
    created = datetime.datetime(2025, 1, 1) + datetime.timedelta(minutes=rng.randint(0, 500000))
    updated = created + datetime.timedelta(minutes=rng.randint(0, 40000))
    app_choices = [app[0] for app in APPLICATIONS if app[2] == sub_account] or [APPLICATIONS[0][0]]
    if sub_account is None:
        app_choices = [app[0] for app in APPLICATIONS if app[2] is None]
    host = f"198.51.100.{rng.randint(1, 254)}:{rng.choice((5060, 5062, 49152 + index))}"
    record = {
        "endpoint_id": endpoint_id,
        "username": username,
        "alias": TRICKY_ALIASES[index // 7] if index % 7 == 3 and index // 7 < len(TRICKY_ALIASES)
        else f"{username.split('_')[0].title()} {rng.choice(ROLES)}",
        "app_id": rng.choice(app_choices) if has_app else None,
        "sub_account": sub_account,
        "sip_registered": registered,
        "sip_contact": f"sip:{username}@{host};transport={rng.choice(('udp', 'tcp', 'tls'))}" if registered else None,
        "sip_expires": timestamp(datetime.datetime(2026, 4, 2, 12) + datetime.timedelta(seconds=rng.randint(60, 3600)))
        if registered else None,
        "sip_user_agent": rng.choice(USER_AGENTS) if registered else None,
        "sip_received": host if registered else None,
        "created_at": timestamp(created),
        "updated_at": timestamp(updated),
    }
    if index % 37 == 5:
        record["alias"] = None  # a few endpoints without alias
    if index % 23 == 4:
        record["allow_other_domains"] = True  # something for the audit role to find
    if index % 19 == 2:
        record["allow_video"] = True
    return record


def placements(rng):
    """(sub_account, has_application) per endpoint: 40 in SA_BRANCH01, a few in the lab, 20 without app."""
    slots = ([("SA_BRANCH01", True)] * BRANCH_ENDPOINTS + [("SA_LAB0002", True)] * LAB_ENDPOINTS
             + [(None, False)] * WITHOUT_APPLICATION)
    slots += [(None, True)] * (ENDPOINT_COUNT - len(slots))
    rng.shuffle(slots)
    return slots


def build():
    rng = random.Random(SEED)
    names = usernames(rng, ENDPOINT_COUNT)
    ids = endpoint_ids(rng, ENDPOINT_COUNT)
    slots = placements(rng)
    return {
        "auth_id": AUTH_ID,
        "auth_token": AUTH_TOKEN,
        "applications": applications(),
        "sub_accounts": SUB_ACCOUNTS,
        "endpoints": [endpoint(rng, index, ids[index], names[index], slots[index]) for index in range(ENDPOINT_COUNT)],
    }


def main():
    text = yaml.dump(build(), Dumper=IndentedDumper, sort_keys=False, allow_unicode=True, width=150, default_flow_style=False)
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as handle:
        handle.write("# Generated by tests/simulator/make_sample.py; edit that script, not this file.\n")
        handle.write(text)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
