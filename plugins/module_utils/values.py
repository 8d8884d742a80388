# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How vobiz.sip reads a boolean and shows a value in a message (private to the collection; pure).

One place for each: the API client, the record normaliser, the modules and the filters all use these.
"""

from __future__ import annotations

import json
import re

from collections.abc import Mapping

try:
    from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE
except ImportError:  # the event source runs under ansible-rulebook, which needs no ansible-core: Ansible's own sets
    BOOLEANS_TRUE = frozenset(("y", "yes", "on", "1", "true", "t", 1, 1.0, True))
    BOOLEANS_FALSE = frozenset(("n", "no", "off", "0", "false", "f", 0, 0.0, False))

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What the API sends for a boolean besides a real one (records.py); any case, surrounding blanks ignored.
_API_BOOLEANS = {"true": True, "false": False}
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def parse_boolean(value, api=False, null=True):
    """True, False or None (no value; ValueError unless `null`) from what a user or the API wrote; ValueError
    for anything else.

    A user may write a boolean as Ansible reads one (true, "yes", "off", 1...). The API sends real
    booleans or the text "true"/"false" (`api=True`); anything else from it is a malformed record, not a guess.
    """
    if isinstance(value, bool) or (value is None and null):
        return value
    text = value.strip().lower() if isinstance(value, str) else value
    if api and isinstance(value, str) and text in _API_BOOLEANS:
        return _API_BOOLEANS[text]
    if not api and isinstance(value, (str, int)) and text in BOOLEANS_TRUE | BOOLEANS_FALSE:
        return text in BOOLEANS_TRUE
    raise ValueError("not a boolean: %s" % describe_value(value))


def describe_value(value):
    """A value as an error message shows it after "got": its YAML kind and the start of it ("number 5")."""
    return "%s %s" % (yaml_kind(value), _short_repr(value))


def show_value(value, text=str):
    """A value as a YAML user writes it, for "wanted X, actual Y" messages: null, true/false, else `text(value)`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value)


def clip(value, limit=120, keep=""):
    """Text fit for one line of a message: control characters escaped (no injected lines or terminal codes), cut
    to `limit` characters (None: not cut). Not text: as JSON. `keep`: control characters left as they are (a
    report keeps its tabs and newlines)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = _CONTROL_CHARACTERS.sub(lambda match: match.group() if match.group() in keep else _escape(match), text)
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


def _escape(match):
    character = match.group()
    return _ESCAPES.get(character) or "\\x%02x" % ord(character)


def yaml_kind(value):
    """A value's kind as YAML and JSON name it (text, number, mapping, list, null...), for "got ..." in messages."""
    # Checked in this order because bool is an int, and Ansible hands over its own list/dict subclasses.
    for kinds, name in ((bool, "boolean"), ((int, float), "number"), (str, "text"), (Mapping, "mapping"), ((list, tuple), "list")):
        if isinstance(value, kinds):
            return name
    return "null" if value is None else type(value).__name__


def _short_repr(value):
    if isinstance(value, Mapping):
        value = dict(value)
    elif isinstance(value, (list, tuple)):
        value = list(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
