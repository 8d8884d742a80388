# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text from the API inside the collection's Markdown reports (private to vobiz.sip)."""

from __future__ import annotations

import re

# Markdown would read these as markup; `_` only where it could start or end emphasis (not inside a word).
_MARKDOWN_SPECIAL = re.compile(r"[\\|`*\[\]~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def table_cell(value):
    """Text safe inside a Markdown table cell, shown literally (no HTML, no broken rows)."""
    if value is None:
        return ""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)
    return "<br>".join(line.strip() for line in text.splitlines()) or text.strip()
