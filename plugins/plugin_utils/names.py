# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The closest known name to a misspelt one, for "did you mean" messages (private to vobiz.sip)."""

from __future__ import annotations

import difflib
import os


def closest_name(name, known, cutoff=0.75):
    """The name of `known` most like `name`, or None when none is close enough.

    Names are compared without the prefix they all share (endpoint_drift_...), which would make any two
    of them look alike.
    """
    known = [str(item) for item in known]
    name = str(name)
    prefix = os.path.commonprefix(known) if len(known) > 1 else ""
    if not name.startswith(prefix):
        prefix = ""
    suffixes = {item[len(prefix):]: item for item in known}
    close = difflib.get_close_matches(name[len(prefix):], list(suffixes), n=1, cutoff=cutoff)
    return suffixes[close[0]] if close else None
