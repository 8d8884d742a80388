#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: endpoint_info
short_description: List Vobiz SIP endpoints and summarise them
version_added: 0.1.0
description:
  - Lists the SIP endpoints of a Vobiz account, or one endpoint by id, as normalised records.
  - Summarises them by registration, application and sub-account.
  - Never changes anything on the account.
author:
  - vobiz.sip maintainers (@vobiz-sip)
options:
  filters:
    description:
      - Server-side filters, sent as query parameters of the endpoint listing.
      - "The keys the API knows: V(username__contains), V(username__exact), V(username__startswith), V(alias__contains),
        V(alias__exact), V(application_id__exact), V(application_id__isnull) and V(sub_account).
        Any other key fails the task with a message listing these."
    type: dict
    default: {}
  endpoint_id:
    description:
      - Return only this endpoint, fetched by id.
      - An id the account does not have gives RV(endpoints=[]) rather than an error.
      - Mutually exclusive with O(filters).
    type: str
  resolve_applications:
    description:
      - Fill C(application_name) from the account's Application list (one extra request) where the
        endpoint record carries only the application id.
    type: bool
    default: true
extends_documentation_fragment:
  - vobiz.sip.vobiz
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: The module only reads; check mode changes nothing about what it does.
  diff_mode:
    support: none
  platform:
    platforms: posix
  action_group:
    support: full
    membership:
      - vobiz.sip.vobiz
notes:
  - The module runs on the controller, talking to the Vobiz API over HTTPS; run it on C(localhost) with
    C(connection=local), or delegate it there.
  - Set the connection once for every vobiz.sip module with C(module_defaults) and the group C(group/vobiz.sip.vobiz),
    or with the E(VOBIZ_AUTH_ID), E(VOBIZ_AUTH_TOKEN) and E(VOBIZ_API_URL) environment variables.
  - The API answers with two record shapes; the compact one carries no C(allow_*) flags, timestamps or registration
    details, so those keys are V(null) in the returned records.
seealso:
  - module: vobiz.sip.endpoint
  - plugin: vobiz.sip.endpoints
    plugin_type: inventory
  - name: Vobiz API, list all endpoints
    description: The API call behind this module.
    link: https://docs.vobiz.ai/endpoint/list-all-endpoints
"""

EXAMPLES = r"""
- name: Summarise the account (credentials from VOBIZ_AUTH_ID and VOBIZ_AUTH_TOKEN)
  vobiz.sip.endpoint_info:
  register: vobiz
  delegate_to: localhost

- name: Show how many endpoints are registered
  ansible.builtin.debug:
    msg: "{{ vobiz.summary.registered }} of {{ vobiz.summary.total }} endpoints are registered"

- name: Endpoints of one sub-account without an application
  vobiz.sip.endpoint_info:
    auth_id: MA_XXXXXXXX
    auth_token: "{{ vault_vobiz_auth_token }}"
    filters:
      sub_account: SA_BRANCH01
      application_id__isnull: true
  register: unattached

- name: One endpoint by id
  vobiz.sip.endpoint_info:
    endpoint_id: "147322537258167"
  register: one

- name: Set the connection once for every vobiz.sip module
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/vobiz.sip.vobiz:
      auth_id: MA_XXXXXXXX
      auth_token: "{{ vault_vobiz_auth_token }}"
  tasks:
    - name: Desk phones
      vobiz.sip.endpoint_info:
        filters:
          username__startswith: desk
      register: desks

    - name: Fail when a desk phone is not registered
      ansible.builtin.assert:
        that: desks.summary.unregistered == 0
        fail_msg: "Unregistered: {{ desks.endpoints | rejectattr('sip_registered') | map(attribute='username') | join(', ') }}"
