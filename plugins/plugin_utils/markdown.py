# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text from the API inside the collection's reports: Markdown and JUnit XML (private to vobiz.sip)."""

from __future__ import annotations

import re

from ansible_collections.vobiz.sip.plugins.module_utils.values import clip

# Markdown would read these as markup; `_` only where it could start or end emphasis (not inside a word).
_MARKDOWN_SPECIAL = re.compile(r"[\\|`*\[\]~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def report_text(value):
    """API text as every report shows it: control characters but tab and newline written out (ESC as \\x1b), so
    that a report read in a terminal or a browser never carries terminal codes or bytes XML cannot hold."""
    return clip(str(value), limit=None, keep="\t\n")


def table_cell(value):
    """Text safe inside a Markdown table cell, shown literally (no HTML, no broken rows, no control characters)."""
    if value is None:
        return ""
    text = report_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)
    return "<br>".join(line.strip() for line in text.splitlines()) or text.strip()
