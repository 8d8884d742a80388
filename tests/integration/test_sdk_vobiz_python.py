# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The official PyPI SDK vobiz-python 0.1.1 against the simulator, in both response variants: every endpoint call it
offers (list with each of the 8 filters, get, create, update, delete) and the 400/401/404/409 errors.

The SDK runs in its own venv (.build/venv-sdk, `make integration` builds it from hacking/requirements-sdk.txt; or
VOBIZ_TEST_SDK_PYTHON), in a subprocess given a plan of calls; it prints one JSON result per call. The Fern-generated
SDK is not on PyPI, so it is not driven here (tests/simulator/README.md says what its models need).
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.harness import hang_guard, run_bounded
from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_TOKEN

SDK_PYTHON = os.environ.get("VOBIZ_TEST_SDK_PYTHON") or os.path.join(REPO_ROOT, ".build", "venv-sdk", "bin", "python")
PASSWORD = "pw-sdk-3b8e-integration-secret"

# Runs in the SDK's venv: one call per plan entry, each result as plain JSON (the SDK's ResponseObjects unwrapped).
DRIVER = textwrap.dedent('''
    import json, sys
    import vobiz
    from vobiz.version import __version__

    plan = json.load(open(sys.argv[1], encoding="utf-8"))
    results = {"version": __version__, "calls": []}
    for call in plan["calls"]:
        client = vobiz.RestClient(plan["auth_id"], call.get("auth_token", plan["auth_token"]))
        client.base_uri = plan["url"] + "/api/v1/Account"  # the SDK's own default is the real API's host
        try:
            value = getattr(client.endpoints, call["method"])(*call.get("args", []), **call.get("kwargs", {}))
            result = {"ok": True, "value": json.loads(json.dumps(value, default=lambda item: item.__dict__))}
        except vobiz.exceptions.VobizRestError as exc:
            result = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        results["calls"].append(dict(result, name=call["name"]))
    print(json.dumps(results))
''')


@pytest.fixture
def sdk_python():
    if not os.access(SDK_PYTHON, os.X_OK):
        pytest.fail("vobiz-python's venv not found at %s: run `make integration` (it builds .build/venv-sdk) or set "
                    "VOBIZ_TEST_SDK_PYTHON" % SDK_PYTHON)
    return SDK_PYTHON


def run_plan(sdk_python, sim, tmp_path, calls):
    """The SDK makes the calls against the simulator; returns {name: result}."""
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"url": sim.url, "auth_id": SAMPLE_AUTH_ID, "auth_token": SAMPLE_TOKEN, "calls": calls}),
                    encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOBIZ_")}
    # cwd tmp_path: the SDK reads a .env file from the working directory on import (python-dotenv)
    completed = run_bounded([sdk_python, str(tmp_path / "driver.py"), str(plan)], hang_guard(10), cwd=str(tmp_path), env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout)
    assert results["version"] == "0.1.1"
    assert [result["name"] for result in results["calls"]] == [call["name"] for call in calls]
    return {result["name"]: result for result in results["calls"]}


def filter_cases(endpoints):
    """Each of the 8 documented filters, with a value from the data so that it selects something (and not everything)."""
    sample = next(endpoint for endpoint in endpoints if endpoint["alias"] and endpoint["app_id"] and endpoint["sub_account"] is None)
    return {
        "username__contains": (sample["username"][1:4], lambda endpoint: sample["username"][1:4] in endpoint["username"]),
        "username__exact": (sample["username"], lambda endpoint: endpoint["username"] == sample["username"]),
        "username__startswith": (sample["username"][:3], lambda endpoint: endpoint["username"].startswith(sample["username"][:3])),
        "alias__contains": (sample["alias"][:4], lambda endpoint: sample["alias"][:4] in (endpoint["alias"] or "\0")),
        "alias__exact": (sample["alias"], lambda endpoint: endpoint["alias"] == sample["alias"]),
        # an int, as the SDK's users pass it
        "application_id__exact": (int(sample["app_id"]), lambda endpoint: endpoint["app_id"] == sample["app_id"]),
        # requests sends Python's True as "True"
        "application_id__isnull": (True, lambda endpoint: endpoint["app_id"] is None),
        "sub_account": ("SA_BRANCH01", lambda endpoint: endpoint["sub_account"] == "SA_BRANCH01"),
    }


