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
  include_filters:
    description:
      - More listings, each with its own server-side filters (a mapping of the same keys as O(filters)). The
        hosts are the union of the listing of O(filters) and of each of these, every endpoint once.
      - As with C(amazon.aws.aws_ec2), when O(filters) is empty and this is not, only these listings are made
        (an empty O(filters) lists every endpoint, which would make them pointless).
      - Each entry costs one more listing (its pages). Keys are checked as for O(filters); an empty entry is an
        error.
    type: list
    elements: dict
    default: []
    version_added: 0.1.0
  exclude_filters:
    description:
      - Endpoints that match any of these entries (each a mapping of the same keys as O(filters), all of which
        must match) are left out.
      - Evaluated by the plugin on the listed records, with no extra request. Text filters compare
        case-sensitively and never match a null field, as the API's do.
      - Keys are checked as for O(filters); an empty entry is an error (it would leave out every endpoint).
    type: list
    elements: dict
    default: []
    version_added: 0.1.0
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
      - Two endpoints with the same name are an error that names both endpoint ids (see O(duplicate_hostnames));
        C(endpoint_id) is always unique.
      - The same as O(hostnames) with this one field. Use O(hostnames) for fallbacks and templates; setting both
        is an error.
    type: str
    choices: [username, endpoint_id, alias, sip_uri]
    default: username
  hostnames:
    description:
      - Ways to name an endpoint's host, in order; the first that gives a non-empty name wins, and
        C(endpoint_id) comes after the last, so every endpoint gets a name. When not set, O(hostname) applies.
      - Each entry is either the name of a field of the endpoint record (V(username), V(alias), V(sip_uri),
        V(endpoint_id), V(application_name), ... any key of the record, without O(hostvars_prefix)), or a Jinja
        template (an entry with C({{) or C({%)) over the endpoint's variables under their prefixed names, for
        example V({{ vobiz_username }}-{{ vobiz_sub_account | default('main', true\) | lower }}).
      - Templates see every field of the record, whatever O(hostvars_keys) keeps. A template that renders
        to nothing (an empty or blank text, or null) gives no name and the next entry is tried; a template that
        fails (an undefined variable, a bad filter) is an error naming the endpoint.
      - A name made by a template is API data like the fields it is made of, so it is marked unsafe and never
        templated again.
      - "Unlike C(amazon.aws.aws_ec2), entries are text only: a mapping such as V({name: tag:Name, prefix: x})
        is an error; write a template instead."
    type: list
    elements: str
    version_added: 0.1.0
  sanitize_hostnames:
    description:
      - Make every host name usable as it is in host patterns (C(--limit), C(hosts:)) and on a command line.
        Each run of characters other than ASCII letters, digits, C(.), C(_) and C(-) becomes one C(_), and
        C(_) is trimmed from both ends. That covers white space, C(,), C(:), C([), C(]), C(!), C(&), C(*),
        C(?), C(~), C(@), C({), C(}), quotes, C(/) and non-ASCII letters.
      - For example V(Alice Desk) becomes V(Alice_Desk) and V(sip:alice@registrar.vobiz.ai) becomes
        V(sip_alice_registrar.vobiz.ai). Only host names change; the host variables keep the API's text.
      - A name that is empty after this (V(受付)) counts as no name, so the next entry of O(hostnames), at last
        C(endpoint_id), names the host. Names that become equal are duplicates (see O(duplicate_hostnames)).
      - Off by default, so host names are the API's text, except that C(/), C(\), control characters and line
        separators always become C(_) and C(.)/C(..) become C(_)/C(__) (host names are file names to ansible-core).
    type: bool
    default: false
    version_added: 0.1.0
  duplicate_hostnames:
    description:
      - What happens when two endpoints get the same host name.
      - V(error) fails with a message naming both endpoint ids.
      - V(suffix) adds C(_<endpoint_id>) to the name of every endpoint that shares it (all of them, so names
        do not depend on the order of the listing). A suffixed name that still equals another host's name is an
        error.
    type: str
    choices: [error, suffix]
    default: error
    version_added: 0.1.0
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
  hostvars_keys:
    description:
      - Which keys of the endpoint record become host variables (each with O(hostvars_prefix)). When not set,
        every key does.
      - The plugin's groups, O(hostnames) templates, O(compose), O(groups) and O(keyed_groups) still see the
        whole record, so a group can rest on a field that is not kept as a variable.
      - Fewer variables make a large inventory smaller and faster to load and to use; see
        C(docs/performance.md) for what it saves.
      - An unknown key is an error naming the closest one.
    type: list
    elements: str
    version_added: 0.1.0
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
        share a slug (or an application's slug is C(none)), C(_<application id>) is added to each of them;
        applications whose ids slugify alike too (C(A-1) and C(a_1)) are then numbered C(_1), C(_2), ... in
        application id order.
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
    made of the inventory file path, O(api_url), O(auth_id), O(filters), O(include_filters),
    O(exclude_filters) and O(resolve_applications): another account or filter never gets these endpoints. A
    cache hit makes no HTTP request and is not rewritten; C(--flush-cache) or C(meta: refresh_inventory) lists
    the endpoints again and replaces the entry."
  - An option this plugin does not know (a typo such as C(filter) for O(filters)) is an error naming the
    closest valid option, including the options of the constructed and inventory cache features.
  - With C(-v) the plugin prints one line per listing (endpoints, requests, pages, concurrency, retries,
    seconds, cache hit or miss), and a progress line every 5 seconds while a listing takes longer than that;
    with C(-vvv) one line per HTTP request. The token is never printed.
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
# then run with --ask-vault-pass or --vault-password-file. (The value below is the bundled simulator's demo
# token, vaulted with the password vobiz-example-vault-password: to try this example against `make simulator`,
# write the simulator's account, MA_DEMO0001, as auth_id.)
plugin: vobiz.sip.endpoints
auth_id: MA_XXXXXXXX
auth_token: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  61613830383436616661643163393861386637616334313134393266653431353634373061653565
  3030656362626233313561633636343938363833346234650a373462613432633933323930333038
  30343633386435353932623330643232373066623732323535623762393139383662316537353337
  3238653437383333370a616337363361373336613334376565356561656634363331333031326332
  62323237393666303234323436356466316431656436626663323564396133646665

---
# Only some endpoints, filtered by the API: those of one sub-account that have an application.
plugin: vobiz.sip.endpoints
filters:
  sub_account: SA_BRANCH01
  application_id__isnull: false

---
# As with amazon.aws.aws_ec2: the endpoints of sub-account SA_BRANCH01, plus (a second listing) every endpoint
# whose username starts with "zoe", less (evaluated here, no request) the endpoints without an application.
plugin: vobiz.sip.endpoints
filters:
  sub_account: SA_BRANCH01
include_filters:
  - username__startswith: zoe
exclude_filters:
  - application_id__isnull: true

---
# Hosts named by alias, else by username and sub-account (endpoint_id comes last); names made safe for
# --limit ("Alice Desk" becomes Alice_Desk), and endpoints that share an alias get their endpoint_id added.
plugin: vobiz.sip.endpoints
hostnames:
  - alias
  - "{{ vobiz_username }}-{{ vobiz_sub_account | default('main', true) | lower }}"
sanitize_hostnames: true
duplicate_hostnames: suffix

---
# Other prefixes and only the registration groups: desk_registered, desk_unregistered, desk_endpoints;
# and only four host variables per endpoint (groups still come from the whole record).
plugin: vobiz.sip.endpoints
hostname: endpoint_id
hostvars_prefix: sip_
group_prefix: desk_
group_by: [registration]
hostvars_keys: [username, alias, sip_registered, application_name]

---
# Constructed features: compose runs first, so groups and keyed_groups can use the composed variables.
# Record keys are always present, null when the API gave nothing: test for true (| default(false) keeps null).
plugin: vobiz.sip.endpoints
strict: true
compose:
  phone_label: vobiz_alias | default(vobiz_username, true)
  ansible_connection: "'local'"
groups:
  video_phones: vobiz_allow_video is true
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
import os
import re
import stat
import time
import typing as t

from collections.abc import Mapping

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.cache import BaseFileCacheModule
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.plugins.loader import cache_loader
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vobiz.sip.plugins.module_utils.api import VobizClient, VobizError, validate_filters
from ansible_collections.vobiz.sip.plugins.module_utils.applications import application_names
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS, matches_filters, slugify
from ansible_collections.vobiz.sip.plugins.module_utils.values import describe_value
from ansible_collections.vobiz.sip.plugins.plugin_utils.names import closest_name

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
# What sanitize_hostnames replaces: everything but what host patterns and shells take literally.
_PATTERN_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# What no host name may hold, whatever sanitize_hostnames says: ansible-core uses host names as file names (a
# jsonfile fact cache writes <folder>/<host name>) and as one line of output. Path separators, control
# characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_FILE_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# The two names a file system gives a meaning of its own.
_DOT_NAMES = {".": "_", "..": "__"}


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
        config = self._read_config_data(path)
        self._check_option_names(config, path)
        self._config_keys = frozenset(config)
        try:
            self._read_settings()
            records = self._fetch_records(path, cache)
        except VobizError as exc:
            raise AnsibleParserError(to_native(exc)) from None
        self._populate(records)

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        # ansible-core makes the cache plugin right after this, and a file cache plugin makes its folder with the
        # umask's mode (0755) and writes its files 0644: the folder must be private before that.
        if self.get_option("cache"):
            folder = _file_cache_folder(self.get_option("cache_plugin"), self.get_option("cache_connection"))
            if folder:
                _private_cache_folder(folder, self.display.warning)

    # Options ---------------------------------------------------------------------------------

    def _check_option_names(self, config, path):
        """Ansible ignores keys of an inventory config that name no option; a typo must not change the inventory silently."""
        known = sorted(self._options)  # every documented option, the constructed and cache fragments' included
        unknown = [name for name in config if name not in self._options]
        if unknown:
            raise AnsibleParserError("; ".join(
                "unknown option %r in %s; %s" % (str(name), os.path.basename(path), _did_you_mean(name, known, "valid options"))
                for name in unknown))

    def _read_settings(self):
        """Check the plugin's own options once (Ansible checks their choices); the per-host code reads these attributes."""
        self._hostname_field = self.get_option("hostname")
        self._hostname_rules = self._hostnames_option()
        self._sanitize_hostnames = bool(self.get_option("sanitize_hostnames"))
        self._duplicate_hostnames = self.get_option("duplicate_hostnames")
        self._group_by = frozenset(self.get_option("group_by") or ())
        self._hostvars_prefix = self._identifier_option("hostvars_prefix")
        self._group_prefix = self._identifier_option("group_prefix")
        self._filters = validate_filters(self.get_option("filters"))
        self._include_filters = self._filter_list_option("include_filters")
        self._exclude_filters = self._filter_list_option("exclude_filters")
        # Configuration, not API data: trusted, so that "{{ ansible_playbook_python }}" is rendered in plays.
        self._connection_vars = {name: trust_as_template(value) if isinstance(value, str) else value
                                 for name, value in (self.get_option("connection_vars") or {}).items()}
        self._all_variable_names = tuple((key, self._hostvars_prefix + key) for key in RECORD_KEYS)
        kept = self._hostvars_keys_option()
        self._variable_names = tuple(item for item in self._all_variable_names if item[0] in kept)

    def _hostnames_option(self):
        """hostnames (or hostname) as (field, None) and (None, template) rules, checked before any request."""
        hostnames = self.get_option("hostnames")
        if hostnames is None:
            return ((self._hostname_field, None),)
        if "hostname" in self._config_keys:
            raise VobizError("set hostname or hostnames, not both: hostname: %s is hostnames: [%s]"
                             % (self._hostname_field, self._hostname_field))
        rules = []
        for index, entry in enumerate(hostnames):
            where = "hostnames[%d]" % index
            if not isinstance(entry, str):
                raise VobizError("%s must be a field of the endpoint record or a Jinja template, got %s; "
                                 "aws_ec2-style mappings (name, prefix, separator) are not supported: write a template "
                                 "such as \"{{ vobiz_alias }}-{{ vobiz_username }}\"" % (where, describe_value(entry)))
            if entry in _RECORD_KEY_SET:
                rules.append((entry, None))
            elif "{{" in entry or "{%" in entry:
                rules.append((None, trust_as_template(entry)))  # configuration: rendered, unlike API data
            else:
                field = entry[len(self.get_option("hostvars_prefix") or ""):]
                hint = ("did you mean %r? Fields are named without hostvars_prefix" % field if field in _RECORD_KEY_SET
                        else _did_you_mean(entry, RECORD_KEYS, "fields"))
                raise VobizError("%s %r is neither a field of the endpoint record nor a template ({{ ... }}); %s"
                                 % (where, entry, hint))
        return tuple(rules)

    def _filter_list_option(self, name):
        """include_filters / exclude_filters: a list of mappings, each checked as filters is."""
        value = self.get_option(name) or []
        if not isinstance(value, list):
            raise VobizError("%s must be a list of mappings of filter name to value, got %s" % (name, describe_value(value)))
        queries = []
        for index, entry in enumerate(value):
            where = "%s[%d]" % (name, index)
            if not isinstance(entry, Mapping):
                raise VobizError("%s must be a mapping of filter name to value, got %s" % (where, describe_value(entry)))
            query = validate_filters(entry, option=where)
            if not query:
                raise VobizError("%s is empty: it would match every endpoint. Give it at least one filter key" % where)
            queries.append(query)
        return queries

    def _hostvars_keys_option(self):
        keys = self.get_option("hostvars_keys")
        if keys is None:
            return _RECORD_KEY_SET
        for key in keys:
            if not isinstance(key, str) or key not in _RECORD_KEY_SET:
                raise VobizError("unknown record key %r in hostvars_keys; %s"
                                 % (str(key), _did_you_mean(key, RECORD_KEYS, "keys")))
        return frozenset(keys)

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
            listing_timeout=self.get_option("listing_timeout"),
            log=self.display.vvv,
            progress=self.display.v,
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
        records = self._selected_endpoints(client)
        stats = client.stats
        self.display.v("%s: %d endpoints of %s from %s in %.2f s: %d requests, %d pages, concurrency %d, %d retries, cache %s"
                       % (self.NAME, len(records), client.auth_id, client.api_url, time.monotonic() - started,
                          stats["requests"], stats["pages"], client.max_concurrency, stats["retries"], cache_state))
        return records

    def _selected_endpoints(self, client):
        """The listing of filters, unioned with each include_filters listing, less what exclude_filters match (aws_ec2's way)."""
        resolve_applications = self.get_option("resolve_applications")
        if not self._include_filters:
            records = client.list_endpoints(self._filters, resolve_applications=resolve_applications)
        else:
            records = []
            seen = set()
            for query in ([self._filters] if self._filters else []) + self._include_filters:
                for record in client.list_endpoints(query):
                    if record["endpoint_id"] not in seen:
                        seen.add(record["endpoint_id"])
                        records.append(record)
            if resolve_applications:
                client.fill_application_names(records)  # one Application listing for all of them
        if self._exclude_filters:
            records = [record for record in records
                       if not any(matches_filters(record, query) for query in self._exclude_filters)]
        return records

    def _records_cache_key(self, path, client):
        """The plugin's per-file key plus a digest of what selects the endpoints (never the token)."""
        selection = {
            "api_url": client.api_url,
            "auth_id": client.auth_id,
            "filters": self._filters,
            "resolve_applications": bool(self.get_option("resolve_applications")),
        }
        # Only when set, so that the entries of configurations without them keep their keys.
        if self._include_filters:
            selection["include_filters"] = self._include_filters
        if self._exclude_filters:
            selection["exclude_filters"] = self._exclude_filters
        selection = json.dumps(selection, sort_keys=True)
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
            name=_unsafe_name(self._host_name(record)),
            endpoint_id=_unsafe(endpoint_id),
            variables={variable: _unsafe(record[key]) for key, variable in self._variable_names},
            groups=groups,
        )

    def _host_name(self, record):
        """The first non-empty name the hostnames rules give, else the endpoint_id."""
        for field, template in self._hostname_rules:
            if field is not None:
                name = record[field]
                name = None if name is None else str(name)
            else:
                name = self._rendered_name(template, record)
            if name and self._sanitize_hostnames:
                name = _pattern_safe(name)
            if name:
                return _file_safe(name)
        return _file_safe(self._id_name(record["endpoint_id"]))

    def _id_name(self, endpoint_id):
        """The endpoint_id as (part of) a host name: sanitized when sanitize_hostnames says so, never empty."""
        return (_pattern_safe(endpoint_id) or endpoint_id) if self._sanitize_hostnames else endpoint_id

    def _rendered_name(self, template, record):
        """A hostnames template rendered over the record's variables; None when it gives nothing."""
        self.templar.available_variables = self._all_variables(record)
        try:
            name = self.templar.template(template)
        except Exception as exc:  # pylint: disable=broad-except  # any template failure: one message naming the endpoint
            raise AnsibleParserError("hostnames template %s failed for endpoint %s: %s"
                                     % (str(template), record["endpoint_id"], to_native(exc))) from None
        if name is None:
            return None
        # A plain copy: the name is data (made of API text), never a template, whatever the engine tagged it.
        name = str.__str__(name) if isinstance(name, str) else str(name)
        return name if name.strip() else None

    def _all_variables(self, record):
        """Every record key as a prefixed, unsafe variable: what templates and constructed see, whatever hostvars_keys keeps."""
        return {variable: _unsafe(record[key]) for key, variable in self._all_variable_names}

    def _application_group_names(self, records):
        """Group name per application id (None: no application), with the slug-clash rule applied."""
        slugs = _settle_slug_clashes({app_id: slugify(name or "") or _slug(app_id) for app_id, name in application_names(records).items()})
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
        hosts = [self._build_host(record) for record in records]
        if self._duplicate_hostnames == "suffix":
            self._suffix_duplicate_names(hosts)
        owners = {}
        for host in hosts:
            other = owners.setdefault(host["name"], host["endpoint_id"])
            if other != host["endpoint_id"]:
                raise AnsibleParserError(
                    "endpoints %s and %s both have the host name %r (%s). %s"
                    % (other, host["endpoint_id"], str(host["name"]), self._naming_description(), self._duplicate_fix()))
        return hosts

    def _suffix_duplicate_names(self, hosts):
        """duplicate_hostnames: suffix. Every host of a shared name gets _<endpoint_id>, so no order decides who keeps it."""
        counts = {}
        for host in hosts:
            counts[host["name"]] = counts.get(host["name"], 0) + 1
        for host in hosts:
            if counts[host["name"]] > 1:
                host["name"] = _unsafe_name(_file_safe("%s_%s" % (str(host["name"]), self._id_name(str(host["endpoint_id"])))))

    def _naming_description(self):
        if "hostnames" in self._config_keys:
            return "hostnames: [%s]" % ", ".join(str(field or template) for field, template in self._hostname_rules)
        return "hostname: %s" % self._hostname_field

    def _duplicate_fix(self):
        if self._duplicate_hostnames == "suffix":
            return ("They clash even with their endpoint_id added (duplicate_hostnames: suffix): name the hosts another "
                    "way (endpoint_id is always unique)")
        return ("Set hostname to a field that is unique on this account (endpoint_id always is), or filter one of them "
                "out, or set duplicate_hostnames: suffix to add the endpoint_id to each")

    # Populate --------------------------------------------------------------------------------

    def _populate(self, records):
        hosts = self._build_hosts(records)
        all_variables = len(self._variable_names) == len(self._all_variable_names)
        inventory = self.inventory
        endpoints_group, *other_fixed = self._fixed_groups()
        for group in [endpoints_group] + other_fixed:
            inventory.add_group(group)
        added = set(other_fixed)  # each group is added once, at its first host, not once per host
        constructed = self._constructed_options()
        for record, host in zip(records, hosts):
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
                # constructed sees the whole record, whatever hostvars_keys keeps on the host
                self._construct(name, host["variables"] if all_variables else self._all_variables(record), *constructed)

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


def _did_you_mean(name, known, what):
    """'did you mean X?' for the closest of `known`, else the list of them all (`what` names that list)."""
    close = closest_name(name, known, cutoff=0.6)
    if close:
        return "did you mean %r?" % close
    return "%s: %s" % (what, ", ".join(known))


def _file_cache_folder(plugin_name, connection):
    """The folder a file cache plugin (jsonfile, yaml, pickle...) would write into, as it reads cache_connection;
    None for other cache plugins (memory, redis...), where cache_connection is no folder."""
    # get_with_context(): the class itself (2.19's get() wraps cache plugins in a proxy), None when unknown
    plugin = cache_loader.get_with_context(plugin_name, class_only=True).object if plugin_name and connection else None
    if not isinstance(plugin, type) or not issubclass(plugin, BaseFileCacheModule):
        return None
    return os.path.expanduser(os.path.expandvars(str(connection)))


def _private_cache_folder(folder, warn):
    """Create the cache folder 0700; warn (ansible-core shows a warning once) when it exists and others can read it.

    ansible-core writes each cache file 0644: inside a 0700 folder no other user reaches them, whatever their mode.
    """
    try:
        os.makedirs(folder, mode=0o700)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        if mode & 0o077:
            warn("the inventory cache folder %s can be read by other users (mode %04o), and its files hold the username, alias "
                 "and SIP contact of every endpoint. Make it private: chmod 700 %s" % (folder, mode, folder))
        return
    except OSError as exc:
        raise AnsibleParserError("cannot create the inventory cache folder %s (cache_connection): %s. Set cache_connection "
                                 "to a folder you can write" % (folder, exc.strerror or exc)) from None
    os.chmod(folder, 0o700)  # makedirs() applies the umask too, which may take more than group and other bits


def _pattern_safe(name):
    """sanitize_hostnames: each run of characters host patterns or shells treat specially becomes one _."""
    return _PATTERN_UNSAFE.sub("_", name).strip("_")


def _file_safe(name):
    """Every host name: each run of /, \\, control characters or line separators becomes one _, and . or .. becomes
    _ or __, so that a name is one file name and one line wherever ansible-core puts it."""
    return _DOT_NAMES.get(name) or _FILE_UNSAFE.sub("_", name)


def _settle_slug_clashes(slugs):
    """{app_id: slug} with every slug unique and none 'none' (taken by app_none); always ends.

    The contract's rule first: where slugs clash, each gets _<slug of its app id>, round after round while that
    settles something (three-way clashes need two rounds). Ids that slugify alike (A-1 and a_1) never part that
    way, so what still clashes then is numbered in app id order: _1, _2, ... skipping names in use.
    """
    slugs = dict(slugs)
    taken = {"none"}
    previous = None
    for _round in range(len(slugs) + 1):
        clashing = _clashing(slugs, taken)
        if not clashing or clashing == previous:
            break
        for app_id in clashing:
            slugs[app_id] = "%s_%s" % (slugs[app_id], _slug(app_id))
        previous = clashing
        taken = set()  # later rounds only settle names that still clash with each other
    clashing = _clashing(slugs, taken)
    if clashing:
        in_use = {slug for app_id, slug in slugs.items() if app_id not in clashing} | {"none"}
        for app_id in sorted(clashing, key=lambda app_id: (slugs[app_id], app_id)):
            number = 1
            while "%s_%d" % (slugs[app_id], number) in in_use:
                number += 1
            slugs[app_id] = "%s_%d" % (slugs[app_id], number)
            in_use.add(slugs[app_id])
    return slugs


def _clashing(slugs, taken):
    """The app ids whose slug another app id has too, or that is in `taken`."""
    counts = {}
    for slug in slugs.values():
        counts[slug] = counts.get(slug, 0) + 1
    return frozenset(app_id for app_id, slug in slugs.items() if counts[slug] > 1 or slug in taken)


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
