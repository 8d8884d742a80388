#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: endpoints
short_description: Manage the SIP endpoints of a Vobiz account as one resource
version_added: 0.1.0
description:
  - Makes the endpoints of a Vobiz account (or of the part O(filters) selects) match a list, as Ansible's network
    resource modules do for VLANs or interfaces - one O(config) list, and O(state) saying what the list means.
  - O(config) uses the desired-item format of the R(vobiz.sip.endpoint_drift role,ansible_collections.vobiz.sip.endpoint_drift_role),
    so a desired-state file serves both, and O(state=gathered) writes one.
  - Lists the endpoints once, the Applications once only when an item names its application by name, then sends
    the writes at most O(max_concurrency) at a time and reads every written endpoint back.
  - Idempotent, also when the API rewrites usernames on create; supports check mode and diff mode.
  - "Guide: docs/modules.md."
author:
  - vobiz.sip maintainers (@vobiz-sip)
options:
  config:
    description:
      - The endpoints, one mapping per endpoint.
      - An option left out (or null) is not managed with O(state=merged); see O(state) for V(replaced) and V(overridden).
    type: list
    elements: dict
    default: []
    suboptions:
      username:
        description:
          - SIP username; it names the endpoint as in M(vobiz.sip.endpoint), including a username the API rewrote on create.
        type: str
        required: true
      state:
        description:
          - V(absent) deletes this endpoint (safe matching, see the notes) whatever O(state) of the module is.
        type: str
        choices: [present, absent]
        default: present
      endpoint_id:
        description:
          - Pins the item to this endpoint; it must exist, and O(config[].username) must be its username.
        type: str
      password:
        description:
          - SIP password, used only to create the endpoint (at least 8 characters); never compared, never returned.
          - To rotate a password use M(vobiz.sip.endpoint) with O(vobiz.sip.endpoint#module:update_password=always).
        type: str
      alias:
        description: Display name.
        type: str
      application:
        description:
          - Application by app_id or by exact name (a name makes the module list the Applications once).
        type: str
      sub_account:
        description: Auth id of the owning sub-account; the API cannot change it after create.
        type: str
      allow_voice:
        description: Allow voice calls (API default V(true)).
        type: bool
      allow_message:
        description: Allow messaging (API default V(true)).
        type: bool
      allow_video:
        description: Allow video calls (API default V(false)).
        type: bool
      allow_same_domain:
        description: Allow calls within the domain (API default V(true)); locked after create.
        type: bool
      allow_other_domains:
        description: Allow calls to other domains (API default V(false)); locked after create.
        type: bool
      allow_phones:
        description: Allow calls to phone numbers (API default V(true)); locked after create.
        type: bool
      allow_apps:
        description: Allow calls to applications (API default V(true)); locked after create.
        type: bool
  state:
    description:
      - V(merged) creates the listed endpoints that are missing and updates the listed fields of those that exist;
        everything else stays as it is.
      - V(replaced) is V(merged), and a listed endpoint's C(allow_*) flags that its item leaves out return to the API's
        documented create defaults (C(allow_voice=true), C(allow_message=true), C(allow_video=false),
        C(allow_same_domain=true), C(allow_other_domains=false), C(allow_phones=true), C(allow_apps=true)), and its
        C(sub_account) to the one O(filters) names, or the main account. C(alias) and C(application) have no fixed
        default (the API requires an alias, and attaches the account's default application on create), so left out
        they stay as they are.
      - V(overridden) is V(replaced), and every endpoint in scope that O(config) does not name is deleted. The scope is
        O(filters); without filters set O(scope=account) to mean the whole account.
      - V(deleted) deletes the listed endpoints; with an empty O(config), every endpoint in scope (then O(filters) or
        O(scope=account) is required, as for V(overridden)).
      - V(gathered) changes nothing and returns the live endpoints in scope as RV(gathered), in O(config) format.
      - Fields the API locks after create (C(username), C(sub_account), C(allow_same_domain), C(allow_other_domains),
        C(allow_phones), C(allow_apps)) that differ fail the task before any write, naming each one.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered]
    default: merged
  filters:
    description:
      - Server-side filters that select the endpoints the task works on (the scope), as in M(vobiz.sip.endpoint_info).
      - Only these endpoints are matched, compared and, with O(state=overridden), deleted.
    type: dict
    default: {}
  scope:
    description:
      - V(account) confirms that O(state=overridden), or O(state=deleted) with an empty O(config), works on the whole
        account (no O(filters)); it is never assumed.
      - V(filters) (the default) is the scope O(filters) select.
    type: str
    choices: [filters, account]
    default: filters
extends_documentation_fragment:
  - vobiz.sip.vobiz
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: In check mode the module sends only read (GET) requests and reports the actions it would take.
  diff_mode:
    support: full
    details: The diff shows the managed fields of each endpoint acted on, before and after; never a password.
  platform:
    platforms: posix
  action_group:
    support: full
    membership:
      - vobiz.sip.vobiz
notes:
  - "Matching: an item names a live endpoint by O(config[].endpoint_id), else by the exact username, else by a
    username the API rewrote on create (the username plus digits), the alias telling several apart, as
    M(vobiz.sip.endpoint) does. Exact matches are taken first and each endpoint answers one item."
  - "Deletes are safe: an endpoint is deleted only when matched by endpoint_id, by its exact username, or by a
    rewritten username whose alias is the item's alias. Anything else fails the task listing the candidates."
  - The whole plan is checked before the first write; a problem in any item (a locked field, a create without a
    password, an unknown application) fails the task with every problem listed and nothing changed.
  - "Writes go out at most O(max_concurrency) at a time. When one fails, no further write is started; the result's
    RV(actions) says which were done, which failed and which were not run, and running the task again finishes the job."
  - The module runs on the controller; run it on C(localhost) or delegate it there.
seealso:
  - module: vobiz.sip.endpoint
  - module: vobiz.sip.endpoint_info
  - plugin: vobiz.sip.endpoints
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Add or update these phones, leave everything else alone
  vobiz.sip.endpoints:
    config:
      - username: deskphone01
        password: "{{ vault_deskphone01_password }}"
        alias: Front desk phone
        application: Front Desk
      - username: deskphone02
        password: "{{ vault_deskphone02_password }}"   # used only when the phone is created
        alias: Back office phone
    state: merged

- name: These phones exactly as listed (flags not given go back to the API defaults)
  vobiz.sip.endpoints:
    config:
      - username: deskphone01
        password: "{{ vault_deskphone01_password }}"   # used only when the phone is created
        alias: Front desk phone
        application: Front Desk
        allow_video: true
    state: replaced

- name: The branch sub-account holds exactly these phones; any other one there is deleted
  vobiz.sip.endpoints:
    config: "{{ branch_phones }}"
    filters:
      sub_account: SA_BRANCH01
    state: overridden

- name: Delete two phones
  vobiz.sip.endpoints:
    config:
      - username: deskphone01
      - username: oldphone7
        endpoint_id: "147322537258167"
    state: deleted

- name: Save the live endpoints as a desired-state file
  vobiz.sip.endpoints:
    state: gathered
  register: live

- name: Write it
  ansible.builtin.copy:
    content: "{{ live.gathered | to_nice_yaml }}"
    dest: desired_endpoints.yml
    mode: "0644"
"""

RETURN = r"""
actions:
  description:
    - One entry per create, update or delete, in the order planned, with its outcome.
    - V(planned) in check mode; V(done), V(failed) (with C(error)) or V(not_run) (not started because an earlier
      write failed) otherwise.
  returned: success and failure after planning
  type: list
  elements: dict
  sample: [{"action": "update", "username": "deskphone01", "endpoint_id": "147322537258167", "fields": ["alias"], "outcome": "done"}]
commands:
  description: The API requests made (or, in check mode, that would be made), without values or passwords.
  returned: success and failure after planning
  type: list
  elements: str
  sample: ["POST Endpoint/147322537258167/ (update deskphone01: alias)"]
before:
  description:
    - The endpoints acted on as they were, in O(config) format (only those; O(state=gathered) returns them all).
  returned: success and failure after planning
  type: list
  elements: dict
after:
  description:
    - The endpoints acted on as they are now (read back from the API), or in check mode as they would be, in
      O(config) format. A created endpoint shows the username the API stored.
  returned: success and failure after planning
  type: list
  elements: dict
gathered:
  description:
    - With O(state=gathered), every endpoint in scope in O(config) format (the application by id, no endpoint_id, no
      password); saved as a file it is a desired-state list that shows no drift.
  returned: when state is gathered
  type: list
  elements: dict
  sample: [{"username": "deskphone01", "alias": "Front desk phone", "application": "20000000000000001"}]
diff:
  description: The managed fields of each endpoint acted on, before and after, keyed by C(username (endpoint_id)).
  returned: success and failure after planning
  type: dict
"""

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.applications import fill_application_names
from ansible_collections.vobiz.sip.plugins.module_utils.changes import unapplied_fields, unapplied_message
from ansible_collections.vobiz.sip.plugins.module_utils.endpoints_plan import (
    STATES,
    action_report,
    actions_diff,
    as_config,
    check_items,
    check_scope,
    command,
    needs_applications,
    plan,
)
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.module_glue import connection_argument_spec, endpoint_argument_spec, run_task
from ansible_collections.vobiz.sip.plugins.module_utils.paging import listing_requests


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        config=dict(type="list", elements="dict", options=endpoint_argument_spec(), default=[]),
        state=dict(type="str", choices=list(STATES), default="merged"),
        filters=dict(type="dict", default={}),
        scope=dict(type="str", choices=["filters", "account"], default="filters"),
    )
    return spec


class EndpointsTask:
    """One run: list the scope once, plan every action, then write (or, in check mode, only report)."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.applications = None
        self.listing_requests = 1

    def run(self):
        params = self.params
        config = [item for item in params["config"] if item is not None]
        check_scope(params["state"], params["filters"], params["scope"], config)
        check_items(config)
        live = self.client.list_endpoints(params["filters"])
        if params["state"] == "gathered":
            return dict(changed=False, gathered=[as_config(record) for record in live])
        if needs_applications(config):
            self.applications = self.client.list_applications()
            fill_application_names(live, self.applications)
        actions, warnings = plan(config, live, params["state"], self.applications, params["filters"].get("sub_account"))
        # What one listing of the scope after the writes would cost, against one GET per written endpoint.
        creates = sum(1 for action in actions if action["action"] == "create")
        self.listing_requests = listing_requests(len(live) + creates, params["page_size"])
        for warning in warnings[:10]:
            self.module.warn(warning)
        if len(warnings) > 10:
            self.module.warn("and %d more endpoints with flags the API did not report" % (len(warnings) - 10))
        if self.module.check_mode:
            return self.result(actions, ["planned"] * len(actions))
        outcomes = self.execute(actions)
        result = self.result(actions, outcomes)
        failures = [entry for entry in result["actions"] if entry["outcome"] == "failed"]
        if failures:
            done = sum(1 for outcome in outcomes if outcome == "done")
            raise EndpointError("%d of %d actions failed (%d done, %d not run; run the task again to finish): %s"
                                % (len(failures), len(actions), done, outcomes.count("not_run"),
                                   "; ".join("%s %s: %s" % (entry["action"], entry["username"], entry["error"]) for entry in failures[:5])),
                                result=result)
        return result

    def execute(self, actions):
        """Carry the actions out, max_concurrency in flight (after a failure nothing new is started), then read
        every written endpoint back and check it shows what was sent."""
        outcomes = self.write_all(actions)
        written = [index for index, outcome in enumerate(outcomes) if outcome == "done" and actions[index]["action"] != "delete"]
        records = self.read_back([actions[index]["endpoint_id"] for index in written])
        for index in written:
            error = self.check_written(actions[index], records[actions[index]["endpoint_id"]])
            if error:
                outcomes[index] = ("failed", error)
        return outcomes

    def write_all(self, actions):
        """Send every write, max_concurrency in flight; after a failure nothing new is started."""
        outcomes = ["not_run"] * len(actions)
        pending = iter(range(len(actions)))
        with ThreadPoolExecutor(max_workers=max(1, min(self.client.max_concurrency, len(actions)))) as pool:
            def submit(count):
                return {pool.submit(self.write, actions[index]): index for index in islice(pending, count)}

            running = submit(self.client.max_concurrency)
            stopped = False
            while running:
                done, _still = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    error = future.exception()
                    outcomes[index] = "done" if error is None else ("failed", str(error))
                    stopped = stopped or error is not None
                if not stopped:
                    running.update(submit(len(done)))
        return outcomes

    def write(self, action):
        if action["action"] == "delete":
            self.client.delete_endpoint(action["endpoint_id"])
        elif action["action"] == "create":
            action["endpoint_id"] = self.client.create_endpoint(action["request"])["endpoint_id"]
        else:
            self.client.update_endpoint(action["endpoint_id"], action["request"])

    def read_back(self, endpoint_ids):
        """{endpoint_id: the endpoint as the API has it now, None when it is gone, or the VobizError of reading it}.

        The replies to the writes tell nothing to check (an update answers 202 with an empty body; a create, its
        id and username), so every written endpoint is read. One listing of the scope does that when it takes
        fewer requests than one GET per endpoint (bench: 150 writes on 2,000 endpoints, 21 pages against 150
        GETs); an endpoint the listing does not show (a write moved it out of the filters) is read by id.
        """
        records = {}
        if len(endpoint_ids) > self.listing_requests:
            wanted = set(endpoint_ids)
            try:
                records = {record["endpoint_id"]: record for record in self.client.list_endpoints(self.params["filters"])
                           if record["endpoint_id"] in wanted}
            except VobizError as error:
                return dict.fromkeys(endpoint_ids, error)
        unlisted = [endpoint_id for endpoint_id in endpoint_ids if endpoint_id not in records]
        if unlisted:
            with ThreadPoolExecutor(max_workers=max(1, min(self.client.max_concurrency, len(unlisted)))) as pool:
                records.update(zip(unlisted, pool.map(self.get_or_error, unlisted)))
        return records

    def get_or_error(self, endpoint_id):
        try:
            return self.client.get_endpoint(endpoint_id)
        except VobizError as error:
            return error

    def check_written(self, action, record):
        """The error text when the endpoint read back does not show what was sent (None when it does); the action's
        `after` becomes the endpoint as the API has it."""
        if isinstance(record, VobizError):
            return "written, but reading it back failed: %s" % record
        record = record or dict(action["after"], endpoint_id=action["endpoint_id"])
        if self.applications is not None:
            fill_application_names([record], self.applications)
        elif action["after"].get("application_id") == record["application_id"] and not record["application_name"]:
            record["application_name"] = action["after"].get("application_name")
        action["after"] = record
        ignored = unapplied_fields(action["wanted"], record)
        return unapplied_message(record, ignored) if ignored else None

    @staticmethod
    def result(actions, outcomes):
        entries = []
        for action, outcome in zip(actions, outcomes):
            error = outcome[1] if isinstance(outcome, tuple) else None
            entries.append(action_report(action, "failed" if error else outcome, error))
        acted = [action for action, entry in zip(actions, entries) if entry["outcome"] in ("planned", "done", "failed")]
        changed = any(entry["outcome"] in ("planned", "done") for entry in entries)
        return dict(
            changed=changed,
            actions=entries,
            commands=[command(action) for action in acted],
            before=[as_config(action["before"]) for action in acted if action["before"]],
            after=[as_config(action["after"]) for action, entry in zip(actions, entries)
                   if action["after"] and entry["outcome"] in ("planned", "done")],
            diff=actions_diff([action for action, entry in zip(actions, entries) if entry["outcome"] in ("planned", "done")]),
        )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_task(module, EndpointsTask)


if __name__ == "__main__":
    main()
