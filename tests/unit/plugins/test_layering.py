# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The direction of imports docs/design.md draws: pure module_utils files import neither AnsibleModule nor
requests (nor the files that do), and the filter plugins import only pure files."""

from __future__ import annotations

import ast
import glob
import os

import pytest

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT

MODULE_UTILS = "ansible_collections.vobiz.sip.plugins.module_utils."
# The HTTP client (api and its transport), the AnsibleModule glue, and the event source's logic (it speaks in the
# client's VobizError); every other module_utils file is pure (the client's paging and rate files too).
IMPURE = {"api", "transport", "module_glue", "endpoint_events"}
FORBIDDEN = ("requests", "urllib3", "ansible.module_utils.basic") + tuple(MODULE_UTILS + name for name in IMPURE)


def python_files(folder):
    return sorted(glob.glob(os.path.join(REPO_ROOT, "plugins", folder, "*.py")))


def imported_modules(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (node.module + "." + alias.name for alias in node.names)


PURE = [path for path in python_files("module_utils") if os.path.basename(path)[:-3] not in IMPURE]


def test_the_layers_are_where_they_are_said_to_be():
    names = {os.path.basename(path)[:-3] for path in python_files("module_utils")}
    assert IMPURE <= names and {"matching", "values", "records", "paging", "rate"} <= names


@pytest.mark.parametrize("path", PURE + python_files("filter"), ids=os.path.basename)
def test_pure_files_and_filters_import_no_client_and_no_ansible_module(path):
    bad = [name for name in imported_modules(path) if name.startswith(FORBIDDEN)]
    assert not bad, "%s imports %s" % (os.path.relpath(path, REPO_ROOT), ", ".join(bad))
