#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: endpoint
short_description: Create, update and delete a Vobiz SIP endpoint
version_added: 0.1.0
description:
  - Makes one SIP endpoint of a Vobiz account exist with the given settings, or not exist.
  - Only the options a task sets are managed; an option left out keeps whatever the endpoint has.
  - Idempotent, also when the API rewrites usernames on create (see the notes); supports check mode and diff mode.
author:
  - vobiz.sip maintainers (@vobiz-sip)
options:
  state:
    description:
      - V(present) creates the endpoint when it does not exist and updates the fields that differ when it does.
      - V(absent) deletes the endpoint when it exists; see the notes for which endpoint that is.
    type: str
    choices: [present, absent]
    default: present
  username:
    description:
      - SIP username of the endpoint; letters, digits and underscores.
      - It identifies the endpoint, together with O(alias) when the API rewrote the username (see the notes).
      - The API cannot change it after create.
    type: str
    required: true
  endpoint_id:
    description:
      - Id of the endpoint to manage, as returned on create (RV(endpoint.endpoint_id)).
      - When set, the module manages exactly this endpoint instead of looking it up by O(username);
        O(username) must still be its username or the one the API rewrote into it.
      - With O(state=present) the endpoint must exist; this option never creates one.
    type: str
  password:
    description:
      - SIP password, at least 8 characters. Required to create an endpoint.
      - The API never returns it, so the module cannot tell whether it differs; see O(update_password).
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the endpoint is created.
      - V(always) sends O(password) on every run, so the task reports a change every run.
    type: str
    choices: [on_create, always]
    default: on_create
  alias:
    description: Display name of the endpoint.
    type: str
  application:
    description:
      - Application that handles the endpoint's calls, by app_id or by its exact name.
      - Resolved through the account's Application list; an unknown name, or a name several applications share,
        fails the task listing the applications.
      - Left out on create, the API attaches the account's default endpoint application, if it has one.
      - Detaching an application is not supported by this module.
    type: str
  allow_voice:
    description:
      - Allow voice calls.
      - Left out on create, the API's default applies (V(true)).
    type: bool
  allow_message:
    description:
      - Allow messaging.
      - Left out on create, the API's default applies (V(true)).
    type: bool
  allow_video:
    description:
      - Allow video calls.
      - Left out on create, the API's default applies (V(false)).
    type: bool
  allow_same_domain:
    description:
      - Allow calls to endpoints of the same domain.
      - Left out on create, the API's default applies (V(true)).
      - The API cannot change it after create.
    type: bool
  allow_other_domains:
    description:
      - Allow calls to other SIP domains.
      - Left out on create, the API's default applies (V(false)).
      - The API cannot change it after create.
    type: bool
  allow_phones:
    description:
      - Allow calls to phone numbers.
      - Left out on create, the API's default applies (V(true)).
      - The API cannot change it after create.
    type: bool
  allow_apps:
    description:
      - Allow calls to applications.
      - Left out on create, the API's default applies (V(true)).
      - The API cannot change it after create.
    type: bool
  sub_account:
    description:
      - Auth id of the sub-account (C(SA_...)) that owns the endpoint; leave out for the main account.
      - The API cannot change it after create.
    type: str
extends_documentation_fragment:
  - vobiz.sip.vobiz
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: In check mode the module sends only read (GET) requests.
  diff_mode:
    support: full
    details: The diff shows the managed fields before and after; never the password, only that one is set.
  platform:
    platforms: posix
  action_group:
    support: full
    membership:
      - vobiz.sip.vobiz
notes:
  - "Finding the endpoint: without O(endpoint_id), the module lists the endpoints whose username starts with O(username)
    and picks (1) the one whose username is exactly O(username); else (2) among those whose username is O(username)
    followed only by digits (the form the API gives usernames it rewrites on create), the one whose alias is O(alias),
    or the only one there is. Several left is an error listing them (id, username, alias): set O(endpoint_id) or a
    distinct O(alias). No endpoint found means O(state=present) creates one."
  - The reason for rule (2) is that the API is reported to append digits to the username on create without saying so (C(sairam) becomes
    C(sairam8391265128911238046)). The module keeps the username the API stored and finds that endpoint again on the
    next run through rule (2), so a second identical run reports no change. A rewritten username is no conflict
    with O(username).
  - Rule (2) can also pick an endpoint someone else created, for example C(bob7) for O(username=bob) when no C(bob)
    exists. Set O(alias) (which rule (2) prefers) or O(endpoint_id) to be sure.
  - "A delete never rests on a guess: O(state=absent) deletes only the endpoint O(endpoint_id) names (its username must
    be O(username) or a rewritten form of it), the one whose username is exactly O(username), or one whose username is
    O(username) followed by digits and whose alias is O(alias). Any other endpoint rule (2) would pick (C(bob7) for
    O(username=bob) without a matching O(alias)) fails the task, listing the candidates; nothing is deleted."
  - Fields the API cannot change after create (O(username), O(sub_account), O(allow_same_domain), O(allow_other_domains),
    O(allow_phones), O(allow_apps)) fail the task when they differ from the live endpoint, naming each field with the
    wanted and the actual value; the endpoint has to be recreated to change them.
  - Updates are sent with POST and carry only the fields that differ. The application goes out as both C(application)
    (the documented field) and C(app_id) (the field that works, per field reports). After every write the module
    reads the endpoint back and fails when a sent field did not take effect.
  - The compact record shape carries no C(allow_*) flags. Those flags cannot be compared then; the module warns and
    leaves them as they are instead of reporting a change on every run.
  - The module runs on the controller, talking to the Vobiz API over HTTPS; run it on C(localhost) with
    C(connection=local), or delegate it there.