@pytest.mark.parametrize("responses", ["prose", "openapi"])
def test_every_endpoint_call_of_vobiz_python(sdk_python, sim, tmp_path, responses):
    sim.configure(responses=responses)
    endpoints = sim.endpoints
    filters = filter_cases(endpoints)
    calls = [{"name": "list", "method": "list", "kwargs": {"limit": 20, "offset": 40}}]
    calls += [{"name": "list " + key, "method": "list", "kwargs": {key: value, "limit": 100}} for key, (value, _test) in filters.items()]
    calls += [
        {"name": "get", "method": "get", "args": [endpoints[5]["endpoint_id"]]},
        {"name": "create", "method": "create", "args": ["sdk_phone01", PASSWORD],
         "kwargs": {"alias": "SDK phone", "application": "20000000000000001"}},
        {"name": "create 409", "method": "create", "args": ["sdk_phone01", PASSWORD], "kwargs": {"alias": "SDK phone"}},
        {"name": "create 400", "method": "create", "args": ["sdk_phone02", "short"], "kwargs": {"alias": "SDK phone"}},
        {"name": "get 401", "method": "get", "args": [endpoints[5]["endpoint_id"]], "auth_token": "wrong-token"},
        {"name": "get 404", "method": "get", "args": ["999999999999999"]},
        {"name": "update 404", "method": "update", "args": ["999999999999999"], "kwargs": {"alias": "x"}},
        {"name": "delete 404", "method": "delete", "args": ["999999999999999"]},
    ]
    results = run_plan(sdk_python, sim, tmp_path, calls)

    page = results["list"]["value"]
    assert [item["endpoint_id"] for item in page["objects"]] == [endpoint["endpoint_id"] for endpoint in endpoints[40:60]]
    assert page["meta"]["total_count"] == len(endpoints) and page["meta"]["offset"] == 40
    for key, (value, test) in filters.items():
        wanted = [endpoint["endpoint_id"] for endpoint in endpoints if test(endpoint)]
        assert 0 < len(wanted) < len(endpoints), key  # the filter selects something, so one ignored would show
        listed = results["list " + key]["value"]
        assert listed["meta"]["total_count"] == len(wanted), key
        assert [item["endpoint_id"] for item in listed["objects"]] == wanted[:100], key
    sent = {request["query"].get("application_id__isnull") for request in sim.requests}
    assert "True" in sent  # what the SDK really sent for True

    got = results["get"]["value"]
    assert got["endpoint_id"] == endpoints[5]["endpoint_id"] and got["username"] == endpoints[5]["username"]
    assert ("api_id" in got) is (responses == "prose")

    created = results["create"]["value"]
    stored = sim.endpoints[-1]
    assert created["endpoint_id"] == stored["endpoint_id"] and created["username"] == stored["username"] == "sdk_phone01"
    assert stored["app_id"] == "20000000000000001" and stored["password"] == PASSWORD
    if responses == "openapi":
        assert created == {"alias": "SDK phone", "endpoint_id": stored["endpoint_id"], "username": "sdk_phone01"}
    else:
        assert created["message"] == "created"

    assert (results["create 409"]["error"], results["create 409"]["message"]) == ("InvalidRequestError", "username already exists")
    assert (results["create 400"]["error"], results["create 400"]["message"]) == ("ValidationError", "invalid request parameters")
    assert results["get 401"]["error"] == "AuthenticationError"
    assert (results["get 404"]["error"], results["get 404"]["message"]) == ("ResourceNotFoundError", "Endpoint not found")
    assert results["update 404"]["error"] == "ResourceNotFoundError"  # the update 404 has no body: the SDK's own text
    assert (results["delete 404"]["error"], results["delete 404"]["message"]) == ("ResourceNotFoundError", "Endpoint not found")

    # update and delete of the endpoint it created, then a get that no longer finds it
    new_id = created["endpoint_id"]
    results = run_plan(sdk_python, sim, tmp_path, [
        {"name": "update", "method": "update", "args": [new_id],
         "kwargs": {"alias": "SDK phone east", "application": 20000000000000002, "allow_video": True}},
        {"name": "update 400", "method": "update", "args": [new_id], "kwargs": {"allow_phones": False}},
        {"name": "delete", "method": "delete", "args": [new_id]},
        {"name": "get deleted", "method": "get", "args": [new_id]},
    ])
    assert results["update"] == {"name": "update", "ok": True, "value": "" if responses == "openapi" else None}
    assert results["update 400"]["error"] == "ValidationError"
    assert results["delete"] == {"name": "delete", "ok": True, "value": None}
    assert results["get deleted"]["error"] == "ResourceNotFoundError"
    updates = [request for request in sim.requests if request["method"] == "POST" and request["path"].endswith("/%s/" % new_id)]
    assert [request["status"] for request in updates] == ([200, 400] if responses == "openapi" else [202, 400])
    assert [request["status"] for request in sim.requests if request["method"] == "DELETE"] == [404, 204]
    assert not any(endpoint["endpoint_id"] == new_id for endpoint in sim.endpoints)
