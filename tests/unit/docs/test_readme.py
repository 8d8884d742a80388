# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""README.md opens with what the collection is and the two commands, `make demo` and `make test`; how the test suite
works is in CONTRIBUTING.md."""

from __future__ import annotations

import os
import re

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT


def read_text(name):
    with open(os.path.join(REPO_ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def test_readme_opens_with_what_it_is_then_the_two_commands():
    opening = re.match(r"# vobiz\.sip\n\n(?P<description>(?:[^\n]+\n)+)\n(?:<!--[^\n]*-->\n)?```sh\n(?P<commands>.*?)```\n",
                       read_text("README.md"), re.S)
    assert opening, "README.md must open with one paragraph saying what the collection is, then the commands block"
    assert "Ansible collection" in opening.group("description")
    assert [line.split("#")[0].strip() for line in opening.group("commands").splitlines()] == ["make demo", "make test"]


def test_test_suite_internals_are_in_the_contributing_guide():
    readme, guide = read_text("README.md"), read_text("CONTRIBUTING.md")
    for internal in ("hang_guard", "process group", "PYTEST_WORKERS"):
        assert internal not in readme and internal in guide, internal
    assert "](CONTRIBUTING.md)" in readme
    stages = re.search(r"^TEST_STAGES := (.*)$", read_text("Makefile"), re.M).group(1).split()
    assert all("`%s`" % stage in guide for stage in stages), "CONTRIBUTING.md does not describe every gate of make test"
