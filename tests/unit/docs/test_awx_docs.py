# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The user docs for AWX and troubleshooting, checked against the code they describe.

The custom credential type in docs/awx.md only works if it injects the environment variables the plugin
reads (its options' `env:` entries), under the option names, with the same defaults. The plugin's
DOCUMENTATION is read the way ansible-doc reads it, doc fragments merged in.
docs/troubleshooting.md must quote every error message the collection raises, so a new or reworded
message cannot go undocumented.
"""

from __future__ import annotations

import ast
import glob
import os
import re

import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

from ansible_collections.vobiz.sip.plugins.inventory.endpoints import InventoryModule
from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT

AWX_DOC = os.path.join(REPO_ROOT, "docs", "awx.md")
PLUGIN_FILE = os.path.join(REPO_ROOT, "plugins", "inventory", "endpoints.py")
TROUBLESHOOTING_DOC = os.path.join(REPO_ROOT, "docs", "troubleshooting.md")
# Where the collection raises user-facing errors, and the exception types that carry them.
# Every file of these folders, so that a new file's messages are checked too.
MESSAGE_SOURCES = tuple(sorted(os.path.relpath(path, REPO_ROOT) for folder in ("module_utils", "inventory", "modules")
                               for path in glob.glob(os.path.join(REPO_ROOT, "plugins", folder, "*.py"))))
ERROR_TYPES = frozenset(("VobizError", "AnsibleParserError", "MalformedRecordError", "EndpointError"))
# Variables whose string values become parts of messages (the client's transport causes and per-status fixes).
MESSAGE_VARIABLES = frozenset(("cause", "_HINTS"))
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdrifx]")
_FENCED_YAML = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
_TEMPLATE_NAMES = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)")
_DEFAULT_FILTER = re.compile(r"default\(\s*'([^']*)'\s*,\s*true\s*\)")


def doc_block(first_line):
    """The fenced YAML block of docs/awx.md that starts with this comment line, parsed."""
    with open(AWX_DOC, encoding="utf-8") as handle:
        blocks = [block for block in _FENCED_YAML.findall(handle.read()) if block.startswith(first_line + "\n")]
    assert len(blocks) == 1, "docs/awx.md needs exactly one ```yaml block starting with %r" % first_line
    return yaml.safe_load(blocks[0])


@pytest.fixture(scope="module")
def plugin_options():
    data = get_docstring(PLUGIN_FILE, fragment_loader, collection_name="vobiz.sip", plugin_type="inventory")
    doc = data[0] if isinstance(data, tuple) else data["doc"]
    return doc["options"]


@pytest.fixture(scope="module")
def plugin_env(plugin_options):
    """{env var: option name} for the plugin's own settings. ANSIBLE_* ones (cache, use_extra_vars) are Ansible's
    configuration, which AWX does not let a credential type inject."""
    names = {}
    for option, spec in plugin_options.items():
        for env in spec.get("env") or []:
            if not env["name"].startswith("ANSIBLE_"):
                names[env["name"]] = option
    return names


@pytest.fixture(scope="module")
def inputs():
    return doc_block("# Input configuration")


@pytest.fixture(scope="module")
def injectors():
    return doc_block("# Injector configuration")


def fields_by_id(inputs):
    return {field["id"]: field for field in inputs["fields"]}


def test_the_plugin_reads_the_connection_from_the_environment(plugin_env):
    # Without these the credential type could not work at all (community.general#1644).
    assert {"VOBIZ_AUTH_ID", "VOBIZ_AUTH_TOKEN", "VOBIZ_API_URL"} <= set(plugin_env)


def test_credential_injects_exactly_the_plugins_environment_variables(plugin_env, injectors):
    assert set(injectors) == {"env"}, "inventory updates get env injectors only, not extra_vars or files"
    assert set(injectors["env"]) == set(plugin_env)


def test_each_variable_is_filled_from_the_field_named_like_the_option(plugin_env, inputs, injectors):
    fields = fields_by_id(inputs)
    for env_name, template in injectors["env"].items():
        assert _TEMPLATE_NAMES.findall(template) == [plugin_env[env_name]], (env_name, template)
        assert plugin_env[env_name] in fields, "%s injects the undefined field %s" % (env_name, plugin_env[env_name])
    assert set(fields) == set(plugin_env.values()), "every field is injected, and only those"


def test_token_is_secret_and_the_other_fields_are_not(plugin_env, inputs):
    fields = fields_by_id(inputs)
    token_field = plugin_env["VOBIZ_AUTH_TOKEN"]
    assert fields[token_field].get("secret") is True
    assert [name for name, field in fields.items() if field.get("secret")] == [token_field]


# How the doc fragment marks an option the client cannot work without. Such options are not `required: true`, so
# that a missing one fails with the client's message naming the option and its environment variable.
REQUIRED_MARK = "Required, from this option or "


def test_required_fields_are_the_required_options(plugin_env, plugin_options, inputs):
    required = [option for option in plugin_env.values()
                if any(REQUIRED_MARK in line for line in plugin_options[option].get("description", []))]
    assert required and not any(plugin_options[option].get("required") for option in required)
    assert sorted(inputs["required"]) == sorted(required)


def test_defaults_match_the_plugins_defaults(plugin_env, plugin_options, inputs, injectors):
    fields = fields_by_id(inputs)
    for env_name, option in plugin_env.items():
        default = plugin_options[option].get("default")
        if default is None:
            assert "default" not in fields[option]
            continue
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        assert fields[option]["default"] == expected, option
        # AWX injects "" for an optional field left empty; the injector must fall back to the same default.
        assert _DEFAULT_FILTER.findall(injectors["env"][env_name]) == [expected], env_name


def test_injectors_render_as_awx_renders_them(plugin_env, plugin_options, inputs, injectors):
    # AWX renders each template in a Jinja sandbox with only the non-empty inputs defined.
    sandbox = ImmutableSandboxedEnvironment()
    only_required = {"auth_id": "MA_TEST0001", "auth_token": "token-value"}
    rendered = {name: sandbox.from_string(template).render(**only_required) for name, template in injectors["env"].items()}
    assert rendered["VOBIZ_AUTH_ID"] == "MA_TEST0001"
    assert rendered["VOBIZ_AUTH_TOKEN"] == "token-value"
    assert rendered["VOBIZ_API_URL"] == plugin_options["api_url"]["default"]
    assert rendered["VOBIZ_VALIDATE_CERTS"] == "true"
    everything = dict(only_required, api_url="https://vobiz.test.invalid", validate_certs="false", listing_timeout="900")
    for name, template in injectors["env"].items():
        assert sandbox.from_string(template).render(**everything) == everything[plugin_env[name]]


def test_choices_of_a_field_are_values_the_option_accepts(inputs, plugin_options):
    for field in inputs["fields"]:
        if field.get("choices"):
            assert plugin_options[field["id"]]["type"] == "bool"
            assert sorted(field["choices"]) == ["false", "true"]


def test_documented_inventory_file_is_one_the_plugin_accepts(tmp_path, plugin_options):
    config = doc_block("# inventory/prod.vobiz.yml")
    assert config["plugin"] == InventoryModule.NAME
    assert set(config) <= set(plugin_options), "options the plugin does not document: %s" % sorted(set(config) - set(plugin_options))
    assert not {"auth_id", "auth_token"} & set(config), "credentials come from the credential, not the project"
    path = tmp_path / "prod.vobiz.yml"
    path.write_text("plugin: %s\n" % InventoryModule.NAME, encoding="utf-8")
    assert InventoryModule().verify_file(str(path))


def _message_template(node):
    """The literal format string of `"..." % args` or `"..."`; None for anything built otherwise."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def message_templates(path):
    """Format strings of the errors raised in one source file."""
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        values = []
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERROR_TYPES and node.args:
            values = [node.args[0]]
        elif isinstance(node, ast.Assign) and any(getattr(target, "id", None) in MESSAGE_VARIABLES for target in node.targets):
            values = node.value.values if isinstance(node.value, ast.Dict) else [node.value]
        for value in values:
            template = _message_template(value)
            if template:
                yield template


def test_the_message_scan_finds_the_clients_messages():
    templates = [template for path in MESSAGE_SOURCES for template in message_templates(path)]
    assert any("unknown filter key" in template for template in templates)
    assert any(template.startswith("Check auth_id and auth_token") for template in templates)


@pytest.mark.parametrize("path", MESSAGE_SOURCES)
def test_troubleshooting_quotes_every_error_message(path):
    with open(TROUBLESHOOTING_DOC, encoding="utf-8") as handle:
        doc = handle.read()
    missing = []
    for template in message_templates(path):
        # The fixed text between the placeholders; the docs write the placeholders as <name>.
        for piece in _PLACEHOLDER.split(template):
            piece = piece.strip(" .;:(),")
            if len(piece) >= 12 and piece not in doc:
                missing.append(piece)
    assert not missing, "docs/troubleshooting.md does not quote these parts of %s's messages: %s" % (path, missing)
