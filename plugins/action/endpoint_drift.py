# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of the vobiz.sip.endpoint_drift role, on the controller: everything large stays in Python.

Reads the desired list once (a list, or a YAML file through Ansible's loader, so vault works),
checks it before any request, lists the live endpoints with vobiz.sip.endpoint_info, compares with
the endpoint_drift filter's compare(), writes the JSON and Markdown reports, and (remediate) converges
through ONE run of vobiz.sip.endpoints. The report becomes the fact endpoint_drift_result; only small
values go back to Jinja. Documentation: plugins/modules/endpoint_drift.py.
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vobiz.sip.plugins.filter.endpoint_drift import compare, normalize_desired, render_markdown
from ansible_collections.vobiz.sip.plugins.module_utils.module_glue import CONNECTION_OPTIONS

ARGUMENT_SPEC = dict(
    desired=dict(type="list", elements="raw"),
    desired_file=dict(type="path"),
    filters=dict(type="dict", default={}),
    allow_unexpected=dict(type="bool", default=False),
    remove_unexpected=dict(type="bool", default=False),
    remediate=dict(type="bool", default=False),
    report_dir=dict(type="path", required=True),
    report_title=dict(type="str", default="Endpoint drift"),
    # The role's connection variables; a null one leaves the option to module_defaults, then the environment.
    connection=dict(type="dict", default={}),
)
ARGUMENT_SPEC.update((name, dict(type="raw")) for name in CONNECTION_OPTIONS)
REPORT_JSON = "endpoint_drift.json"
REPORT_MARKDOWN = "endpoint_drift.md"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(ARGUMENT_SPEC, mutually_exclusive=[("desired", "desired_file")],
                                          required_one_of=[("desired", "desired_file")]).validate(self._task.args)
        if validated.error_messages:
            return dict(result, failed=True, msg="vobiz.sip.endpoint_drift: %s" % "; ".join(validated.error_messages))
        args = validated.validated_parameters
        connection = {name: args[name] for name in CONNECTION_OPTIONS if args.get(name) is not None}
        connection.update((name, value) for name, value in args["connection"].items() if name in CONNECTION_OPTIONS and value is not None)
        try:
            desired = self._desired(args)
            normalize_desired(desired)  # a mistake in the list fails here, before any request
        except (AnsibleError, AnsibleFilterError) as error:
            return dict(result, failed=True, msg=str(error))

        listing = self._run_module("vobiz.sip.endpoint_info", dict(connection, filters=args["filters"], resolve_applications=True), task_vars)
        if listing.get("failed"):
            return dict(result, failed=True, msg=listing.get("msg"), status=listing.get("status"))
        try:
            report = compare(listing["endpoints"], desired, allow_unexpected=args["allow_unexpected"],
                             remove_unexpected=args["remove_unexpected"])
        except AnsibleFilterError as error:
            return dict(result, failed=True, msg=str(error))
        report["remediation"] = {"enabled": args["remediate"], "check_mode": bool(self._task.check_mode)}
        paths = {"json": os.path.join(args["report_dir"], REPORT_JSON), "markdown": os.path.join(args["report_dir"], REPORT_MARKDOWN)}
        report["reports"] = paths

        remediation = {"actions": [], "changed": False}
        if args["remediate"] and report["actions"]:
            remediation = self._remediate(report["actions"], desired, connection, args["filters"], task_vars)
            result["changed"] = remediation["changed"]
            if remediation.get("diff"):
                result["diff"] = remediation["diff"]
        self._write_reports(report, paths, args["report_title"])
        result["remediation"] = remediation
        result["ansible_facts"] = {"endpoint_drift_result": wrap_var(report)}
        return result

    def _desired(self, args):
        """The desired list, read once: the list given, or the YAML file (found as the file lookup finds it, vault decrypted)."""
        if args["desired"] is not None:
            return args["desired"]
        path = self._find_needle("files", args["desired_file"])
        return self._loader.load_from_file(path) or []

    def _run_module(self, name, module_args, task_vars):
        return self._execute_module(module_name=name, module_args=module_args, task_vars=task_vars)

    def _remediate(self, actions, desired, connection, filters, task_vars):
        """One run of vobiz.sip.endpoints (state merged) with an item per planned action; passwords only for creates."""
        passwords = {item["username"]: item["password"] for item in desired
                     if isinstance(item, dict) and item.get("password") and isinstance(item.get("username"), str)}
        passwords = {username.strip(): password for username, password in passwords.items()}
        config = [remediation_item(action, passwords) for action in actions]
        outcome = self._run_module("vobiz.sip.endpoints", dict(connection, config=config, state="merged", filters=filters), task_vars)
        return {key: outcome[key] for key in ("changed", "actions", "commands", "diff", "failed", "msg") if key in outcome}

    @staticmethod
    def _write_reports(report, paths, title):
        """The reports are the role's output on the controller, not a change to the account: written in check mode too."""
        os.makedirs(os.path.dirname(paths["json"]), mode=0o755, exist_ok=True)
        for path, text in ((paths["json"], json.dumps(report, indent=2, sort_keys=True) + "\n"),
                           (paths["markdown"], render_markdown(report, title=title))):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(path, 0o644)


def remediation_item(action, passwords):
    """A vobiz.sip.endpoints config item for one drift action: pinned by endpoint_id where there is one."""
    item = dict(action["params"], username=action["username"])
    if action["endpoint_id"]:
        item["endpoint_id"] = action["endpoint_id"]
    if action["action"] == "delete":
        item["state"] = "absent"
    elif action["action"] == "create" and action["username"] in passwords:
        item["password"] = passwords[action["username"]]
    return item
