# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's filters name a user's value in an error message (private to vobiz.sip)."""

from __future__ import annotations

from collections.abc import Mapping


def describe_value(value):
    """A value as an error message shows it: its YAML kind and the start of it."""
    return "%s %s" % (_yaml_kind(value), _short_repr(value))


def _yaml_kind(value):
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
