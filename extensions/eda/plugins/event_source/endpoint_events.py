# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vobiz.sip.endpoint_events: an ansible-rulebook event source for the SIP endpoints of a Vobiz account.

It lists the account's endpoints every `interval` seconds with the collection's API client (the one the
inventory plugin and the modules use: paging, retries, rate-limit handling) and puts one event on the
queue for each difference between a listing and the one before it. ansible-doc cannot show event
sources; this docstring is the documentation (docs/events.md explains it with examples).

Each event is one mapping under the key `vobiz`:

    vobiz:
      type: unregistered        # registered, unregistered, created, deleted or changed
      account: MA_XXXXXXXX      # the auth_id listed
      endpoint_id: "100000000000042"
      endpoint: {...}           # the endpoint as listed now (for deleted: as last listed), every key present,
                                #   as the inventory plugin's vobiz_* host variables without the prefix
      previous: {...}           # the endpoint in the listing before (null for created)
      changed: [sip_registered] # the compared fields that differ (empty for created and deleted)
      timestamp: "2026-12-02T16:30:00.123456+00:00"   # when the listing that showed it ended (UTC)
      initial: false            # true only for the created events of initial_state

- registered / unregistered: sip_registered turned true / turned from true to false or unknown.
- created / deleted: an endpoint_id appeared in / vanished from the listing. With `filters`, that includes an
  endpoint whose changed fields moved it into or out of the filtered set.
- changed: any other field differs: alias, application, sub_account, allow_* flags, username, ...
  sip_contact, sip_expires, sip_user_agent and updated_at move with every re-registration and are never compared,
  so a phone renewing its registration is no event.

A listing that fails or cannot be made consistent gives no events and leaves the remembered state as it was:
the source logs one warning line (never the token), waits interval * 2 ** failures seconds (at most 300, or the
interval if that is longer) and lists again. The first listing only sets the state: after a restart no
endpoint is reported as created unless `initial_state` is true.

Arguments:
    auth_id:         Auth ID of the account. Default: the VOBIZ_AUTH_ID environment variable. Required.
    auth_token:      Auth token. Default: VOBIZ_AUTH_TOKEN. Required. Never logged.
    api_url:         Base URL of the API. Default: VOBIZ_API_URL, then https://api.vobiz.ai.
    validate_certs:  Verify the API's TLS certificate. Default: VOBIZ_VALIDATE_CERTS, then true.
    timeout, retries, page_size, max_concurrency:
                     As for the modules (defaults 30, 5, 100, 4): per-request timeout, retries of each
                     request within one listing, endpoints per page, pages fetched at once.
    listing_timeout: Seconds one whole listing may take before it counts as failed (no events, backoff).
                     Default: VOBIZ_LISTING_TIMEOUT, then 600.
    filters:         Server-side filters, as for the inventory plugin and endpoint_info (username__contains,
                     username__exact, username__startswith, alias__contains, alias__exact,
                     application_id__exact, application_id__isnull, sub_account). Default: none.
    interval:        Seconds between the end of one listing and the start of the next; at least 1. Default 60.
    events:          Which event types to emit. Default: all five.
    initial_state:   Emit a created event (initial: true) for every endpoint of the first listing. Default false.

An unknown argument, filter or event type stops the source with an error naming it.

Example:
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

from __future__ import annotations

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
