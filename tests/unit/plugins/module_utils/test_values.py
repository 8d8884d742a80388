# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""values.py: reading booleans and showing values in messages, the one way every plugin and module does it."""

from __future__ import annotations

import pytest

from ansible_collections.vobiz.sip.plugins.module_utils.values import clip, describe_value, parse_boolean, show_value


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (None, None), ("yes", True), ("Off", False), ("true", True), ("FALSE", False),
    (1, True), (0, False), ("1", True), ("n", False),
])
def test_a_user_writes_booleans_as_ansible_reads_them(value, expected):
    assert parse_boolean(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", 2, 1.0, [], {}, "ture"])
def test_anything_else_from_a_user_is_refused(value):
    with pytest.raises(ValueError):
        parse_boolean(value)


@pytest.mark.parametrize("value, expected", [(True, True), (None, None), ("true", True), (" False ", False), ("TRUE", True)])
def test_the_api_sends_real_booleans_or_true_false_text(value, expected):
    assert parse_boolean(value, api=True) is expected


@pytest.mark.parametrize("value", ["yes", "1", 1, 0, "on", ""])
def test_what_the_api_sends_is_never_guessed(value):
    with pytest.raises(ValueError, match="not a boolean"):
        parse_boolean(value, api=True)


def test_values_show_as_a_yaml_user_writes_them():
    assert [show_value(value) for value in (None, True, False, "Desk", 5)] == ["null", "true", "false", "Desk", "5"]
    assert show_value("Desk", lambda text: "'%s'" % text) == "'Desk'"
    assert show_value(None, lambda text: "'%s'" % text) == "null"


def test_described_values_name_their_yaml_kind_and_start():
    assert describe_value(5) == "number 5"
    assert describe_value(True) == "boolean True"
    assert describe_value({"a": 1}) == "mapping {'a': 1}"
    assert describe_value(None) == "null None"
    long_text = describe_value("x" * 100)
    assert long_text.startswith("text 'xxx") and long_text.endswith("...") and len(long_text) == len("text ") + 60


def test_clipped_text_is_one_line_without_terminal_codes():
    text = clip("line one\nline two\r\t\x1b[31mred\x7f")
    assert text == "line one\\nline two\\r\\t\\x1b[31mred\\x7f"
    assert clip("x" * 200) == "x" * 117 + "..."
    assert clip("x" * 200, limit=None) == "x" * 200
    assert clip({"error": "gone"}) == '{"error": "gone"}'


def test_a_required_boolean_refuses_null_and_blanks_around_text_do_not_matter():
    assert parse_boolean(" Yes ") is True and parse_boolean(" false ", api=True) is False
    with pytest.raises(ValueError, match="not a boolean: null"):
        parse_boolean(None, null=False)
