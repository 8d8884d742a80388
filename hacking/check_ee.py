#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check what ansible-builder gets from vobiz.sip when it builds an execution environment (`make ee-check`).

1. `ansible-builder introspect` on the collection installed from the tarball must report every line of the
   checkout's requirements.txt and bindep.txt as a dependency of vobiz.sip (so meta/execution-environment.yml
   and the files it names are in the build and say what the checkout says);
2. bindep.txt must parse as bindep;
3. the execution-environment.yml shown in docs/awx.md, and the decision-environment.yml (what EDA controller runs
   rulebooks in) shown in docs/events.md, must pass ansible-builder's schema: `ansible-builder create` writes each
   one's build context (Containerfile, with vobiz.sip in the galaxy requirements) without running a container.
Run it in .build/venv-docs, where ansible-builder is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

import yaml
from bindep.depends import Depends

COLLECTION = "vobiz.sip"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The fenced block of a guide whose first line is one of these comments is the documented definition.
EE_MARKER = "# execution-environment.yml"
DE_MARKER = "# decision-environment.yml"
_FENCED_YAML = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def requirement_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]


def introspect(builder, collections):
    completed = subprocess.run([builder, "introspect", collections], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.exit("ansible-builder introspect failed:\n%s%s" % (completed.stdout, completed.stderr))
    return yaml.safe_load(completed.stdout) or {}


def check_introspection(builder, collections):
    installed = os.path.join(collections, "ansible_collections", *COLLECTION.split("."))
    if not os.path.isfile(os.path.join(installed, "meta", "execution-environment.yml")):
        return ["meta/execution-environment.yml is not in the built collection (galaxy.yml build_ignore?)"]
    found = introspect(builder, collections)
    problems = []
    for kind, filename in (("python", "requirements.txt"), ("system", "bindep.txt")):
        reported = {entry.split("  # from collection ")[0].strip() for entry in found.get(kind) or []
                    if entry.endswith("# from collection " + COLLECTION)}
        for line in requirement_lines(os.path.join(REPO_ROOT, filename)):
            if line not in reported:
                problems.append("ansible-builder does not report %r (%s) as a %s dependency of %s; it reports: %s"
                                % (line, filename, kind, COLLECTION, sorted(reported) or "nothing"))
        print("ansible-builder introspect: %s dependencies of %s: %s" % (kind, COLLECTION, ", ".join(sorted(reported)) or "none"))
    return problems


def check_bindep():
    with open(os.path.join(REPO_ROOT, "bindep.txt"), encoding="utf-8") as handle:
        text = handle.read()
    try:
        Depends(text)
    except Exception as exc:  # bindep raises its parser's own error types
        return ["bindep.txt does not parse: %s" % exc]
    return []


def documented_definition(doc, marker):
    with open(doc, encoding="utf-8") as handle:
        blocks = [block for block in _FENCED_YAML.findall(handle.read()) if block.startswith(marker)]
    if len(blocks) != 1:
        sys.exit("%s should have exactly one ```yaml block starting with %r, found %d" % (doc, marker, len(blocks)))
    return blocks[0]


def check_documented_definition(builder, doc, marker, work):
    """ansible-builder create on the definition the guide shows; it must install vobiz.sip."""
    name = marker.lstrip("# ")
    definition = os.path.join(work, name)
    context = os.path.join(work, "context")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(definition, "w", encoding="utf-8") as handle:
        handle.write(documented_definition(doc, marker))
    completed = subprocess.run([builder, "create", "-f", definition, "--context", context, "--output-filename", "Containerfile"],
                               capture_output=True, text=True, check=False)
    containerfile = os.path.join(context, "Containerfile")
    if completed.returncode != 0 or not os.path.isfile(containerfile):
        return ["ansible-builder create rejects the %s of %s:\n%s%s" % (name, doc, completed.stdout, completed.stderr)]
    with open(os.path.join(context, "_build", "requirements.yml"), encoding="utf-8") as handle:
        collections = [item.get("name") for item in (yaml.safe_load(handle) or {}).get("collections") or []]
    if COLLECTION not in collections:
        return ["the %s of %s does not install %s (galaxy collections: %s)" % (name, doc, COLLECTION, collections)]
    print("ansible-builder create: the %s of %s gives %s, installing %s" % (name, doc, containerfile, COLLECTION))
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", required=True, help="collections path holding the installed vobiz.sip")
    parser.add_argument("--awx-doc", required=True, help="the guide showing the execution-environment.yml")
    parser.add_argument("--events-doc", required=True, help="the guide showing the decision-environment.yml")
    parser.add_argument("--work", required=True, help="scratch directory (replaced)")
    args = parser.parse_args()
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    problems = check_introspection(builder, args.collections) + check_bindep()
    for doc, marker in ((args.awx_doc, EE_MARKER), (args.events_doc, DE_MARKER)):
        problems += check_documented_definition(builder, doc, marker, os.path.join(args.work, os.path.splitext(marker.lstrip("# "))[0]))
    for problem in problems:
        print("ERROR: " + problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
