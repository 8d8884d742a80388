#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: endpoint_drift
short_description: Compare the Vobiz endpoints with a desired list, write the drift reports, optionally converge
version_added: 0.1.0
description:
  - The engine of the R(vobiz.sip.endpoint_drift role,ansible_collections.vobiz.sip.endpoint_drift_role); use the role, which
    validates its variables and reports and fails as documented there.
  - Runs on the controller. Reads the desired list once (O(desired), or the YAML file O(desired_file), vault-encrypted or not),
    checks it before any request, lists the live endpoints once with M(vobiz.sip.endpoint_info), compares them in Python
    and writes C(endpoint_drift.json) and C(endpoint_drift.md) into O(report_dir) (also in check mode).
  - With O(remediate), converges through one run of M(vobiz.sip.endpoints) (O(vobiz.sip.endpoints#module:state=merged),
    one item per planned action, pinned by endpoint_id), honouring check mode.
  - Sets the fact C(endpoint_drift_result) (the report); returns the remediation's actions.
author:
  - vobiz.sip maintainers (@vobiz-sip)
options:
  desired:
    description: The desired endpoints (the role variable O(vobiz.sip.endpoint_drift#role:main:endpoint_drift_desired)).
    type: list
    elements: raw
  desired_file:
    description: A YAML file holding the desired list, found as the C(ansible.builtin.file) lookup finds files.
    type: path
  filters:
    description: Server-side filters of the live listing, as in M(vobiz.sip.endpoint_info).
    type: dict
    default: {}
  allow_unexpected:
    description: Endpoints on the account that the list lacks are not drift.
    type: bool
    default: false
  remove_unexpected:
    description: With O(remediate), delete the endpoints on the account that the list lacks.
    type: bool
    default: false
  remediate:
    description: Converge through M(vobiz.sip.endpoints).
    type: bool
    default: false
  report_dir:
    description: Directory on the controller for the reports; created when missing.
    type: path
    required: true
  report_title:
    description: Title of the Markdown report.
    type: str
    default: Endpoint drift
  connection:
    description:
      - Connection options (C(auth_id), C(auth_token), C(api_url), C(validate_certs)) that override the ones given
        directly or by C(module_defaults); a null value is ignored.
    type: dict
    default: {}
extends_documentation_fragment:
  - vobiz.sip.vobiz
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: The reports are written in check mode too; the remediation sends only read requests then.
  diff_mode:
    support: full
    details: The remediation's diff, as M(vobiz.sip.endpoints) gives it.
  platform:
    platforms: posix
  action_group:
    support: full
    membership:
      - vobiz.sip.vobiz
seealso:
  - module: vobiz.sip.endpoints
"""

EXAMPLES = r"""
- name: Use the role, which runs this module
  ansible.builtin.include_role:
    name: vobiz.sip.endpoint_drift
  vars:
    endpoint_drift_desired_file: desired_endpoints.yml
"""

RETURN = r"""
remediation:
  description: What the remediation did (or would do), as M(vobiz.sip.endpoints) reports it; no actions when it is off.
  returned: always
  type: dict
  contains:
    changed:
      description: Whether the remediation changed (or would change) the account.
      type: bool
      returned: always
    actions:
      description: The actions with their outcomes, as RV(vobiz.sip.endpoints#module:actions).
      type: list
      elements: dict
      returned: always
ansible_facts:
  description: The fact the role documents.
  returned: success
  type: dict
  contains:
    endpoint_drift_result:
      description: The drift report (the JSON report's content).
      type: dict
      returned: success
"""
