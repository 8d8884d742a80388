# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: endpoints
short_description: Vobiz SIP endpoints as inventory hosts
description:
  - Reads the SIP endpoints of a Vobiz account (or of its sub-accounts) from the Vobiz REST API and makes each
    endpoint an inventory host, with the endpoint's fields as host variables and groups by application,
    sub-account and SIP registration.
  - "Uses a YAML configuration file whose name ends with C(vobiz.yml) or C(vobiz.yaml), for example
    C(inventory/prod.vobiz.yml), containing at least C(plugin: vobiz.sip.endpoints)."
  - Endpoints are API objects, not machines to log in to. By default every endpoint host therefore gets the
    host variables C(ansible_connection=local) and C(ansible_python_interpreter={{ ansible_playbook_python }}),
    so plays that target endpoints run on the controller with the Python that runs Ansible. Change or drop
    them with O(connection_vars); O(compose), C(host_vars/) files and C(-e) override them too.
  - Every value that comes from the API (host names, host variables, the text group names are made of) is
    marked unsafe, so an endpoint alias such as V({{ lookup('pipe', 'id'\) }}) stays literal text and is
    never templated.
  - A source that fails (bad option, unknown filter key, HTTP 401, network failure after retries, malformed
    reply, duplicate host name) raises one error naming the cause and the fix. Ansible turns a failed
    inventory source into a warning and an empty inventory unless C(inventory_unparsed_failed) is true
    (E(ANSIBLE_INVENTORY_UNPARSED_FAILED=True)); set it so such failures stop the run.
author:
  - vobiz.sip contributors (@vobiz-sip)
version_added: 0.1.0
requirements:
  - requests