seealso:
  - module: vobiz.sip.endpoint_info
  - plugin: vobiz.sip.endpoints
    plugin_type: inventory
  - name: Vobiz API, create an endpoint
    description: The fields and their defaults on create.
    link: https://docs.vobiz.ai/endpoint/create-endpoint
  - name: Vobiz API, update an endpoint
    description: Which fields an update may change.
    link: https://docs.vobiz.ai/endpoint/update-endpoint
"""

EXAMPLES = r"""
- name: A desk phone on the Front Desk application
  vobiz.sip.endpoint:
    username: deskphone01
    password: "{{ vault_deskphone01_password }}"
    alias: Front desk phone
    application: Front Desk
    allow_video: true
  register: desk
  delegate_to: localhost

- name: Show the username the API stored (it may have appended digits)
  ansible.builtin.debug:
    msg: "{{ desk.endpoint.username }} has id {{ desk.endpoint.endpoint_id }}"

- name: Rotate the password on every run
  vobiz.sip.endpoint:
    username: deskphone01
    password: "{{ vault_deskphone01_password }}"
    update_password: always

- name: Delete an endpoint, pinned by id
  vobiz.sip.endpoint:
    username: deskphone01
    endpoint_id: "{{ desk.endpoint.endpoint_id }}"
    state: absent

- name: Set the connection once for every vobiz.sip module
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/vobiz.sip.vobiz:
      auth_id: MA_XXXXXXXX
      auth_token: "{{ vault_vobiz_auth_token }}"
  tasks:
    - name: Branch phones
      vobiz.sip.endpoint:
        username: "{{ item }}"
        password: "{{ vault_branch_password }}"
        alias: "Branch phone {{ item }}"
        sub_account: SA_BRANCH01
        application: "20000000000000006"
      loop: [branch01, branch02]
"""

RETURN = r"""
endpoint:
  description:
    - The endpoint after the change, as a normalised record (every key present, V(null) where the API gave nothing).
    - In check mode, the endpoint as it would be; one that would be created has no RV(endpoint.endpoint_id) yet.
    - V(null) when the endpoint is absent.
  returned: always
  type: dict
  contains:
    endpoint_id:
      description: Id of the endpoint (a numeric string).
      returned: success
      type: str
      sample: "147322537258167"
    username:
      description: SIP username as the API stored it; it may carry digits the API appended on create.
      returned: success
      type: str
      sample: deskphone01
    alias:
      description: Display name of the endpoint.
      returned: success
      type: str
      sample: Front desk phone
    sip_uri:
      description: SIP URI of the endpoint.
      returned: success
      type: str
      sample: sip:deskphone01@registrar.vobiz.ai
    sip_registered:
      description: Whether a SIP device is registered for the endpoint.
      returned: success
      type: bool
      sample: false
    sip_contact:
      description: Contact URI of the registered device, when the API reports it.
      returned: success
      type: str
    sip_expires:
      description: When the registration expires, when the API reports it.
      returned: success
      type: str
    sip_user_agent:
      description: User agent of the registered device, when the API reports it.
      returned: success
      type: str
    application_id:
      description: Id of the attached application; V(null) when none.
      returned: success
      type: str
      sample: "20000000000000001"
    application_name:
      description: Name of the attached application; V(null) if unknown.
      returned: success
      type: str
      sample: Front Desk
    sub_account:
      description: Auth id of the sub-account owning the endpoint; V(null) for the main account.
      returned: success
      type: str
    allow_voice:
      description: Whether voice calls are allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    allow_message:
      description: Whether messaging is allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    allow_video:
      description: Whether video calls are allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    allow_same_domain:
      description: Whether calls to endpoints of the same domain are allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    allow_other_domains:
      description: Whether calls to other SIP domains are allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    allow_phones:
      description: Whether calls to phone numbers are allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    allow_apps:
      description: Whether calls to applications are allowed; V(null) when the API does not report it.
      returned: success
      type: bool
    created_at:
      description: When the endpoint was created, as the API wrote it.
      returned: success
      type: str
    updated_at:
      description: When the endpoint last changed, as the API wrote it.
      returned: success
      type: str
    resource_uri:
      description: API path of the endpoint.
      returned: success
      type: str
