# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applications, as tasks name them and as people read them (private to vobiz.sip; pure).

`applications` arguments are the account's Application list as the API gives it (dicts with app_id
and app_name); records are normalised endpoint records (records.py).
"""

from __future__ import annotations

from ansible_collections.vobiz.sip.plugins.module_utils.errors import EndpointError


def resolve_application(reference, applications):
    """The (app_id, app_name) an `application` option means: an app_id first, else an exact app_name.

    An unknown or ambiguous reference is an error that lists what the account has.
    """
    reference = str(reference).strip()
    by_id = [app for app in applications if str(app.get("app_id")) == reference]
    if by_id:
        return str(by_id[0]["app_id"]), by_id[0].get("app_name")
    by_name = [app for app in applications if app.get("app_name") == reference]
    if len(by_name) == 1:
        return str(by_name[0]["app_id"]), by_name[0].get("app_name")
    if by_name:
        raise EndpointError("application %r is ambiguous: %d applications have that name (%s); give the app_id instead"
                            % (reference, len(by_name), describe_applications(by_name)))
    raise EndpointError("application %r is neither the app_id nor the name of an application on this account; it has: %s"
                        % (reference, describe_applications(applications) or "no applications"))


def unnamed_applications(records):
    """The records that carry an application id but not its name (the compact API shape)."""
    return [record for record in records if record["application_id"] and not record["application_name"]]


def fill_application_names(records, applications):
    """Fill application_name from the Application list where a record carries only the id; returns `records`."""
    names = {str(app.get("app_id")): app.get("app_name") for app in applications}
    for record in unnamed_applications(records):
        record["application_name"] = names.get(record["application_id"])
    return records


def application_names(records):
    """{app_id: name or None} for the applications the records use; a name from any record that carries it
    (with the API's mixed shapes, the first record of an application may be a compact one without it)."""
    names = {}
    for record in records:
        if record["application_id"] and not names.get(record["application_id"]):
            names[record["application_id"]] = record["application_name"]
    return names


def application_label(app_id, name, qualify=False):
    """How people read an application: its name, or its id when the name is unknown; None for no application.

    `qualify` adds the id to a name ("Sales (20000000000000002)"), where a name alone could mean several.
    """
    if not app_id:
        return None
    if not name:
        return app_id
    return "%s (%s)" % (name, app_id) if qualify else name


def application_labels(names_by_id):
    """{app_id: label} for a set of applications ({app_id: name or None}): the name, qualified with the id
    where several of them share it, so that different applications never get one label."""
    ids_by_name = {}
    for app_id, name in names_by_id.items():
        if name:
            ids_by_name.setdefault(name, set()).add(app_id)
    return {app_id: application_label(app_id, name, qualify=bool(name) and len(ids_by_name[name]) > 1)
            for app_id, name in names_by_id.items()}


def describe_applications(applications):
    """Applications listed for a message: "name (id), ..."; just the id where the name is unknown."""
    return ", ".join(application_label(str(app.get("app_id")), app.get("app_name"), qualify=True) for app in applications)
