# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make `ansible_collections.vobiz.sip` importable under plain pytest, as ansible-test does.

Under `ansible-test units` the collection loader is already installed and this is a no-op.
Elsewhere the checkout is exposed through .build/collections/ansible_collections/vobiz/sip
(the Makefile makes that link; this makes it too, so a bare `pytest` works).
"""

from __future__ import annotations

import os

from ansible.utils.collection_loader import AnsibleCollectionConfig

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def collections_root():
    parts = REPO_ROOT.split(os.sep)
    if parts[-3:-2] == ["ansible_collections"] and parts[-2:] == ["vobiz", "sip"]:
        return os.sep.join(parts[:-3])
    root = os.path.join(REPO_ROOT, ".build", "collections")
    link = os.path.join(root, "ansible_collections", "vobiz", "sip")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO_ROOT, link)
    return root


if AnsibleCollectionConfig.collection_finder is None:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[collections_root()])._install()


def pytest_sessionstart(session):  # pylint: disable=unused-argument
    """Measure the machine's speed once, before the tests load it (each xdist worker measures its own too)."""
    from ansible_collections.vobiz.sip.tests.harness import speed_factor
    speed_factor()


def pytest_terminal_summary(terminalreporter):
    """Say how slow the machine ran: every hang guard of the suite is scaled by this factor (shown with -q too)."""
    from ansible_collections.vobiz.sip.tests.harness import HANG_GUARD_MARGIN, speed_factor
    terminalreporter.write_line("vobiz.sip hang guards: %d x the expected time, x speed factor %.1f measured at start "
                                "(1.0 = an unloaded CI machine)" % (HANG_GUARD_MARGIN, speed_factor()))