diff:
  description:
    - The managed fields (username, alias, application id and name, sub-account, the C(allow_*) flags) before and
      after the change; an empty dict stands for no endpoint.
    - The password never appears; when one is sent, the key C(password) of RV(diff.after) says so.
  returned: always
  type: dict
  contains:
    before:
      description: The fields before the change.
      returned: always
      type: dict
      sample: {"username": "deskphone01", "alias": "Old name", "application_id": null}
    after:
      description: The fields after the change.
      returned: always
      type: dict
      sample: {"username": "deskphone01", "alias": "Front desk phone", "application_id": "20000000000000001"}
    before_header:
      description: What RV(diff.before) shows.
      returned: always
      type: str
      sample: endpoint 147322537258167
    after_header:
      description: What RV(diff.after) shows.
      returned: always
      type: str
      sample: endpoint 147322537258167
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vobiz.sip.plugins.module_utils.applications import fill_application_names, resolve_application
from ansible_collections.vobiz.sip.plugins.module_utils.changes import (
    changed_fields,
    create_request,
    desired_fields,
    locked_conflict_message,
    locked_conflicts,
    planned_record,
    unapplied_fields,
    unapplied_message,
    unreported_fields,
    update_request,
)
from ansible_collections.vobiz.sip.plugins.module_utils.diff import endpoint_diff
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.matching import match_endpoint
from ansible_collections.vobiz.sip.plugins.module_utils.module_glue import connection_argument_spec, endpoint_argument_spec, run_task


def argument_spec():
    spec = connection_argument_spec()
    spec.update(endpoint_argument_spec())
    spec.update(update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False))
    return spec


class EndpointTask:
    """One run of the module: find the live endpoint, then create, update or delete it."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.applications = client.list_applications()

    def run(self):
        live = self.find_live()
        if live:
            fill_application_names([live], self.applications)
        if self.params["state"] == "absent":
            return self.delete(live)
        application = resolve_application(self.params["application"], self.applications) if self.params["application"] else None
        desired = desired_fields(self.params, application)
        if live is None:
            return self.create(desired)
        return self.update(live, desired)

    def find_live(self):
        """The live endpoint the task means (matching.match_endpoint: a delete never rests on a guess)."""
        username, endpoint_id = self.params["username"], self.params["endpoint_id"]
        if endpoint_id is None:
            records = self.client.list_endpoints({"username__startswith": username})
        else:
            live = self.client.get_endpoint(endpoint_id)
            if live is None and self.params["state"] == "present":
                raise EndpointError("endpoint_id %s does not exist on account %s; leave endpoint_id out to create an endpoint "
                                    "named %s" % (endpoint_id, self.client.auth_id, username))
            records = [live] if live else []
        return match_endpoint(records, username, self.params["alias"], endpoint_id, deleting=self.params["state"] == "absent")

    def create(self, desired):
        request = create_request(desired, self.params["password"])  # before check mode: it fails without a password
        if self.module.check_mode:
            return self.result(None, planned_record(desired), changed=True, password_sent=True)
        created = self.client.create_endpoint(request)
        record = self.reread(created["endpoint_id"], planned_record(desired))
        if record["username"] != desired["username"]:
            self.module.warn("the API stored username %s for the requested %s; later runs find this endpoint by the module's "
                             "matching rule (see its notes)" % (record["username"], desired["username"]))
        self.check_applied(None, record, desired, password_sent=True)
        return self.result(None, record, changed=True, password_sent=True)

    def update(self, live, desired):
        conflicts = locked_conflicts(desired, live)
        if conflicts:
            raise EndpointError(locked_conflict_message(live, conflicts))
        for field in unreported_fields(desired, live):
            self.module.warn("the API did not report %s for endpoint %s (compact record), so it was neither checked nor "
                             "changed" % (field, live["endpoint_id"]))
        changes = changed_fields(desired, live)
        password = self.params["password"] if self.params["update_password"] == "always" else None
        if not changes and not password:
            return self.result(live, live, changed=False)
        if self.module.check_mode:
            return self.result(live, planned_record(changes, live), changed=True, password_sent=bool(password))
        self.client.update_endpoint(live["endpoint_id"], update_request(changes, password))
        record = self.reread(live["endpoint_id"], planned_record(changes, live))
        self.check_applied(live, record, changes, password_sent=bool(password))
        return self.result(live, record, changed=True, password_sent=bool(password))

    def delete(self, live):
        if live is None:
            return self.result(None, None, changed=False)
        if not self.module.check_mode:
            self.client.delete_endpoint(live["endpoint_id"])
        return self.result(live, None, changed=True)

    def reread(self, endpoint_id, fallback):
        """The endpoint as the API has it after a write (the planned record if it cannot be read yet)."""
        record = self.client.get_endpoint(endpoint_id) or dict(fallback, endpoint_id=endpoint_id)
        return fill_application_names([record], self.applications)[0]

    def check_applied(self, before, record, wanted, password_sent):
        """Fail (reporting the change made) when the API accepted a write but ignored a field of it."""
        ignored = unapplied_fields(wanted, record)
        if ignored:
            raise EndpointError(unapplied_message(record, ignored), result=self.result(before, record, True, password_sent))

    @staticmethod
    def result(before, after, changed, password_sent=False):
        return dict(changed=changed, endpoint=after, diff=endpoint_diff(before, after, password_sent))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("update_password", "always", ["password"])])
    run_task(module, EndpointTask)


if __name__ == "__main__":
    main()
