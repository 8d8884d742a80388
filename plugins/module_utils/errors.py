# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of vobiz.sip (private to vobiz.sip; pure).

Raised by the pure decisions (applications.py, matching.py) and the modules; the filters turn it into
AnsibleFilterError, the modules into fail_json. Failures talking to the API are VobizError (raised by the client, api.py, and imported from there).
"""

from __future__ import annotations


class EndpointError(Exception):
    """A task that cannot be carried out as asked; the message names the cause and the fix.

    `result` holds what the task did before it failed (changed, endpoint, diff), for fail_json.
    """

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result or {}


class VobizError(Exception):
    """Any failure talking to the Vobiz API, with a message fit to show a user as is."""

    def __init__(self, message, status=None, request=None):
        super().__init__(message)
        self.status = status
        self.request = request
