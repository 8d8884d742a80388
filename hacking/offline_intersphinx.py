#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Let the antsibull-docs docsite build without network: a local intersphinx inventory for docs.ansible.com.

The pages antsibull-docs writes link into Ansible's own docs (ansible-core's configuration settings and
environment variables, common return values, ansible.builtin plugins). Sphinx resolves those links through
the objects.inv of docs.ansible.com, which `antsibull-docs sphinx-init`'s conf.py downloads at build time.
This writes that inventory from the installed ansible-core instead (its configuration definitions and its
builtin plugins), and points the docsite's conf.py at it, so the links still go to docs.ansible.com and
the build never downloads anything. A label missing here is an "undefined label" warning, which the
`make docsite` gate turns into an error: add it to TEMPLATE_LABELS.

Usage: offline_intersphinx.py DOCSITE (the directory `antsibull-docs sphinx-init` wrote).
"""

from __future__ import annotations

import os
import sys
import zlib

import ansible
from ansible.config.manager import ConfigManager

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
INVENTORY_NAME = "ansible_devel.inv"
# Labels of Ansible's docs that antsibull-docs' page templates link to: label -> page#anchor.
TEMPLATE_LABELS = {
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
    "common_return_values": "reference_appendices/common_return_values.html#common-return-values",
    "collections_keyword": "collections_guide/collections_using_playbooks.html#collections-keyword",
    "action_plugins": "plugins/action.html#action-plugins",
    "callback_plugins": "plugins/callback.html#callback-plugins",
    "list_of_collections": "collections/index.html#list-of-collections",
}
# Plugin types of ansible.builtin and where ansible-core keeps them (filters and tests: one .yml doc each).
BUILTIN_PLUGINS = {"module": ("modules", ".py")}
BUILTIN_PLUGINS.update((kind, (os.path.join("plugins", kind), ".py")) for kind in (
    "become", "cache", "callback", "cliconf", "connection", "httpapi", "inventory", "lookup", "netconf", "shell",
    "strategy", "vars"))
BUILTIN_PLUGINS.update((kind, (os.path.join("plugins", kind), ".yml")) for kind in ("filter", "test"))
CONF_OVERRIDE = """
# Appended by hacking/offline_intersphinx.py: resolve links into docs.ansible.com from a local inventory,
# never from the network.
intersphinx_mapping = {'ansible_devel': (%r, %r)}
"""


def anchor(label):
    return label.replace(".", "-").replace("_", "-").lower()


def entries():
    """(name, domain:role, uri) of every target this inventory offers."""
    for label, uri in sorted(TEMPLATE_LABELS.items()):
        yield label, "std:label", uri
    definitions = ConfigManager().get_configuration_definitions()
    for name in sorted({env["name"] for setting in definitions.values() for env in setting.get("env") or ()}):
        yield name, "std:envvar", "reference_appendices/config.html#envvar-" + name
    core = os.path.dirname(ansible.__file__)
    for kind, (folder, suffix) in sorted(BUILTIN_PLUGINS.items()):
        for filename in sorted(os.listdir(os.path.join(core, folder))):
            if filename.endswith(suffix) and not filename.startswith("_"):
                label = "ansible_collections.ansible.builtin.%s_%s" % (filename[:-len(suffix)], kind)
                yield label, "std:label", "collections/ansible/builtin/%s_%s.html#%s" % (filename[:-len(suffix)], kind, anchor(label))


def write_inventory(path):
    """Sphinx's objects.inv format, version 2: a plain header, then zlib-compressed lines."""
    header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
    body = "".join("%s %s -1 %s -\n" % entry for entry in entries())
    with open(path, "wb") as handle:
        handle.write(header.encode("utf-8") + zlib.compress(body.encode("utf-8")))


def main():
    if len(sys.argv) != 2 or not os.path.isfile(os.path.join(sys.argv[1], "conf.py")):
        sys.exit("usage: offline_intersphinx.py DOCSITE (a directory made by antsibull-docs sphinx-init)")
    docsite = os.path.abspath(sys.argv[1])
    inventory = os.path.join(docsite, INVENTORY_NAME)
    write_inventory(inventory)
    with open(os.path.join(docsite, "conf.py"), "a", encoding="utf-8") as handle:
        handle.write(CONF_OVERRIDE % (ANSIBLE_DOCS, inventory))


if __name__ == "__main__":
    main()
