# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-written parts of the docsite (docs/docsite/) against the repository they describe.

antsibull-docs generates the reference pages from the plugins' own documentation (`make docs`, and the
`make docsite` gate builds them with warnings as errors); what it cannot check is that the Guides page
reaches every guide in docs/, with links to this collection's repository.
"""

from __future__ import annotations

import os
import re

import yaml

from ansible_collections.vobiz.sip.tests.conftest import REPO_ROOT

DOCSITE = os.path.join(REPO_ROOT, "docs", "docsite")
GUIDES_PAGE = os.path.join(DOCSITE, "rst", "guides.rst")
# The event source lives outside plugins/, where antsibull-docs does not look: this guide explains it, and
# docs/docsite/rst/event_source.rst (hacking/event_source_page.py) is its reference.
EVENTS_GUIDE = "docs/events.md"
EVENT_SOURCE = "extensions/eda/plugins/event_source/endpoint_events.py"
_RST_LINK = re.compile(r"`[^`<]+<([^>]+)>`__")


def load_yaml(*path):
    with open(os.path.join(REPO_ROOT, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def read_text(path):
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        return handle.read()


def repository_url():
    return load_yaml("galaxy.yml")["repository"].rstrip("/")


def guide_links():
    """Repository paths the Guides page links to, in page order."""
    with open(GUIDES_PAGE, encoding="utf-8") as handle:
        urls = _RST_LINK.findall(handle.read())
    prefix = repository_url() + "/blob/main/"
    outside = [url for url in urls if not url.startswith(prefix)]
    assert not outside, "the Guides page links outside %s: %s" % (prefix, outside)
    return [url[len(prefix):] for url in urls]


def test_guides_page_links_every_guide():
    guides = sorted("docs/" + name for name in os.listdir(os.path.join(REPO_ROOT, "docs")) if name.endswith(".md"))
    assert "docs/inventory.md" in guides
    missing = sorted(set(guides) - set(guide_links()))
    assert not missing, "docs/docsite/rst/guides.rst does not link %s" % missing


def test_guides_page_reaches_the_event_source_guide():
    assert EVENTS_GUIDE in guide_links()


def test_every_guide_link_names_a_file_of_the_repository():
    # docs/events.md arrives with the event source; a link to it may only be dead while the source is absent too.
    dead = [path for path in guide_links() if not os.path.isfile(os.path.join(REPO_ROOT, path))
            and not (path == EVENTS_GUIDE and not os.path.exists(os.path.join(REPO_ROOT, EVENT_SOURCE)))]
    assert not dead, "the Guides page links files that do not exist: %s" % dead


def test_guides_page_is_in_the_docsite_toctree():
    sections = load_yaml("docs", "docsite", "extra-docs.yml")["sections"]
    assert "guides" in [entry for section in sections for entry in section["toctree"]]


def test_docsite_links_name_the_collections_repository():
    links = load_yaml("docs", "docsite", "links.yml")
    github = "https://github.com/" + links["edit_on_github"]["repository"]
    assert github == repository_url()
    assert links["issue_tracker"] == load_yaml("galaxy.yml")["issues"]
    assert all(link["url"].startswith(github + "/") for link in links["extra_links"])


def test_install_commands_agree_with_the_readme():
    """README.md says the collection is not on Galaxy: no page may tell users to install vobiz.sip from there, and
    the docsite's install line (antsibull-docs' collection_install) is one of the README's."""
    readme = read_text("README.md")
    assert "not on Galaxy yet" in readme
    pages = ["README.md"] + ["docs/" + name for name in os.listdir(os.path.join(REPO_ROOT, "docs")) if name.endswith(".md")]
    pages += ["docs/docsite/rst/" + name for name in os.listdir(os.path.join(DOCSITE, "rst"))]
    galaxy = [page for page in pages if re.search(r"collection install vobiz\.sip\b", read_text(page))]
    assert not galaxy, "these pages say to install vobiz.sip from Galaxy: %s" % galaxy
    docsite_install = re.search(r'^\s*vobiz\.sip = "(ansible-galaxy collection install [^"]+)"', read_text("hacking/antsibull-docs.cfg"), re.M).group(1)
    assert docsite_install in readme