"""

RETURN = r"""
endpoints:
  description: The endpoints, in API order, as normalised records (every key present, V(null) where the API gave nothing).
  returned: always
  type: list
  elements: dict
  contains:
    endpoint_id:
      description: Id of the endpoint (a numeric string).
      returned: always
      type: str
      sample: "147322537258167"
    username:
      description: SIP username, as the API stored it (it may have appended digits on create).
      returned: always
      type: str
      sample: deskphone01
    alias:
      description: Display name of the endpoint.
      returned: always
      type: str
      sample: Front desk phone
    sip_uri:
      description: SIP URI of the endpoint.
      returned: always
      type: str
      sample: sip:deskphone01@registrar.vobiz.ai
    sip_registered:
      description: Whether a SIP device is registered for the endpoint.
      returned: always
      type: bool
      sample: true
    sip_contact:
      description: Contact URI of the registered device, when the API reports it.
      returned: always
      type: str
    sip_expires:
      description: When the registration expires, when the API reports it.
      returned: always
      type: str
    sip_user_agent:
      description: User agent of the registered device, when the API reports it.
      returned: always
      type: str
    application_id:
      description: Id of the attached application; V(null) when none.
      returned: always
      type: str
      sample: "20000000000000001"
    application_name:
      description: Name of the attached application, from the record or the Application list; V(null) if unknown.
      returned: always
      type: str
      sample: Front Desk
    sub_account:
      description: Auth id of the sub-account owning the endpoint; V(null) for the main account.
      returned: always
      type: str
      sample: SA_BRANCH01
    allow_voice:
      description: Whether voice calls are allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    allow_message:
      description: Whether messaging is allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    allow_video:
      description: Whether video calls are allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    allow_same_domain:
      description: Whether calls to endpoints of the same domain are allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    allow_other_domains:
      description: Whether calls to other SIP domains are allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    allow_phones:
      description: Whether calls to phone numbers are allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    allow_apps:
      description: Whether calls to applications are allowed; V(null) when the API does not report it.
      returned: always
      type: bool
    created_at:
      description: When the endpoint was created, as the API wrote it.
      returned: always
      type: str
    updated_at:
      description: When the endpoint last changed, as the API wrote it.
      returned: always
      type: str
    resource_uri:
      description: API path of the endpoint.
      returned: always
      type: str
      sample: /v1/Account/MA_XXXXXXXX/Endpoint/147322537258167/
summary:
  description: Counts over RV(endpoints).
  returned: always
  type: dict
  contains:
    total:
      description: Number of endpoints.
      returned: always
      type: int
      sample: 12
    registered:
      description: Endpoints with a registered SIP device.
      returned: always
      type: int
      sample: 9
    unregistered:
      description: Endpoints without one (also those whose registration the API did not report).
      returned: always
      type: int
      sample: 3
    without_application:
      description: Endpoints without an application.
      returned: always
      type: int
      sample: 2
    by_application:
      description:
        - Application name to number of endpoints; the application id stands in when the name is unknown.
        - When two applications share a name, each key is the name followed by the id in parentheses.
        - Endpoints without an application are counted in RV(summary.without_application) only.
      returned: always
      type: dict
      sample: {"Front Desk": 7, "20000000000000009": 3}
    by_sub_account:
      description: Sub-account auth id to number of endpoints; the main account's endpoints count under V(main).
      returned: always
      type: dict
      sample: {"main": 10, "SA_BRANCH01": 2}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizError, validate_filters
from ansible_collections.vobiz.sip.plugins.module_utils.module_glue import connect, connection_argument_spec, fail
from ansible_collections.vobiz.sip.plugins.module_utils.summary import summarize_endpoints


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        filters=dict(type="dict", default={}),
        endpoint_id=dict(type="str"),
        resolve_applications=dict(type="bool", default=True),
    )
    return spec


def fetch_endpoints(client, params):
    """The endpoints the task asks for: one by id (none when unknown), or the filtered listing."""
    resolve = params["resolve_applications"]
    if params["endpoint_id"] is not None:
        record = client.get_endpoint(params["endpoint_id"], resolve_applications=resolve)
        return [record] if record else []
    return client.list_endpoints(params["filters"], resolve_applications=resolve)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("endpoint_id", "filters")])
    try:
        validate_filters(module.params["filters"])  # before connecting: a typo fails fast, listing the valid keys
        with connect(module) as client:
            endpoints = fetch_endpoints(client, module.params)
    except VobizError as error:
        fail(module, error)
    else:
        module.exit_json(changed=False, endpoints=endpoints, summary=summarize_endpoints(endpoints))


if __name__ == "__main__":
    main()
