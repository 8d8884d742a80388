# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Galaxy shows of the collection besides plugins/ (`make importer` runs galaxy-importer on the tarball):
the roles' READMEs and the event source's ansible-doc strings, held against the code they describe."""

from __future__ import annotations

import glob
import os
import re
import sys

import pytest
import yaml

from ansible_collections.vobiz.sip.plugins.module_utils.endpoint_events import ARGUMENTS, EVENT_TYPES, source_settings
from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "hacking"))
import event_source_page  # noqa: E402  pylint: disable=wrong-import-position

EVENT_SOURCE = event_source_page.SOURCE
ROLES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(REPO_ROOT, "roles", "*")))


@pytest.fixture(scope="module")
def event_source_docs():
    strings = event_source_page.module_strings(EVENT_SOURCE)
    return yaml.safe_load(strings["DOCUMENTATION"]), yaml.safe_load(strings["EXAMPLES"])


def test_event_source_documents_exactly_its_arguments(event_source_docs):
    options = event_source_docs[0]["options"]
    assert list(options) == list(ARGUMENTS)


def test_event_source_documented_defaults_are_its_defaults(event_source_docs):
    options = event_source_docs[0]["options"]
    for name, (env, default) in ARGUMENTS.items():
        if env:  # the default comes from the environment first: the description names the variable and the fallback
            assert "E(%s)" % env in " ".join(options[name]["description"]), name
            assert "default" not in options[name], name
        else:
            assert options[name].get("default") == default, name
    assert options["events"]["choices"] == list(EVENT_TYPES)


def test_event_source_examples_are_arguments_it_accepts(event_source_docs):
    sources = [args for ruleset in event_source_docs[1] for source in ruleset["sources"]
               for name, args in source.items() if name == "vobiz.sip.endpoint_events"]
    assert sources
    for args in sources:
        source_settings(args, {"VOBIZ_AUTH_ID": "MA_TEST", "VOBIZ_AUTH_TOKEN": "token"})


def test_extensions_file_lists_the_event_source_directory():
    with open(os.path.join(REPO_ROOT, "meta", "extensions.yml"), encoding="utf-8") as handle:
        listed = [item["args"]["ext_dir"] for item in yaml.safe_load(handle)["extensions"]]
    assert os.path.relpath(os.path.dirname(EVENT_SOURCE), os.path.join(REPO_ROOT, "extensions")) in listed


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_names_every_variable_and_links_the_argument_specs(role):
    with open(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        options = set(yaml.safe_load(handle)["argument_specs"]["main"]["options"])
    with open(os.path.join(REPO_ROOT, "roles", role, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    table = "\n".join(line.split("|")[1] for line in readme.splitlines() if line.startswith("| `"))  # the first column
    named = set(re.findall(r"`(%s_[a-z_]+)`" % role, table))
    assert options - named == set(), "variables of roles/%s that its README's table does not name" % role
    assert named - options == set(), "names in the table of roles/%s/README.md that are no variable of the role" % role
    assert "](meta/argument_specs.yml)" in readme
    assert "```yaml\n- name: " in readme, "roles/%s/README.md has no example play" % role


def test_docsite_page_of_the_event_source_is_current():
    with open(event_source_page.PAGE, encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == event_source_page.page_text(), (
        "docs/docsite/rst/event_source.rst is stale: run python hacking/event_source_page.py and commit it")


def creating_items(tasks):
    """(task name, item) for each config item of a vobiz.sip.endpoints task whose state may create endpoints."""
    for task in tasks:
        args = task.get("vobiz.sip.endpoints") or {}
        if args.get("state", "merged") in ("merged", "replaced") and isinstance(args.get("config"), list):
            for item in args["config"]:
                yield task["name"], item


def test_endpoints_examples_give_a_password_to_every_phone_they_may_create():
    """On a fresh account merged and replaced create the phones they name, and creating needs a password."""
    from ansible_collections.vobiz.sip.plugins.modules import endpoints  # pylint: disable=import-outside-toplevel
    with open(os.path.join(REPO_ROOT, "docs", "modules.md"), encoding="utf-8") as handle:
        guide = re.search(r"### One example per state\n\n```yaml\n(.*?)```", handle.read(), re.S).group(1)
    items = list(creating_items(yaml.safe_load(endpoints.EXAMPLES))) + list(creating_items(yaml.safe_load(guide)))
    assert len(items) >= 6
    missing = ["%s: %s" % (name, item["username"]) for name, item in items if "password" not in item]
    assert not missing, "examples that fail on a fresh account for a missing password: %s" % missing


def test_every_module_was_added_in_a_released_version():
    """version_added names the release whose changelog lists the module."""
    with open(os.path.join(REPO_ROOT, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        releases = set(yaml.safe_load(handle)["releases"])
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        releases.add(str(yaml.safe_load(handle)["version"]))
    for path in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py")):
        strings = event_source_page.module_strings(path)
        added = yaml.safe_load(strings["DOCUMENTATION"]).get("version_added")
        assert str(added) in releases, "%s: version_added %s is no release" % (os.path.relpath(path, REPO_ROOT), added)


def test_vaulted_inventory_example_is_the_simulators_account_as_it_says():
    """The vaulted EXAMPLES block says how to try it against `make simulator`: its token and the auth_id it names
    must be the simulator's sample account."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel
    from ansible_collections.vobiz.sip.plugins.inventory import endpoints  # pylint: disable=import-outside-toplevel
    block = next(block for block in endpoints.EXAMPLES.split("\n---\n") if "!vault" in block)
    password = re.search(r"vaulted with the password (\S+?):", block).group(1)
    auth_id = re.search(r"the simulator's account, (MA_\w+), as auth_id", block).group(1)
    vaulted = yaml.safe_load(block.replace("!vault |", "|"))["auth_token"]
    token = VaultLib([("default", VaultSecret(password.encode()))]).decrypt(vaulted).decode()
    with open(os.path.join(REPO_ROOT, "tests", "simulator", "data", "sample.yaml"), encoding="utf-8") as handle:
        sample = yaml.safe_load(handle)
    assert (auth_id, token) == (sample["auth_id"], sample["auth_token"])
