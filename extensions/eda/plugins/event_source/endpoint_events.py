# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoint_events: an ansible-rulebook event source for the SIP endpoints of a Vobiz account.

The reference is DOCUMENTATION below, in the format ansible-doc reads (galaxy-importer and the docsite show it);
docs/events.md explains it with examples.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
short_description: An event for each change of the SIP endpoints of a Vobiz account
description:
  - An ansible-rulebook event source. It lists the account's endpoints every O(interval) seconds with the collection's
    API client (the one the inventory plugin and the modules use, with its paging, retries and rate-limit handling)
    and puts one event on the queue for each difference between a listing and the one before it.
  - "Each event is one mapping under the key C(vobiz): C(type) (V(registered), V(unregistered), V(created), V(deleted)
    or V(changed)), C(account) (the auth_id listed), C(endpoint_id), C(endpoint) (the endpoint as listed now, for
    V(deleted) as last listed, every key present, as the inventory plugin's C(vobiz_*) host variables without the
    prefix), C(previous) (the endpoint in the listing before, null for V(created)), C(changed) (the compared fields
    that differ, empty for V(created) and V(deleted)), C(timestamp) (when the listing that showed it ended, UTC) and
    C(initial) (true only for the V(created) events of O(initial_state))."
  - V(registered) and V(unregistered) - C(sip_registered) turned true, or turned from true to false or unknown.
  - V(created) and V(deleted) - an endpoint_id appeared in or vanished from the listing. With O(filters), that
    includes an endpoint whose changed fields moved it into or out of the filtered set.
  - V(changed) - any other field differs (alias, application, sub_account, C(allow_*) flags, username...).
    C(sip_contact), C(sip_expires), C(sip_user_agent) and C(updated_at) move with every re-registration and are
    never compared, so a phone renewing its registration is no event.
  - A listing that fails or cannot be made consistent gives no events and leaves the remembered state as it was; the
    source logs one warning line (never the token), waits O(interval) * 2 ** failures seconds (at most 300, or
    O(interval) if that is longer) and lists again.
  - The first listing only sets the state - after a restart no endpoint is reported as created unless
    O(initial_state) is true.
  - An unknown argument, filter or event type stops the source with an error naming it.
  - The controller (or decision environment) needs the Python library C(requests).
  - "Guide: docs/events.md."
author:
  - vobiz.sip maintainers (@vobiz-sip)
options:
  auth_id:
    description:
      - Auth ID of the Vobiz account.
      - Default - the E(VOBIZ_AUTH_ID) environment variable. Required one way or the other.
    type: str
  auth_token:
    description:
      - Auth token of the Vobiz account; never logged.
      - Default - the E(VOBIZ_AUTH_TOKEN) environment variable. Required one way or the other.
    type: str
  api_url:
    description:
      - Base URL of the Vobiz API.
      - Default - the E(VOBIZ_API_URL) environment variable, then V(https://api.vobiz.ai).
    type: str
  validate_certs:
    description:
      - Verify the API's TLS certificate.
      - Default - the E(VOBIZ_VALIDATE_CERTS) environment variable, then V(true).
    type: bool
  timeout:
    description: Timeout of each request, in seconds.
    type: int
    default: 30
  retries:
    description: Retries of each request within one listing.
    type: int
    default: 5
  page_size:
    description: Endpoints per page of a listing.
    type: int
    default: 100
  max_concurrency:
    description: Pages fetched at once.
    type: int
    default: 4
  listing_timeout:
    description:
      - Seconds one whole listing may take before it counts as failed (no events, backoff).
      - Default - the E(VOBIZ_LISTING_TIMEOUT) environment variable, then V(600).
    type: int
  filters:
    description:
      - Server-side filters, as the O(vobiz.sip.endpoints#inventory:filters) option of the inventory plugin and
        M(vobiz.sip.endpoint_info) (C(username__contains), C(username__exact), C(username__startswith),
        C(alias__contains), C(alias__exact), C(application_id__exact), C(application_id__isnull), C(sub_account)).
      - Only the matching endpoints are listed and compared.
    type: dict
  interval:
    description: Seconds between the end of one listing and the start of the next; at least 1.
    type: int
    default: 60
  events:
    description: The event types to emit.
    type: list
    elements: str
    choices: [registered, unregistered, created, deleted, changed]
    default: [registered, unregistered, created, deleted, changed]
  initial_state:
    description: Emit a V(created) event (with C(initial) true) for every endpoint of the first listing.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Page when a front-desk phone unregisters
  hosts: localhost
  sources:
    - vobiz.sip.endpoint_events:
        interval: 60
        filters:
          username__startswith: frontdesk
        events: [unregistered]
  rules:
    - name: Front-desk phone unregistered
      condition: event.vobiz.type == "unregistered"
      action:
        run_playbook:
          name: page_on_call.yml
"""


import asyncio
import importlib
import logging
import os
import sys
from datetime import datetime, timezone

logger = logging.getLogger(__name__)


def _collection_code():
    """The collection's module_utils, imported from the collections path this file was loaded from.

    ansible-rulebook runs this file with runpy and installs no collection loader, so the directory that holds
    ansible_collections/ goes on sys.path (plain namespace packages then resolve the imports).
    """
    parts = os.path.abspath(__file__).split(os.sep)
    if parts[-8:-5] == ["ansible_collections", "vobiz", "sip"]:
        root = os.sep.join(parts[:-8]) or os.sep
        if root not in sys.path:
            sys.path.append(root)
    api = importlib.import_module("ansible_collections.vobiz.sip.plugins.module_utils.api")
    events = importlib.import_module("ansible_collections.vobiz.sip.plugins.module_utils.endpoint_events")
    return api, events


async def main(queue: asyncio.Queue, args: dict):
    """Poll the account and put endpoint events on the queue until ansible-rulebook cancels the task."""
    api, events = _collection_code()
    settings = events.source_settings(args, os.environ)
    client = api.VobizClient(warn=logger.warning, **{name: settings[name] for name in events.CLIENT_ARGUMENTS})
    account = settings["auth_id"]
    known = None  # {endpoint_id: record} of the last consistent listing
    failures = 0
    try:
        while True:
            try:
                listing = events.index_listing(await asyncio.to_thread(client.list_endpoints, settings["filters"]))
            except api.VobizError as exc:
                failures += 1
                delay = events.retry_delay(settings["interval"], failures)
                logger.warning("%s: listing account %s failed (%d in a row), so no events this round; next try in %ss: %s",
                               events.SOURCE_NAME, account, failures, _seconds(delay), exc)
                await asyncio.sleep(delay)
                continue
            if failures:
                logger.warning("%s: listing account %s works again after %d failed tries", events.SOURCE_NAME, account, failures)
                failures = 0
            timestamp = datetime.now(timezone.utc).isoformat()
            if known is None:
                found = events.initial_events(account, listing, timestamp, settings["events"]) if settings["initial_state"] else []
            else:
                found = events.diff_listings(account, known, listing, timestamp, settings["events"])
            for event in found:
                await queue.put(event)
            known = listing
            await asyncio.sleep(settings["interval"])
    finally:
        client.close()


def _seconds(value):
    return int(value) if float(value).is_integer() else value


if __name__ == "__main__":
    # Without ansible-rulebook: print the events of an account (credentials from the environment) until Ctrl-C.
    class _PrintQueue:
        async def put(self, event):
            print(event, flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {"interval": 10}))
