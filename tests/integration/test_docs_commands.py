# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every command that README.md and docs/*.md show runs, against the simulator, as written.

The rules, by the fenced block's language (docs/README.md tells authors the same):
- `sh`, `shell`, `bash`: the block runs as shell; `console`: its `$ ` lines run (the other lines are output).
- `yaml`: the block must parse; an inventory config (`plugin: vobiz.sip.endpoints`) is listed with
  `ansible-inventory --graph` against the simulator, and a playbook passes `ansible-playbook --syntax-check`.
- `json` must parse. `text` (output), `ini`, `python`, `markdown`, `jinja`... are shown, not run.
- A fence without a language fails the test: every block says whether it is a command or output.
- `<!-- not run: REASON -->` on the line before a block keeps it from running; the test prints each such block with
  its reason, and their count, so nothing is skipped silently. `<!-- exits: N -->` says a block ends with exit N.

Each document runs in one shell, block after block in document order (so `export` and `cd` carry over), in a fresh
copy of the repository (with `.venv` linking to the venv running the tests), with its own HOME in which the
collection is installed from its tarball, as the README's Install section does, and with the `export` lines of
`make simulator` applied for a simulator of its own.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest
import yaml

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizError
from ansible_collections.vobiz.sip.plugins.module_utils.endpoint_events import SOURCE_NAME, source_settings
from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT
from ansible_collections.vobiz.sip.tests.harness import hang_guard, run_bounded
from ansible_collections.vobiz.sip.tests.integration.conftest import SAMPLE_AUTH_ID, SAMPLE_DATA, SAMPLE_TOKEN, ansible_env
from ansible_collections.vobiz.sip.tests.simulator.vobiz_simulator import Simulator

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[^`\s]*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.+?)\s*-->\s*$")
EXITS = re.compile(r"^\s*<!--\s*exits:\s*(?P<code>\d+)\s*-->\s*$")
SHELL = ("sh", "shell", "bash")
RUN = SHELL + ("console",)
SHOWN_ONLY = ("text", "ini", "python", "markdown", "jinja", "diff", "toml", "mermaid", "xml")
DOCUMENTS = ["README.md", "CONTRIBUTING.md"] + sorted(
    os.path.relpath(path, REPO_ROOT) for pattern in (("docs", "*.md"), ("roles", "*", "README.md"))
    for path in glob.glob(os.path.join(REPO_ROOT, *pattern)))
# Copying these into a document's working copy would be slow (venvs) or wrong (build output).
NOT_COPIED = (".venv", ".build", ".ansible", ".git", "dist", "tests/output", "bench/out", "__pycache__", ".pytest_cache")


@dataclass
class Block:
    document: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str  # dedented to the fence's indentation
    not_run: str | None = None
    exit_code: int = 0

    @property
    def where(self):
        return "%s:%d" % (self.document, self.line)


def fenced_blocks(document, text):
    """The fenced blocks of a Markdown text with the marker comment just above each, if any."""
    blocks, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, body, end = opening.group("indent"), [], index + 1
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            body.append(lines[end][len(indent):] if lines[end].startswith(indent) else lines[end].lstrip())
            end += 1
        previous = lines[index - 1] if index else ""
        not_run, exits = NOT_RUN.match(previous), EXITS.match(previous)
        blocks.append(Block(document, index + 1, opening.group("lang").lower(), "\n".join(body) + "\n",
                            not_run=not_run.group("reason") if not_run else None,
                            exit_code=int(exits.group("code")) if exits else 0))
        index = end + 1
    return blocks


def console_commands(text):
    """The `$ ` lines of a console block, with their `\\` continuations."""
    commands, current = [], None
    for line in text.splitlines():
        if current is not None:
            current.append(line)
        elif line.lstrip().startswith("$ "):
            current = [line.lstrip()[2:]]
        else:
            continue
        if not line.endswith("\\"):
            commands.append("\n".join(current))
            current = None
    return "\n".join(commands) + "\n"


def yaml_kind(block):
    """"inventory" (a config of our plugin), "rulebook" (ansible-rulebook's: sources and rules), "playbook" (a list of
    plays) or None (data or a fragment: parsed only)."""
    data = yaml.safe_load(block.text)
    if isinstance(data, dict) and data.get("plugin") == "vobiz.sip.endpoints":
        return "inventory"
    if isinstance(data, list) and data and all(isinstance(item, dict) and "sources" in item and "rules" in item for item in data):
        return "rulebook"
    if isinstance(data, list) and data and all(isinstance(play, dict) and "hosts" in play for play in data):
        return "playbook"
    return None


def rulebook_problem(block):
    """What is wrong with the vobiz.sip.endpoint_events sources of a rulebook block, checked as the source checks them.

    Rulebooks are not run here (tests/integration/test_event_source.py runs one with the real ansible-rulebook).
    """
    credentials = {"VOBIZ_AUTH_ID": SAMPLE_AUTH_ID, "VOBIZ_AUTH_TOKEN": SAMPLE_TOKEN}
    for ruleset in yaml.safe_load(block.text):
        for source in ruleset["sources"]:
            for name, args in source.items():
                if name.endswith(SOURCE_NAME.rsplit(".", 1)[1]) and name != SOURCE_NAME:
                    return "%s: the event source is %s, not %s" % (block.where, SOURCE_NAME, name)
                if name == SOURCE_NAME:
                    try:
                        source_settings(args or {}, credentials)
                    except VobizError as exc:
                        return "%s: %s" % (block.where, exc)
    return None


def yaml_check(block, scratch):
    """Shell lines that exercise a YAML block: list the inventory against the simulator, or syntax-check the playbook."""
    if yaml_kind(block) == "inventory":
        path = os.path.join(scratch, "block%d.vobiz.yml" % block.line)
        command = "ANSIBLE_INVENTORY_UNPARSED_FAILED=True ansible-inventory -i %s --graph > /dev/null" % shlex.quote(path)
    else:
        path = os.path.join(scratch, "block%d.yml" % block.line)
        command = "ansible-playbook -i localhost, --syntax-check %s > /dev/null" % shlex.quote(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(block.text)
    return command + "\n"


def runs(block):
    """Whether the docs test runs this block (a YAML block is always parsed, whatever this says)."""
    if block.not_run:
        return False
    if block.lang in SHELL:
        return bool(block.text.strip())
    if block.lang == "console":
        return bool(console_commands(block.text).strip())
    return block.lang in ("yaml", "yml") and yaml_kind(block) in ("inventory", "playbook")


def block_script(block, scratch):
    """The shell for one block, announced on stderr so a failure names its block; "" when it does not run."""
    if not runs(block):
        return ""
    if block.lang in SHELL:
        body = block.text
    elif block.lang == "console":
        body = console_commands(block.text)
    else:
        body = yaml_check(block, scratch)
    announce = "echo %s >&2\n" % shlex.quote("=== %s (%s)" % (block.where, block.lang))
    if block.exit_code:  # a subshell, so that its failure is tested rather than ending the document's shell
        return announce + "set +e\n(\nset -e\n%s)\nrc=$?\nset -e\n[ $rc -eq %d ] || { echo %s exited $rc, expected %d >&2; exit 1; }\n" % (
            body, block.exit_code, shlex.quote(block.where), block.exit_code)
    return announce + body


def problems_of(block):
    """What is wrong with a block whatever it is for: no language, unparsable YAML or JSON, a marker on output."""
    if not block.lang:
        return "%s: a fence without a language; say sh or console (run), yaml, or text (output)" % block.where
    try:
        if block.lang in ("yaml", "yml"):
            yaml.safe_load(block.text)
        elif block.lang == "json":
            json.loads(block.text)
    except (yaml.YAMLError, ValueError) as exc:
        return "%s: the %s block does not parse: %s" % (block.where, block.lang, exc)
    if block.lang not in RUN + ("yaml", "yml", "json") + SHOWN_ONLY:
        return "%s: unknown block language %r: use one of %s" % (block.where, block.lang, ", ".join(RUN + ("yaml", "json") + SHOWN_ONLY))
    if block.not_run and block.lang not in RUN + ("yaml", "yml"):
        return "%s: a 'not run' marker on a %s block, which never runs" % (block.where, block.lang)
    if block.lang in ("yaml", "yml") and yaml_kind(block) == "rulebook":
        return rulebook_problem(block)
    return None


def all_blocks():
    blocks = []
    for document in DOCUMENTS:
        with open(os.path.join(REPO_ROOT, document), encoding="utf-8") as handle:
            blocks.extend(fenced_blocks(document, handle.read()))
    return blocks


def test_every_block_says_what_it_is():
    blocks = all_blocks()
    problems = [problem for problem in map(problems_of, blocks) if problem]
    assert not problems, "\n".join(problems)
    not_run = [block for block in blocks if block.not_run]
    runnable = [block for block in blocks if runs(block)]
    # Printed (pytest -s, or -rP) and kept in the report: what the docs test does not run, and why.
    print("\n%d blocks in %d documents: %d run (commands, inventory files, playbooks), %d not run:"
          % (len(blocks), len(DOCUMENTS), len(runnable), len(not_run)))
    for block in not_run:
        print("  not run %s (%s): %s" % (block.where, block.lang, block.not_run))
    assert len(runnable) > len(not_run)


def test_fenced_blocks_reads_markers_and_indentation():
    text = ("intro\n<!-- not run: needs a real Vobiz account -->\n```sh\nexport X=1\n```\n"
            "- item\n\n  ```yaml\n  - hosts: all\n  ```\n<!-- exits: 2 -->\n```console\n$ false \\\n  --x\nout\n$ true\n```\n")
    first, second, third = fenced_blocks("doc.md", text)
    assert (first.lang, first.not_run, first.line, first.text) == ("sh", "needs a real Vobiz account", 3, "export X=1\n")
    assert (second.lang, second.text, second.not_run) == ("yaml", "- hosts: all\n", None)
    assert third.exit_code == 2 and console_commands(third.text) == "false \\\n  --x\ntrue\n"


def test_rulebook_blocks_are_checked_as_the_event_source_checks_its_arguments():
    rulebook = ("- name: r\n  hosts: all\n  sources:\n    - %s:\n        %s\n"
                "  rules:\n    - name: x\n      condition: true\n      action:\n        debug:\n")
    good = Block("doc.md", 1, "yaml", rulebook % ("vobiz.sip.endpoint_events", "interval: 5"))
    misspelt = Block("doc.md", 1, "yaml", rulebook % ("vobiz.sip.endpoint_events", "intervall: 5"))
    wrong_name = Block("doc.md", 1, "yaml", rulebook % ("vobiz.sip.eda.endpoint_events", "interval: 5"))
    assert yaml_kind(good) == "rulebook" and not runs(good) and problems_of(good) is None
    assert "unknown argument intervall (did you mean interval?)" in problems_of(misspelt)
    assert "the event source is vobiz.sip.endpoint_events" in problems_of(wrong_name)


def playbook_blocks(document=None):
    return [block for block in all_blocks() if block.lang in ("yaml", "yml") and yaml_kind(block) == "playbook"
            and document in (None, block.document)]


def test_plays_on_localhost_run_modules_on_the_python_of_ansible():
    """A play that names localhost (run with -i localhost,) runs modules on the Python Ansible discovers there, which
    may lack requests: every such play of the docs sets ansible_python_interpreter, as users copy them."""
    plays = [(block.where, play) for block in playbook_blocks() for play in yaml.safe_load(block.text) if play["hosts"] == "localhost"]
    assert len(plays) > 3
    missing = [where for where, play in plays
               if (play.get("vars") or {}).get("ansible_python_interpreter") != "{{ ansible_playbook_python }}"]
    assert not missing, "plays on localhost without ansible_python_interpreter: {{ ansible_playbook_python }}: %s" % missing


def role_vars(play, role):
    return next(item.get("vars", {}) for item in play["roles"] if item["role"] == role)


def test_drift_guide_play_is_the_example_whose_output_it_shows():
    """docs/drift.md shows the output of docs/examples/drift.yml: its play must set what that one sets."""
    with open(os.path.join(REPO_ROOT, "docs", "examples", "drift.yml"), encoding="utf-8") as handle:
        example = role_vars(yaml.safe_load(handle)[0], "vobiz.sip.endpoint_drift")
    guide = role_vars(yaml.safe_load(playbook_blocks("docs/drift.md")[0].text)[0], "vobiz.sip.endpoint_drift")
    assert example.pop("endpoint_drift_report_dir") and guide.pop("endpoint_drift_report_dir")
    assert guide == example


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    """vobiz.sip installed from its tarball (the one `make integration` installed, or built here)."""
    installed = os.environ.get("VOBIZ_TEST_COLLECTIONS_PATH")
    if installed:
        return os.path.join(installed, "ansible_collections", "vobiz", "sip")
    work = tmp_path_factory.mktemp("collection")
    env = ansible_env(None, work)
    build = run_shell_command(["ansible-galaxy", "collection", "build", "--output-path", str(work), REPO_ROOT], env=env, cwd=str(work),
                              expected_seconds=20)
    assert build.returncode == 0, build.stdout
    tarball = glob.glob(str(work / "vobiz-sip-*.tar.gz"))
    install = run_shell_command(["ansible-galaxy", "collection", "install", "--offline", "-p", str(work / "installed")] + tarball,
                                env=dict(env, ANSIBLE_COLLECTIONS_PATH=str(work / "installed")), cwd=str(work), expected_seconds=20)
    assert install.returncode == 0, install.stdout
    return str(work / "installed" / "ansible_collections" / "vobiz" / "sip")


def run_shell_command(command, env, cwd, expected_seconds):
    """A command (the venv's CLIs by name) in a session of its own, output and errors together; killed if it hangs."""
    if command[0].startswith("ansible"):
        command = [os.path.join(os.path.dirname(sys.executable), command[0])] + command[1:]
    completed = run_bounded(command, hang_guard(expected_seconds), env=env, cwd=cwd)
    return subprocess.CompletedProcess(command, completed.returncode, completed.stdout + completed.stderr)


def document_env(home, api_url):
    """A user's shell: the venv's CLIs on PATH, no ANSIBLE_ settings, and what `make simulator` says to export."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VOBIZ_"))}
    env.update(HOME=home, PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""), ANSIBLE_NOCOLOR="1",
               VOBIZ_AUTH_ID=SAMPLE_AUTH_ID, VOBIZ_AUTH_TOKEN=SAMPLE_TOKEN, VOBIZ_API_URL=api_url, PYTHONWARNINGS="ignore")
    return env


def documents_that_run():
    try:
        return sorted({block.document for block in all_blocks() if runs(block)})
    except yaml.YAMLError:  # test_every_block_says_what_it_is names the block
        return DOCUMENTS


@pytest.mark.parametrize("document", documents_that_run())
def test_document_commands_run(document, tmp_path, installed_collection):
    scratch = tmp_path / "blocks"
    scratch.mkdir()
    body = "".join(block_script(block, str(scratch)) for block in all_blocks() if block.document == document)
    checkout, home = tmp_path / "checkout", tmp_path / "home"
    shutil.copytree(REPO_ROOT, checkout, symlinks=True,
                    ignore=lambda folder, names: [name for name in names
                                                  if os.path.relpath(os.path.join(folder, name), REPO_ROOT) in NOT_COPIED
                                                  or name == "__pycache__"])
    os.symlink(sys.prefix, checkout / ".venv")
    shutil.copytree(installed_collection, home / ".ansible" / "collections" / "ansible_collections" / "vobiz" / "sip")
    script = tmp_path / "document.sh"
    script.write_text("set -eo pipefail\n" + body + "echo '=== end of %s' >&2\n" % document, encoding="utf-8")
    with Simulator(SAMPLE_DATA) as sim:
        # About 10 s a block at most (a build and install of the collection, a play on 300 hosts).
        completed = run_shell_command(["bash", str(script)], env=document_env(str(home), sim.url), cwd=str(checkout),
                                      expected_seconds=10 * body.count("\n=== ") + 10)
    assert completed.returncode == 0 and "=== end of" in completed.stdout, (
        "a command block of %s failed (the last '===' line names it):\n%s" % (document, completed.stdout[-6000:]))