extends_documentation_fragment:
  - vobiz.sip.vobiz
  - vobiz.sip.vobiz.plugins
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [vobiz.sip.endpoints]
  filters:
    description:
      - Server-side filters, sent to the API as query parameters of the endpoint listing. Only endpoints that
        match all of them become hosts.
      - "Valid keys: C(username__contains), C(username__exact), C(username__startswith), C(alias__contains),
        C(alias__exact), C(application_id__exact), C(application_id__isnull) (true or false), C(sub_account)
        (the auth_id of a sub-account)."
      - Any other key is an error that lists the valid ones.
    type: dict
    default: {}
  resolve_applications:
    description:
      - List the account's Applications once per run to fill C(application_name) where the endpoint record
        only names the application id, so that application groups are named after the application.
      - The Application list is requested only when some endpoint lacks its application name.
      - When false, or when an application is unknown, the group is named after the application id.
    type: bool
    default: true
  hostname:
    description:
      - Which field of the endpoint names the inventory host.
      - An endpoint whose chosen field is empty (null) is named by its C(endpoint_id) instead.
      - Two endpoints with the same name are an error that names both endpoint ids; C(endpoint_id) is
        always unique.
    type: str
    choices: [username, endpoint_id, alias, sip_uri]
    default: username
  connection_vars:
    description:
      - Host variables set on every endpoint host before O(compose) runs, so that plays run on the controller.
      - The default makes tasks on endpoints run locally with the Python that runs Ansible (which has
        C(requests)). Host variables beat C(group_vars/), so a C(group_vars/all.yml) that sets
        C(ansible_connection) or C(ansible_python_interpreter) for real machines does not change endpoints.
      - "Give another mapping to replace the default entirely (for example V({ansible_connection: ssh}) with
        a O(compose) of C(ansible_host) to reach the phones themselves), or V({}) to set nothing."
      - Values are trusted configuration, not API data, so templates in them are rendered when a play runs.
    type: dict
    default:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
  hostvars_prefix:
    description:
      - Prefix of the host variables made from the endpoint fields (C(vobiz_endpoint_id),
        C(vobiz_sip_registered), ...).
      - Letters, digits and underscores, not starting with a digit; may be empty.
    type: str
    default: vobiz_
  group_prefix:
    description:
      - Prefix of every group this plugin makes (C(vobiz_endpoints), C(vobiz_registered), ...). Groups from
        O(groups) and O(keyed_groups) are not prefixed.
      - Letters, digits and underscores, not starting with a digit; may be empty.
    type: str
    default: vobiz_
  group_by:
    description:
      - Which families of groups to make besides C(<group_prefix>endpoints), which always holds every endpoint.
      - V(application) makes C(app_<slug of the application name>), or C(app_<application id>) when the name
        is unknown, and C(app_none) for endpoints without an application. The slug is the lowercased name with
        each run of characters outside C(a-z0-9) turned into C(_), trimmed of C(_). When two applications
        share a slug (or an application's slug is C(none)), C(_<application id>) is added to each of them.
      - V(sub_account) makes C(sub_account_<slug of the sub-account auth_id>) and C(main_account) for
        endpoints of the main account.
      - V(registration) makes C(registered) (SIP registration true) and C(unregistered) (false, or unknown
        because the API gave nothing).
    type: list
    elements: str
    choices: [application, sub_account, registration]
    default: [application, sub_account, registration]
notes:
  - "Caching (O(cache)) stores the normalised endpoint records, never host variables or the token, under a key
    made of the inventory file path, O(api_url), O(auth_id), O(filters) and O(resolve_applications): another
    account or filter never gets these endpoints. A cache hit makes no HTTP request and is not rewritten;
    C(--flush-cache) or C(meta: refresh_inventory) lists the endpoints again and replaces the entry."
  - With C(-v) the plugin prints one line per listing (endpoints, requests, pages, concurrency, retries,
    seconds, cache hit or miss); with C(-vvv) one line per HTTP request. The token is never printed.
seealso:
  - name: Vobiz endpoint API
    description: The API this plugin reads.
    link: https://docs.vobiz.ai/endpoint/list-all-endpoints
"""

EXAMPLES = r"""
# Minimal: inventory/prod.vobiz.yml. The credentials come from VOBIZ_AUTH_ID and VOBIZ_AUTH_TOKEN.
plugin: vobiz.sip.endpoints

---
# The token from another environment variable, through a template.
plugin: vobiz.sip.endpoints
auth_id: MA_XXXXXXXX
auth_token: "{{ lookup('ansible.builtin.env', 'VOBIZ_PROD_TOKEN') }}"

---
# The token vaulted inline: ansible-vault encrypt_string --name auth_token 'the-token'
# then run with --ask-vault-pass or --vault-password-file.
plugin: vobiz.sip.endpoints
auth_id: MA_XXXXXXXX
auth_token: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  62313365396662343061393464336163383764373764613633653634306231386433626436623361
  6134333665353966363534333632666535333761666131620a663537646436643839616531643561
  63396265333966386166373632626539326166353965363262633030333630313338646335303630
  3438626666666137650a353638643435666633633964366338633066623234616432373231333331
  6564

---
# Only some endpoints, filtered by the API.
plugin: vobiz.sip.endpoints
filters:
  username__startswith: desk
  application_id__isnull: false
  sub_account: SA_BRANCH01

---
# Hosts named by alias (endpoints without an alias are named by endpoint_id), other prefixes,
# and only the registration groups: desk_registered, desk_unregistered, desk_endpoints.
plugin: vobiz.sip.endpoints
hostname: alias
hostvars_prefix: sip_
group_prefix: desk_
group_by: [registration]

---
# Constructed features: compose runs first, so groups and keyed_groups can use the composed variables.
plugin: vobiz.sip.endpoints
strict: true
compose:
  phone_label: vobiz_alias | default(vobiz_username, true)
  ansible_connection: "'local'"
groups:
  video_phones: vobiz_allow_video | default(false)
keyed_groups:
  - key: vobiz_sip_user_agent | default('unknown', true) | regex_replace('/.*$', '')
    prefix: agent
  - key: vobiz_application_name | default('none', true)
    prefix: application

---
# Cache the listing for an hour in JSON files; --flush-cache lists again.
plugin: vobiz.sip.endpoints
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/vobiz_inventory
cache_timeout: 3600
"""

import hashlib
import json
import re
import time
import typing as t

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError, validate_filters
from ansible_collections.vobiz.sip.plugins.module_utils.applications import application_names
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS, slugify

try:
    from ansible.template import trust_as_template
    # ansible-core 2.19+ (data tagging): text is unsafe unless tagged TrustedAsTemplate, and a tagged str is a
    # subclass of str, so a plain str is already unsafe and wrap_var() would return it unchanged.
    _PLAIN_STR_IS_UNSAFE = True
except ImportError:  # ansible-core < 2.19 templates every inventory string that is not marked unsafe
    _PLAIN_STR_IS_UNSAFE = False

    def trust_as_template(value):
        return value

# Bump when the cached payload changes shape; entries of another format are ignored (listed again).
CACHE_FORMAT = 1
CONFIG_SUFFIXES = ("vobiz.yml", "vobiz.yaml")
_IDENTIFIER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)?$")
_RECORD_KEY_SET = frozenset(RECORD_KEYS)


class InventoryHost(t.TypedDict):
    """One endpoint as an inventory host: its name, prefixed unsafe variables and the plugin's groups."""

    name: str
    endpoint_id: str
    variables: dict[str, t.Any]
    groups: list[str]


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "vobiz.sip.endpoints"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            self._read_settings()
            records = self._fetch_records(path, cache)
        except VobizError as exc:
            raise AnsibleParserError(to_native(exc)) from None
        self._populate(records)

    # Options ---------------------------------------------------------------------------------

    def _read_settings(self):
        """Check the plugin's own options once (Ansible checks their choices); the per-host code reads these attributes."""
        self._hostname_field = self.get_option("hostname")
        self._group_by = frozenset(self.get_option("group_by") or ())
        self._hostvars_prefix = self._identifier_option("hostvars_prefix")
        self._group_prefix = self._identifier_option("group_prefix")
        self._filters = validate_filters(self.get_option("filters"))
        # Configuration, not API data: trusted, so that "{{ ansible_playbook_python }}" is rendered in plays.
        self._connection_vars = {name: trust_as_template(value) if isinstance(value, str) else value
                                 for name, value in (self.get_option("connection_vars") or {}).items()}
        self._variable_names = tuple((key, self._hostvars_prefix + key) for key in RECORD_KEYS)

    def _identifier_option(self, name):
        value = self.get_option(name)
        value = "" if value is None else str(value)
        if not _IDENTIFIER.match(value):
            raise VobizError("%s must be letters, digits and underscores, not starting with a digit (or empty), got %r"
                             % (name, value))
        return value

    def _templated_option(self, name):
        """An option that may be a template (for example a lookup) or a vaulted string, as plain text."""
        value = self.get_option(name)
        if value is None:
            return None
        self.templar.available_variables = self._vars if self.get_option("use_extra_vars") else {}
        # str() also decrypts a vaulted value that the template engine passes through.
        return str(self.templar.template(value))

    def _client(self):
        return VobizClient(
            auth_id=self._templated_option("auth_id"),
            auth_token=self._templated_option("auth_token"),
            api_url=self._templated_option("api_url"),
            validate_certs=self.get_option("validate_certs"),
            timeout=self.get_option("timeout"),
            retries=self.get_option("retries"),
            page_size=self.get_option("page_size"),
            max_concurrency=self.get_option("max_concurrency"),
            log=self.display.vvv,
            warn=self.display.warning,
        )

    # Fetch -----------------------------------------------------------------------------------

    def _fetch_records(self, path, cache):
        """The normalised endpoint records, from the inventory cache when it holds them, else from the API."""
        use_cache = bool(self.get_option("cache"))
        with self._client() as client:
            key = self._records_cache_key(path, client)
            if use_cache and cache:
                records = self._cached_records(key)
                if records is not None:
                    self.display.v("%s: %d endpoints of %s from the inventory cache (cache hit, 0 requests)"
                                   % (self.NAME, len(records), client.auth_id))
                    return records
            records = self._list_endpoints(client, ("miss" if cache else "refresh") if use_cache else "off")
        if use_cache:
            # A fresh listing (miss, expired, other format or --flush-cache) replaces the entry; a hit is never
            # rewritten, which would restart its cache_timeout.
            self._cache[key] = {"format": CACHE_FORMAT, "records": records}
        return records

    def _list_endpoints(self, client, cache_state):
        started = time.monotonic()
        records = client.list_endpoints(self._filters, resolve_applications=self.get_option("resolve_applications"))
        stats = client.stats
        self.display.v("%s: %d endpoints of %s from %s in %.2f s: %d requests, %d pages, concurrency %d, %d retries, cache %s"
                       % (self.NAME, len(records), client.auth_id, client.api_url, time.monotonic() - started,
                          stats["requests"], stats["pages"], client.max_concurrency, stats["retries"], cache_state))
        return records

    def _records_cache_key(self, path, client):
        """The plugin's per-file key plus a digest of what selects the endpoints (never the token)."""
        selection = json.dumps({
            "api_url": client.api_url,
            "auth_id": client.auth_id,
            "filters": self._filters,
            "resolve_applications": bool(self.get_option("resolve_applications")),
        }, sort_keys=True)
        return "%s_%s" % (self.get_cache_key(path), hashlib.sha256(selection.encode("utf-8")).hexdigest()[:16])

    def _cached_records(self, key):
        """The records of a cache entry of this format; None for a miss, an expired or a foreign entry."""
        try:
            entry = self._cache[key]
        except KeyError:
            return None
        if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT or not isinstance(entry.get("records"), list):
            return None
        records = entry["records"]
        if not all(isinstance(record, dict) and _RECORD_KEY_SET.issubset(record) for record in records):
            return None
        return records

    # Build -----------------------------------------------------------------------------------

    def _build_host(self, record) -> InventoryHost:
        """The host for one record; _populate() sets the group names that depend on the whole listing first."""
        endpoint_id = record["endpoint_id"]
        groups = []
        if "registration" in self._group_by:
            groups.append(self._group_prefix + ("registered" if record["sip_registered"] is True else "unregistered"))
        if "application" in self._group_by:
            groups.append(self._application_groups[record["application_id"]])
        if "sub_account" in self._group_by:
            groups.append(self._sub_account_group(record["sub_account"]))
        return InventoryHost(
            name=_unsafe_name(record[self._hostname_field] or endpoint_id),
            endpoint_id=_unsafe(endpoint_id),
            variables={variable: _unsafe(record[key]) for key, variable in self._variable_names},
            groups=groups,
        )

    def _application_group_names(self, records):
        """Group name per application id (None: no application), with the slug-clash rule applied."""
        slugs = {app_id: slugify(name or "") or _slug(app_id) for app_id, name in application_names(records).items()}
        # "none" is taken by the group of endpoints without an application.
        taken = {"none"}
        while True:
            counts = {}
            for slug in slugs.values():
                counts[slug] = counts.get(slug, 0) + 1
            clashing = [app_id for app_id, slug in slugs.items() if counts[slug] > 1 or slug in taken]
            if not clashing:
                break
            for app_id in clashing:
                slugs[app_id] = "%s_%s" % (slugs[app_id], _slug(app_id))
            taken = set()  # later rounds only settle names that still clash with each other
        # Group names are the prefix (checked to be an identifier) and a slug of a-z0-9_: nothing to template.
        groups = {app_id: "%sapp_%s" % (self._group_prefix, slug) for app_id, slug in slugs.items()}
        groups[None] = self._group_prefix + "app_none"
        return groups

    def _sub_account_group(self, auth_id):
        if auth_id is None:
            return self._group_prefix + "main_account"
        group = self._sub_account_groups.get(auth_id)
        if group is None:
            group = self._sub_account_groups[auth_id] = "%ssub_account_%s" % (self._group_prefix, _slug(auth_id))
        return group

    def _fixed_groups(self):
        """Groups that exist even when empty, so plays can target them without a no-match warning."""
        names = [self._group_prefix + "endpoints"]
        if "registration" in self._group_by:
            names += [self._group_prefix + "registered", self._group_prefix + "unregistered"]
        if "application" in self._group_by:
            names.append(self._group_prefix + "app_none")
        if "sub_account" in self._group_by:
            names.append(self._group_prefix + "main_account")
        return names

    def _build_hosts(self, records):
        self._application_groups = self._application_group_names(records) if "application" in self._group_by else {}
        self._sub_account_groups = {}
        hosts = []
        owners = {}
        for record in records:
            host = self._build_host(record)
            other = owners.setdefault(host["name"], host["endpoint_id"])
            if other != host["endpoint_id"]:
                raise AnsibleParserError(
                    "endpoints %s and %s both have the host name %r (hostname: %s). Set hostname to a field that is "
                    "unique on this account (endpoint_id always is), or filter one of them out"
                    % (other, host["endpoint_id"], str(host["name"]), self._hostname_field))
            hosts.append(host)
        return hosts

    # Populate --------------------------------------------------------------------------------

    def _populate(self, records):
        hosts = self._build_hosts(records)
        inventory = self.inventory
        endpoints_group, *other_fixed = self._fixed_groups()
        for group in [endpoints_group] + other_fixed:
            inventory.add_group(group)
        added = set(other_fixed)  # each group is added once, at its first host, not once per host
        constructed = self._constructed_options()
        for host in hosts:
            name = inventory.add_host(host["name"], group=endpoints_group)
            for group in host["groups"]:
                if group not in added:
                    inventory.add_group(group)
                    added.add(group)
                inventory.add_child(group, name)
            for variable, value in self._connection_vars.items():
                inventory.set_variable(name, variable, value)
            for variable, value in host["variables"].items():
                inventory.set_variable(name, variable, value)
            if constructed:
                self._construct(name, host["variables"], *constructed)

    def _constructed_options(self):
        """(compose, groups, keyed_groups, strict), or None when there is nothing to construct (skips per-host work)."""
        compose, groups, keyed_groups = self.get_option("compose"), self.get_option("groups"), self.get_option("keyed_groups")
        if not (compose or groups or keyed_groups):
            return None
        return compose, groups, keyed_groups, self.get_option("strict")

    def _construct(self, name, variables, compose, groups, keyed_groups, strict):
        # compose first, so that groups and keyed_groups see the composed variables
        self._set_composite_vars(compose, variables, name, strict=strict)
        self._add_host_to_composed_groups(groups, variables, name, strict=strict)
        self._add_host_to_keyed_groups(keyed_groups, variables, name, strict=strict)


def _unsafe_name(name):
    """A host name, marked unsafe only when it could be a template ('{' in it).

    Before 2.19 a wrapped name prints as {"__ansible_unsafe": ...} in `--list --export`, which AWX's inventory
    import cannot read (community.general#8212 settled on the same rule); from 2.19 on, _unsafe() costs nothing.
    """
    return _unsafe(name) if _PLAIN_STR_IS_UNSAFE or "{" in name else name


def _unsafe(value):
    """Mark API text unsafe (never templated). Records hold only text, booleans and None, so this skips
    wrap_var()'s container checks for the other values: it runs for every value of every host. On 2.19+ a
    plain str (what JSON gives) needs nothing, which saves wrap_var()'s ~1 µs per value."""
    if type(value) is str and _PLAIN_STR_IS_UNSAFE:  # pylint: disable=unidiomatic-typecheck  # a subclass may carry tags
        return value
    return wrap_var(value) if isinstance(value, str) else value


def _slug(text):
    """slugify(), or the hex of the text when it has no a-z0-9 at all (so that a name never vanishes)."""
    if text is None:
        return ""
    text = str(text)
    return slugify(text) or text.encode("utf-8").hex()
