# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every vobiz.sip module shares with AnsibleModule (private to the collection).

The connection options' argument spec (docs: the vobiz.sip.vobiz doc fragment), the client built from
them, and failing a task with an error's own message. The only module_utils file that imports from
ansible.module_utils.basic; the decisions the modules take are in the pure files beside it.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.vobiz.sip.plugins.module_utils.api import (
    DEFAULT_API_URL, DEFAULT_LISTING_TIMEOUT, HAS_REQUESTS, VobizClient, VobizError,
)
from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError
from ansible_collections.vobiz.sip.plugins.module_utils.records import ALLOW_FLAGS

CONNECTION_OPTIONS = ("auth_id", "auth_token", "api_url", "validate_certs", "timeout", "retries", "page_size", "max_concurrency",
                      "listing_timeout")


def connection_argument_spec():
    return dict(
        auth_id=dict(type="str", fallback=(env_fallback, ["VOBIZ_AUTH_ID"])),
        auth_token=dict(type="str", no_log=True, fallback=(env_fallback, ["VOBIZ_AUTH_TOKEN"])),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["VOBIZ_API_URL"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["VOBIZ_VALIDATE_CERTS"])),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=5),
        page_size=dict(type="int", default=100),
        max_concurrency=dict(type="int", default=4),
        listing_timeout=dict(type="int", default=DEFAULT_LISTING_TIMEOUT, fallback=(env_fallback, ["VOBIZ_LISTING_TIMEOUT"])),
    )


def endpoint_argument_spec():
    """The options of one endpoint: vobiz.sip.endpoint's, and each config item of vobiz.sip.endpoints."""
    spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        username=dict(type="str", required=True),
        endpoint_id=dict(type="str"),
        password=dict(type="str", no_log=True),
        alias=dict(type="str"),
        application=dict(type="str"),
        sub_account=dict(type="str"),
    )
    spec.update((flag, dict(type="bool")) for flag in ALLOW_FLAGS)
    return spec


def client_from_params(params, log=None, warn=None):
    """A VobizClient from a module's params (or any mapping holding the connection options); warn: module.warn."""
    return VobizClient(log=log, warn=warn, **{name: params[name] for name in CONNECTION_OPTIONS})


def require_requests(module):
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))


def connect(module):
    """A VobizClient for the module's connection options; raises VobizError for a bad option."""
    require_requests(module)
    return client_from_params(module.params, warn=module.warn)


def fail(module, error, **result):
    """Fail the task with the error's own message (it names the cause and the fix, never the token)."""
    if isinstance(error, VobizError) and error.status:
        result.setdefault("status", error.status)
    module.fail_json(msg=str(error), **result)


def run_task(module, task_class):
    """Connect, run task_class(module, client).run() and exit with its result; an error fails the task with
    its own message and what the task did before it (the error's `result`)."""
    try:
        with connect(module) as client:
            result = task_class(module, client).run()
    except (VobizError, EndpointError) as error:
        fail(module, error, **getattr(error, "result", {}))
    else:
        module.exit_json(**result)
