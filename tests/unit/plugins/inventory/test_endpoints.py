# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vobiz.sip.endpoints inventory plugin on a real InventoryData, with the API listing replaced by records.

The plugin is loaded through Ansible's inventory_loader (so its documented options exist) and parses a real
config file; only VobizClient.list_endpoints is swapped for canned normalised records.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import sys

import pytest
import yaml

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import Templar
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import AnsibleUnsafe

from ansible_collections.vobiz.sip.plugins.inventory import endpoints as endpoints_plugin
from ansible_collections.vobiz.sip.plugins.module_utils import api
from ansible_collections.vobiz.sip.plugins.module_utils.records import RECORD_KEYS, normalize_endpoint

try:  # ansible-core 2.19+: "unsafe" means "not trusted as a template"
    from ansible.template import is_trusted_as_template, trust_as_template
except ImportError:  # older: unsafe values are AnsibleUnsafe instances, every other string is a template
    is_trusted_as_template = None

    def trust_as_template(value):
        return value

AUTH_ID = "MA_UNIT0001"
TOKEN = "tok-unit-3c9f-very-secret"
JINJA_ALIAS = "{{ lookup('pipe', 'id') }}"
FRONT_DESK, FRONT_DESK_2, PARIS, QUOTED, JINJA_APP, KANJI, NAMELESS, NONE_APP = (
    "20000000000000%03d" % number for number in range(1, 9))


def endpoint(endpoint_id, username, alias=None, registered="false", app_id=None, app_name=None, sub_account=None):
    raw = {
        "endpoint_id": endpoint_id,
        "username": username,
        "alias": alias,
        "sip_uri": "sip:%s@registrar.vobiz.ai" % username if username else None,
        "sip_registered": registered,
        "application": {"app_id": app_id, "app_name": app_name} if app_id else None,
        "sub_account": sub_account,
        "resource_uri": "/v1/Account/%s/Endpoint/%s/" % (AUTH_ID, endpoint_id),
    }
    return normalize_endpoint(raw)


RECORDS = [
    endpoint("100000000000001", "alice", "Alice Desk", "true", FRONT_DESK, "Front Desk"),
    endpoint("100000000000002", "bob", "Bob Desk", "false", FRONT_DESK_2, "front-desk"),
    endpoint("100000000000003", "carol", JINJA_ALIAS, "true", PARIS, "Réception – Paris", "SA_BRANCH01"),
    endpoint("100000000000004", "dave", None, None, QUOTED, 'Sales "EU" & \'APAC\''),
    endpoint("100000000000005", "erin", "Erin Mobile", "false", JINJA_APP, "{{ lookup('pipe', 'id') }}"),
    endpoint("100000000000006", "frank", "Frank Kiosk", "true", KANJI, "受付"),
    endpoint("100000000000007", "grace", "Grace Lab", "false", NAMELESS, None, "SA_LAB0002"),
    endpoint("100000000000008", "heidi", "Heidi Softphone", "true", NONE_APP, "None"),
    endpoint("100000000000009", "ivan", "Ivan Phone", "false"),
]


class FakeClient(api.VobizClient):
    """The real client (option checks, key normalisation) whose listing returns RECORDS instead of paging."""

    records = RECORDS
    calls = []

    def list_endpoints(self, filters=None, resolve_applications=False):
        FakeClient.calls.append({"filters": filters, "resolve_applications": resolve_applications,
                                 "api_url": self.api_url, "auth_id": self.auth_id})
        self.stats["requests"] += 1
        return copy.deepcopy(FakeClient.records)

    def fill_application_names(self, records):
        return records  # RECORDS carry their application names already


@pytest.fixture(autouse=True)
def fake_api(monkeypatch):
    for name in list(os.environ):
        if name.startswith("VOBIZ_"):
            monkeypatch.delenv(name)
    module = sys.modules[type(inventory_loader.get("vobiz.sip.endpoints")).__module__]
    monkeypatch.setattr(module, "VobizClient", FakeClient)
    monkeypatch.setattr(FakeClient, "records", RECORDS)
    monkeypatch.setattr(FakeClient, "calls", [])
    return module


def parse(tmp_path, refresh=False, name="unit.vobiz.yml", **options):
    """Parse a config of these options like ansible-inventory does (refresh: --flush-cache); returns (inventory, plugin)."""
    config = {"plugin": "vobiz.sip.endpoints", "auth_id": AUTH_ID, "auth_token": TOKEN, "api_url": "https://api.example.test"}
    config.update(options)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    inventory = InventoryData()
    plugin = inventory_loader.get("vobiz.sip.endpoints")
    plugin.parse(inventory, DataLoader(), str(path), cache=not refresh)
    if config.get("cache"):
        plugin.update_cache_if_changed()  # what the InventoryManager does after parse()
    return inventory, plugin


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


def plugin_groups(inventory):
    return sorted(set(inventory.groups) - {"all", "ungrouped"})


def is_unsafe(value):
    if is_trusted_as_template is not None:
        return not is_trusted_as_template(value)
    return isinstance(value, AnsibleUnsafe)


def render(inventory, host, template):
    """What a play would see for `template` on `host` (host vars only)."""
    variables = inventory.get_host(host).get_vars()
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))


# verify_file ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, accepted", [("prod.vobiz.yml", True), ("vobiz.yaml", True), ("x_vobiz.yml", True),
                                            ("prod.yml", False), ("vobiz.yml.bak", False), ("hosts", False)])
def test_verify_file_accepts_only_vobiz_yml_and_yaml(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: vobiz.sip.endpoints\n")
    assert inventory_loader.get("vobiz.sip.endpoints").verify_file(str(path)) is accepted


def test_verify_file_rejects_a_missing_file(tmp_path):
    assert not inventory_loader.get("vobiz.sip.endpoints").verify_file(str(tmp_path / "absent.vobiz.yml"))


# Groups --------------------------------------------------------------------------------------

def test_default_groups_are_named_exactly_by_the_slug_rules(tmp_path):
    inventory, _plugin = parse(tmp_path)
    assert plugin_groups(inventory) == sorted([
        "vobiz_endpoints", "vobiz_registered", "vobiz_unregistered",
        "vobiz_app_front_desk_%s" % FRONT_DESK, "vobiz_app_front_desk_%s" % FRONT_DESK_2,  # slug clash
        "vobiz_app_r_ception_paris",  # non-ASCII runs become _
        "vobiz_app_sales_eu_apac",  # quotes and & are runs too
        "vobiz_app_lookup_pipe_id",  # jinja-looking name: only its letters survive
        "vobiz_app_%s" % KANJI,  # a name without a-z0-9 is named by the application id
        "vobiz_app_%s" % NAMELESS,  # unknown name: the application id
        "vobiz_app_none_%s" % NONE_APP,  # an application called "None" does not join app_none
        "vobiz_app_none",
        "vobiz_sub_account_sa_branch01", "vobiz_sub_account_sa_lab0002", "vobiz_main_account",
    ])
    assert members(inventory, "vobiz_app_front_desk_%s" % FRONT_DESK) == ["alice"]
    assert members(inventory, "vobiz_app_front_desk_%s" % FRONT_DESK_2) == ["bob"]
    assert members(inventory, "vobiz_app_none") == ["ivan"]
    assert members(inventory, "vobiz_app_none_%s" % NONE_APP) == ["heidi"]
    assert members(inventory, "vobiz_endpoints") == sorted(record["username"] for record in RECORDS)
    assert members(inventory, "vobiz_sub_account_sa_branch01") == ["carol"]
    assert "carol" not in members(inventory, "vobiz_main_account") and "alice" in members(inventory, "vobiz_main_account")


def test_registered_true_only_null_counts_as_unregistered(tmp_path):
    inventory, _plugin = parse(tmp_path)
    assert members(inventory, "vobiz_registered") == ["alice", "carol", "frank", "heidi"]
    assert "dave" in members(inventory, "vobiz_unregistered")  # sip_registered null
    assert inventory.get_host("dave").vars["vobiz_sip_registered"] is None


def test_three_way_slug_clash_settles_to_unique_names(tmp_path):
    FakeClient.records = [
        endpoint("100000000000001", "a1", app_id="1", app_name="Queue"),
        endpoint("100000000000002", "a2", app_id="2", app_name="queue!"),
        endpoint("100000000000003", "a3", app_id="3", app_name="Queue 1"),  # its slug is what "Queue" becomes
    ]
    inventory, _plugin = parse(tmp_path, group_by=["application"])
    groups = {host: [group.name for group in inventory.get_host(host).groups if group.name.startswith("vobiz_app_")]
              for host in ("a1", "a2", "a3")}
    assert len({tuple(names) for names in groups.values()}) == 3
    assert groups["a2"] == ["vobiz_app_queue_2"]


@pytest.mark.parametrize("group_by, expected", [
    ([], ["vobiz_endpoints"]),
    (["registration"], ["vobiz_endpoints", "vobiz_registered", "vobiz_unregistered"]),
    (["sub_account"], ["vobiz_endpoints", "vobiz_main_account", "vobiz_sub_account_sa_branch01", "vobiz_sub_account_sa_lab0002"]),
])
def test_group_by_makes_only_the_listed_families(tmp_path, group_by, expected):
    inventory, _plugin = parse(tmp_path, group_by=group_by)
    assert plugin_groups(inventory) == expected


def test_fixed_groups_exist_even_when_empty(tmp_path):
    FakeClient.records = [RECORDS[0]]
    inventory, _plugin = parse(tmp_path)
    for group in ("vobiz_unregistered", "vobiz_app_none"):
        assert group in inventory.groups and members(inventory, group) == []


def test_prefixes(tmp_path):
    inventory, _plugin = parse(tmp_path, hostvars_prefix="sip_", group_prefix="")
    assert {"endpoints", "registered", "app_front_desk_%s" % FRONT_DESK, "sub_account_sa_branch01", "main_account"} <= set(inventory.groups)
    assert not any(group.startswith("vobiz_") for group in inventory.groups)
    host_vars = inventory.get_host("alice").vars
    assert {"sip_" + key for key in RECORD_KEYS} <= set(host_vars)
    assert host_vars["sip_username"] == "alice" and "vobiz_username" not in host_vars


@pytest.mark.parametrize("option", ["hostvars_prefix", "group_prefix"])
@pytest.mark.parametrize("value", ["my-", "1st_", "a b"])
def test_prefix_that_is_not_an_identifier_is_an_error(tmp_path, option, value):
    with pytest.raises(AnsibleParserError, match=option):
        parse(tmp_path, **{option: value})


# Hosts ---------------------------------------------------------------------------------------

def test_host_vars_are_every_record_key_prefixed(tmp_path):
    inventory, _plugin = parse(tmp_path)
    host_vars = inventory.get_host("carol").vars
    assert {key: host_vars["vobiz_" + key] for key in RECORD_KEYS} == dict(RECORDS[2])
    assert host_vars["vobiz_application_name"] == "Réception – Paris"


def test_connection_defaults_are_host_vars(tmp_path):
    inventory, _plugin = parse(tmp_path)
    host_vars = inventory.get_host("alice").vars
    assert host_vars["ansible_connection"] == "local"
    assert host_vars["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    if is_trusted_as_template is not None:  # configuration, not API data: it must be rendered in plays
        assert is_trusted_as_template(host_vars["ansible_python_interpreter"])
    assert inventory.groups["vobiz_endpoints"].get_vars() == {}


@pytest.mark.parametrize("connection_vars", [{}, {"ansible_connection": "ssh", "ansible_user": "provisioner"}])
def test_connection_vars_replace_the_default(tmp_path, connection_vars):
    inventory, _plugin = parse(tmp_path, connection_vars=connection_vars)
    host_vars = inventory.get_host("alice").vars
    assert {name: value for name, value in host_vars.items() if name.startswith("ansible_")} == connection_vars


def test_compose_overrides_connection_vars(tmp_path):
    inventory, _plugin = parse(tmp_path, compose={"ansible_connection": "'ssh'"})
    assert inventory.get_host("alice").vars["ansible_connection"] == "ssh"


@pytest.mark.parametrize("field", ["username", "endpoint_id", "alias", "sip_uri"])
def test_hostname_choices(tmp_path, field):
    inventory, _plugin = parse(tmp_path, hostname=field)
    names = set(inventory.hosts)
    assert len(names) == len(RECORDS)
    assert {record[field] or record["endpoint_id"] for record in RECORDS} == names


def test_hostname_falls_back_to_endpoint_id_when_the_field_is_null(tmp_path):
    inventory, _plugin = parse(tmp_path, hostname="alias")
    assert "100000000000004" in inventory.hosts  # dave has no alias
    assert inventory.get_host("100000000000004").vars["vobiz_username"] == "dave"
    assert JINJA_ALIAS in inventory.hosts


def test_duplicate_hostname_names_both_endpoint_ids(tmp_path):
    FakeClient.records = RECORDS + [endpoint("100000000000099", "zed", "Alice Desk")]
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, hostname="alias")
    message = str(error.value)
    assert "100000000000001" in message and "100000000000099" in message and "Alice Desk" in message
    assert "hostname" in message


def test_bad_hostname_choice_is_an_error(tmp_path):
    with pytest.raises(Exception, match="hostname"):
        parse(tmp_path, hostname="mac_address")


# Unsafe --------------------------------------------------------------------------------------

def trusted_records():
    """RECORDS with every string marked as a trusted template (2.19+), as a careless source might hand them over."""
    return [{key: trust_as_template(value) if isinstance(value, str) else value for key, value in record.items()}
            for record in RECORDS]


def test_every_api_value_and_host_name_is_unsafe(tmp_path):
    FakeClient.records = trusted_records()
    inventory, _plugin = parse(tmp_path)
    api_strings = [value for host in inventory.hosts.values() for key, value in host.vars.items()
                   if key.startswith("vobiz_") and isinstance(value, str)]
    assert len(api_strings) > 30
    assert all(is_unsafe(value) for value in api_strings)
    # Before 2.19 a host name is wrapped only when it could be a template (AWX cannot import wrapped names).
    assert all(is_unsafe(name) or "{" not in name for name in inventory.hosts)


@pytest.mark.parametrize("name", ["{{ lookup('pipe', 'id') }}", "{% raw %}x", "a{#b"])
def test_host_names_that_could_be_templates_are_unsafe(name):
    assert is_unsafe(endpoints_plugin._unsafe_name(trust_as_template(name)))  # pylint: disable=protected-access


def test_group_names_from_api_text_cannot_be_templates(tmp_path):
    FakeClient.records = trusted_records()
    _inventory, plugin = parse(tmp_path)
    from_api = [group for host in plugin._build_hosts(FakeClient.records) for group in host["groups"]
                if group.startswith(("vobiz_app_", "vobiz_sub_account_")) and group != "vobiz_app_none"]
    assert len(from_api) == 10  # 8 endpoints with an application, 2 in sub-accounts
    assert all(re.fullmatch(r"vobiz_[a-z0-9_]+", group) for group in from_api)


def test_jinja_in_api_data_is_never_templated(tmp_path):
    FakeClient.records = trusted_records()
    inventory, _plugin = parse(tmp_path)
    assert render(inventory, "carol", "{{ vobiz_alias }}") == JINJA_ALIAS
    assert render(inventory, "erin", "{{ vobiz_application_name }}") == "{{ lookup('pipe', 'id') }}"


# Constructed ---------------------------------------------------------------------------------

def test_compose_runs_before_groups_and_keyed_groups(tmp_path):
    inventory, _plugin = parse(tmp_path, strict=True, compose={"phone": "vobiz_username | upper"},
                               groups={"desk_phones": "'Desk' in (vobiz_alias | default('', true))", "loud": "phone == 'ALICE'"},
                               keyed_groups=[{"key": "phone", "prefix": "kg"}])
    assert inventory.get_host("alice").vars["phone"] == "ALICE"
    assert members(inventory, "kg_ALICE") == ["alice"]
    assert members(inventory, "loud") == ["alice"]
    assert members(inventory, "desk_phones") == ["alice", "bob"]


def test_constructed_work_is_skipped_when_nothing_is_configured(tmp_path, fake_api, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("constructed helpers ran without compose/groups/keyed_groups")

    for helper in ("_set_composite_vars", "_add_host_to_composed_groups", "_add_host_to_keyed_groups"):
        monkeypatch.setattr(fake_api.InventoryModule, helper, fail)
    inventory, _plugin = parse(tmp_path)
    assert len(inventory.hosts) == len(RECORDS)


# Options and errors --------------------------------------------------------------------------

def test_filters_and_resolve_applications_reach_the_client(tmp_path):
    parse(tmp_path, filters={"username__startswith": "a", "application_id__isnull": False}, resolve_applications=False)
    assert FakeClient.calls == [{"filters": {"username__startswith": "a", "application_id__isnull": "false"},
                                 "resolve_applications": False, "api_url": "https://api.example.test", "auth_id": AUTH_ID}]


def test_unknown_filter_key_is_an_error_listing_the_valid_ones(tmp_path):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, filters={"usernam__exact": "x"})
    assert "usernam__exact" in str(error.value) and "username__startswith" in str(error.value)
    assert FakeClient.calls == []


@pytest.mark.parametrize("option, value", [("page_size", 0), ("max_concurrency", 64), ("api_url", "ftp://x")])
def test_bad_connection_option_is_an_error(tmp_path, option, value):
    with pytest.raises(AnsibleParserError, match=option):
        parse(tmp_path, **{option: value})


def test_missing_requests_library_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "HAS_REQUESTS", False)
    with pytest.raises(AnsibleParserError, match="pip install requests"):
        parse(tmp_path)


def test_templated_token_and_extra_vars(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(FakeClient, "__init__", lambda self, **kwargs: seen.append(kwargs) or api.VobizClient.__init__(self, **kwargs))
    monkeypatch.setenv("UNIT_TOKEN", TOKEN)
    parse(tmp_path, auth_token="{{ lookup('ansible.builtin.env', 'UNIT_TOKEN') }}", auth_id="{{ 'MA_' ~ 'UNIT0001' }}")
    assert seen[-1]["auth_token"] == TOKEN and seen[-1]["auth_id"] == AUTH_ID


def test_verbose_line_per_listing_never_shows_the_token(tmp_path, monkeypatch):
    lines = []
    monkeypatch.setattr(Display(), "v", lambda message, host=None: lines.append(message))  # Display is a singleton
    parse(tmp_path)
    assert len(lines) == 1
    assert "%d endpoints" % len(RECORDS) in lines[0] and "cache off" in lines[0] and "concurrency 4" in lines[0]
    assert TOKEN not in lines[0]


# Cache ---------------------------------------------------------------------------------------

def cached(tmp_path, refresh=False, **options):
    options.setdefault("cache", True)
    options.setdefault("cache_plugin", "ansible.builtin.jsonfile")
    options.setdefault("cache_connection", str(tmp_path / "cache"))
    return parse(tmp_path, refresh=refresh, **options)


def cache_files(tmp_path):
    return sorted((tmp_path / "cache").iterdir())


def test_cache_hit_makes_no_listing_and_is_not_rewritten(tmp_path):
    first, _plugin = cached(tmp_path)
    assert len(FakeClient.calls) == 1
    [entry] = cache_files(tmp_path)
    written = entry.stat().st_mtime_ns
    second, _plugin = cached(tmp_path)
    assert len(FakeClient.calls) == 1
    assert entry.stat().st_mtime_ns == written
    assert sorted(first.hosts) == sorted(second.hosts)
    assert second.get_host("carol").vars == first.get_host("carol").vars


def test_cache_never_holds_the_token_and_the_token_is_not_in_the_key(tmp_path):
    cached(tmp_path)
    cached(tmp_path, auth_token="another-token-entirely")  # a token change alone is still a hit
    assert len(FakeClient.calls) == 1
    for path in cache_files(tmp_path):
        assert TOKEN not in path.name and TOKEN not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("change", [{"api_url": "https://eu.api.example.test"}, {"auth_id": "MA_OTHER0002"},
                                    {"filters": {"sub_account": "SA_BRANCH01"}}, {"resolve_applications": False}])
def test_cache_key_covers_api_url_auth_id_and_filters(tmp_path, change):
    cached(tmp_path)
    cached(tmp_path, **change)
    assert len(FakeClient.calls) == 2
    assert len(cache_files(tmp_path)) == 2
    cached(tmp_path, **change)
    assert len(FakeClient.calls) == 2


def test_flush_cache_lists_again_and_rewrites(tmp_path):
    cached(tmp_path)
    FakeClient.records = RECORDS[:2]
    refreshed, _plugin = cached(tmp_path, refresh=True)  # --flush-cache / refresh_inventory: parse(cache=False)
    assert len(FakeClient.calls) == 2 and len(refreshed.hosts) == 2
    again, _plugin = cached(tmp_path)
    assert len(FakeClient.calls) == 2 and len(again.hosts) == 2


def test_cache_entry_of_another_format_is_ignored(tmp_path, fake_api, monkeypatch):
    cached(tmp_path)
    monkeypatch.setattr(fake_api, "CACHE_FORMAT", fake_api.CACHE_FORMAT + 1)
    cached(tmp_path)
    assert len(FakeClient.calls) == 2  # the old entry was not used...
    cached(tmp_path)
    assert len(FakeClient.calls) == 2  # ...and the new listing replaced it


def test_records_from_the_cache_are_unsafe_too(tmp_path):
    cached(tmp_path)
    inventory, _plugin = cached(tmp_path)
    assert len(FakeClient.calls) == 1
    carol = inventory.get_host("carol").vars
    assert carol["vobiz_alias"] == JINJA_ALIAS and is_unsafe(carol["vobiz_alias"])
    assert all(is_unsafe(value) for key, value in carol.items() if key.startswith("vobiz_") and isinstance(value, str))
    assert render(inventory, "carol", "{{ vobiz_alias }}") == JINJA_ALIAS


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(Display, "warning", lambda self, msg, *args, **kwargs: seen.append(msg))
    return seen


def test_a_missing_cache_folder_is_created_private(tmp_path, umask_022, warnings):
    folder = tmp_path / "deep" / "cache"
    cached(tmp_path, cache_connection=str(folder))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [entry.name for entry in folder.iterdir()]  # ansible-core wrote the entry into it
    assert warnings == []


def test_a_cache_folder_others_can_read_is_warned_about_with_the_fix(tmp_path, umask_022, warnings):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o755)
    cached(tmp_path)
    assert warnings == ["the inventory cache folder %s can be read by other users (mode 0755), and its files hold the username, alias "
                        "and SIP contact of every endpoint. Make it private: chmod 700 %s" % (folder, folder)]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # the user's folder: told, not changed
    folder.chmod(0o700)
    warnings.clear()
    cached(tmp_path)
    assert warnings == []


def test_only_file_cache_plugins_have_a_folder(fake_api, monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert fake_api._file_cache_folder("ansible.builtin.jsonfile", "~/.cache/vobiz") == "/home/someone/.cache/vobiz"
    assert fake_api._file_cache_folder("jsonfile", "$HOME/c") == "/home/someone/c"
    assert fake_api._file_cache_folder("ansible.builtin.memory", "/tmp/not-a-folder") is None
    assert fake_api._file_cache_folder("no.such.cache", "/tmp/x") is None  # ansible-core names that error itself
    assert fake_api._file_cache_folder("ansible.builtin.jsonfile", None) is None


def test_a_cache_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(AnsibleParserError, match=r"^cannot create the inventory cache folder .*/file/cache \(cache_connection\): "
                                                 r"Not a directory. Set cache_connection to a folder you can write$"):
        cached(tmp_path, cache_connection=str(tmp_path / "file" / "cache"))


# Unknown options -----------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, closest", [
    ("filter", {"sub_account": "SA_LAB0002"}, "filters"),  # the typo that listed every endpoint
    ("page_szie", 50, "page_size"),
    ("keyed_group", [{"key": "vobiz_username"}], "keyed_groups"),  # constructed's options are checked too
    ("cache_timout", 60, "cache_timeout"),  # and inventory_cache's
    ("duplicate_hostname", "suffix", "duplicate_hostnames"),
])
def test_unknown_option_names_the_closest_valid_one(tmp_path, option, value, closest):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, **{option: value})
    assert str(error.value) == "unknown option %r in unit.vobiz.yml; did you mean %r?" % (option, closest)
    assert FakeClient.calls == []


def test_unknown_option_without_a_close_one_lists_the_valid_ones(tmp_path):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, regions=["eu-west-1"], filter={})
    message = str(error.value)
    assert "unknown option 'regions' in unit.vobiz.yml; valid options: api_url, auth_id," in message
    for option in ("include_filters", "keyed_groups", "cache_plugin", "hostnames", "use_extra_vars"):
        assert option in message
    assert "unknown option 'filter' in unit.vobiz.yml; did you mean 'filters'?" in message  # every unknown one


# hostnames -----------------------------------------------------------------------------------

def names_by_username(inventory, prefix="vobiz_"):
    return {host.vars[prefix + "username"]: name for name, host in inventory.hosts.items()}


def test_hostnames_first_non_empty_entry_wins_and_endpoint_id_comes_last(tmp_path):
    FakeClient.records = [dict(RECORDS[3], username=None, sip_uri=None)] + RECORDS[:2]  # dave: no alias, no username
    inventory, _plugin = parse(tmp_path, hostnames=["alias", "username"])
    assert sorted(inventory.hosts) == ["100000000000004", "Alice Desk", "Bob Desk"]


def test_hostnames_template_over_prefixed_variables(tmp_path):
    inventory, _plugin = parse(tmp_path, hostvars_prefix="sip_",
                               hostnames=["{{ sip_username }}-{{ sip_sub_account | default('main', true) | lower }}"])
    assert names_by_username(inventory, "sip_")["carol"] == "carol-sa_branch01"
    assert names_by_username(inventory, "sip_")["alice"] == "alice-main"


def test_hostnames_template_that_gives_nothing_falls_through(tmp_path):
    inventory, _plugin = parse(tmp_path, hostnames=["{{ vobiz_sip_contact }}", "{{ '  ' }}", "{{ vobiz_alias }}"])
    names = names_by_username(inventory)
    assert names["alice"] == "Alice Desk"
    assert names["dave"] == "100000000000004"  # null alias, null contact: endpoint_id


def test_hostnames_template_result_stays_unsafe(tmp_path):
    FakeClient.records = trusted_records()
    inventory, _plugin = parse(tmp_path, hostnames=["{{ vobiz_alias }}"])
    assert JINJA_ALIAS in inventory.hosts  # carol's alias, rendered once, as text
    assert is_unsafe(next(name for name in inventory.hosts if name == JINJA_ALIAS))
    assert render(inventory, JINJA_ALIAS, "{{ inventory_hostname }}") == JINJA_ALIAS


def test_hostnames_template_failure_names_the_endpoint(tmp_path):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, hostnames=["{{ vobiz_no_such_field }}"])
    assert "hostnames template {{ vobiz_no_such_field }} failed for endpoint 100000000000001" in str(error.value)
    assert "vobiz_no_such_field" in str(error.value).split("failed for")[1]


def test_hostnames_templates_see_fields_that_hostvars_keys_leaves_out(tmp_path):
    inventory, _plugin = parse(tmp_path, hostnames=["{{ vobiz_alias }}"], hostvars_keys=["username"])
    assert "Alice Desk" in inventory.hosts
    assert "vobiz_alias" not in inventory.get_host("Alice Desk").vars


@pytest.mark.parametrize("hostnames, message", [
    (["tag:Name"], "hostnames[0] 'tag:Name' is neither a field of the endpoint record nor a template ({{ ... }}); fields: "
                   "endpoint_id, username, alias,"),
    (["username", "private-ip-address"], "hostnames[1] 'private-ip-address' is neither a field"),
    (["usernme"], "hostnames[0] 'usernme' is neither a field of the endpoint record nor a template ({{ ... }}); "
                  "did you mean 'username'?"),
    (["vobiz_alias"], "did you mean 'alias'? Fields are named without hostvars_prefix"),
    ([{"name": "tag:Name", "prefix": "sip"}], "hostnames[0] must be a field of the endpoint record or a Jinja template, "
                                              "got mapping {'name': 'tag:Name', 'prefix': 'sip'}; aws_ec2-style mappings"),
])
def test_aws_ec2_style_hostnames_are_an_error(tmp_path, hostnames, message):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, hostnames=hostnames)
    assert message in str(error.value)
    assert FakeClient.calls == []


def test_hostname_and_hostnames_together_are_an_error(tmp_path):
    with pytest.raises(AnsibleParserError, match=r"set hostname or hostnames, not both: hostname: alias is hostnames: \[alias\]"):
        parse(tmp_path, hostname="alias", hostnames=["username"])


def test_sanitize_hostnames_makes_pattern_safe_names(tmp_path):
    FakeClient.records = RECORDS + [endpoint("100000000000010", "kim", "受付"), endpoint("100000000000011", "lee", "a,b:c[1]!&*?~@d")]
    inventory, _plugin = parse(tmp_path, hostnames=["alias"], sanitize_hostnames=True)
    names = names_by_username(inventory)
    assert names["alice"] == "Alice_Desk"
    assert names["carol"] == "lookup_pipe_id"  # the Jinja alias: braces, quotes and spaces go
    assert names["kim"] == "100000000000010"  # nothing left of 受付: the endpoint_id
    assert names["lee"] == "a_b_c_1_d"
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in inventory.hosts)
    assert inventory.get_host("Alice_Desk").vars["vobiz_alias"] == "Alice Desk"  # variables keep the API's text


def test_host_names_are_the_api_text_by_default(tmp_path):
    inventory, _plugin = parse(tmp_path, hostname="alias")
    assert "Alice Desk" in inventory.hosts and JINJA_ALIAS in inventory.hosts


# Host names from API text that would be a path, several lines or a terminal code.
FILE_UNSAFE = [("../../etc/passwd", ".._.._etc_passwd"), ("a\nb", "a_b"), ("x\x00y", "x_y"), ("..", "__"), (".", "_"),
               ("\\\\srv\\share", "_srv_share"), ("tab\there\r\n", "tab_here_"), ("esc\x1b[2J\x07", "esc_[2J_"),
               ("c1\x85\x9bend", "c1_end"), ("para\u2028graph", "para_graph"), ("/x/", "_x_"), ("...", "..."), ("a.b", "a.b"),
               ("Réception – Paris", "Réception – Paris")]


@pytest.mark.parametrize("sanitize", [False, True])
@pytest.mark.parametrize("hostnames", [["username"], ["alias"], ["{{ vobiz_alias }}"]])
def test_host_names_are_always_safe_file_names(tmp_path, hostnames, sanitize):
    FakeClient.records = [endpoint("1000000000001%02d" % index, text, text) for index, (text, _name) in enumerate(FILE_UNSAFE)]
    inventory, _plugin = parse(tmp_path, hostnames=hostnames, sanitize_hostnames=sanitize)
    names = names_by_username(inventory)
    if not sanitize:
        assert names == dict(FILE_UNSAFE)
    for name in inventory.hosts:
        assert name not in (".", "..") and not re.search(r"[/\\\x00-\x1f\x7f-\x9f\u2028\u2029]", name), name
        assert len(name.splitlines()) == 1
    assert inventory.get_host(names["../../etc/passwd"]).vars["vobiz_alias"] == "../../etc/passwd"  # variables keep the API's text


@pytest.mark.parametrize("field", ["endpoint_id", "username"])
def test_a_hostile_endpoint_id_is_a_safe_file_name_too(tmp_path, field):
    """The endpoint_id names a host by choice, as the last fallback and in duplicate_hostnames: suffix."""
    FakeClient.records = [endpoint("../../x", None), endpoint("..", "dup"), endpoint("a\nb", "dup")]
    inventory, _plugin = parse(tmp_path, hostname=field, duplicate_hostnames="suffix")
    assert set(inventory.hosts) == ({"__", ".._.._x", "a_b"} if field == "endpoint_id" else {".._.._x", "dup_..", "dup_a_b"})


def test_names_that_become_equal_are_the_duplicate_error_naming_both_ids(tmp_path):
    FakeClient.records = [endpoint("100000000000001", "a\nb"), endpoint("100000000000002", "a/b")]
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path)
    assert str(error.value).startswith("endpoints 100000000000001 and 100000000000002 both have the host name 'a_b' (hostname: username).")


def test_duplicate_hostnames_error_names_both_ids_and_the_way_out(tmp_path):
    FakeClient.records = RECORDS + [endpoint("100000000000099", "zed", "Alice Desk")]
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, hostnames=["alias"])
    assert str(error.value) == (
        "endpoints 100000000000001 and 100000000000099 both have the host name 'Alice Desk' (hostnames: [alias]). "
        "Set hostname to a field that is unique on this account (endpoint_id always is), or filter one of them out, "
        "or set duplicate_hostnames: suffix to add the endpoint_id to each")


def test_duplicate_hostnames_suffix_adds_the_endpoint_id_to_each(tmp_path):
    FakeClient.records = [RECORDS[1], endpoint("100000000000099", "zed", "Alice Desk"), RECORDS[0]]
    inventory, _plugin = parse(tmp_path, hostname="alias", duplicate_hostnames="suffix")
    assert sorted(inventory.hosts) == ["Alice Desk_100000000000001", "Alice Desk_100000000000099", "Bob Desk"]


def test_duplicate_hostnames_suffix_that_still_clashes_is_an_error(tmp_path):
    FakeClient.records = [endpoint("1", "a", "x"), endpoint("2", "b", "x"), endpoint("3", "c", "x_1")]
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, hostname="alias", duplicate_hostnames="suffix")
    assert "endpoints 1 and 3 both have the host name 'x_1'" in str(error.value)
    assert "even with their endpoint_id added" in str(error.value)


# include_filters / exclude_filters -----------------------------------------------------------

class ListingsClient(FakeClient):
    """A client whose listings depend on the query, from a table of canned answers."""

    answers = {}
    application_fills = []

    def list_endpoints(self, filters=None, resolve_applications=False):
        FakeClient.calls.append({"filters": filters, "resolve_applications": resolve_applications})
        return copy.deepcopy(self.answers[tuple(sorted(filters.items()))])

    def fill_application_names(self, records):
        ListingsClient.application_fills.append(len(records))
        return records


@pytest.fixture
def listings(fake_api, monkeypatch):
    monkeypatch.setattr(fake_api, "VobizClient", ListingsClient)
    monkeypatch.setattr(ListingsClient, "application_fills", [])
    monkeypatch.setattr(ListingsClient, "answers", {
        (("sub_account", "SA_BRANCH01"),): [RECORDS[2], RECORDS[0]],
        (("username__startswith", "a"),): [RECORDS[0]],
        (("alias__contains", "Desk"),): [RECORDS[0], RECORDS[1]],
        (): RECORDS,
    })
    return ListingsClient


def test_include_filters_are_listed_too_and_unioned_each_endpoint_once(tmp_path, listings):
    inventory, _plugin = parse(tmp_path, filters={"sub_account": "SA_BRANCH01"},
                               include_filters=[{"username__startswith": "a"}, {"alias__contains": "Desk"}])
    assert [call["filters"] for call in FakeClient.calls] == [
        {"sub_account": "SA_BRANCH01"}, {"username__startswith": "a"}, {"alias__contains": "Desk"}]
    assert not any(call["resolve_applications"] for call in FakeClient.calls)
    assert listings.application_fills == [3]  # application names resolved once, for the union
    assert sorted(inventory.hosts) == ["alice", "bob", "carol"]


def test_include_filters_without_filters_list_only_themselves(tmp_path, listings):
    inventory, _plugin = parse(tmp_path, include_filters=[{"username__startswith": "a"}])
    assert [call["filters"] for call in FakeClient.calls] == [{"username__startswith": "a"}]
    assert sorted(inventory.hosts) == ["alice"]


def test_exclude_filters_are_evaluated_locally(tmp_path, listings):
    inventory, _plugin = parse(tmp_path, exclude_filters=[{"application_id__isnull": True},
                                                          {"alias__contains": "Desk", "sub_account": "SA_BRANCH01"},
                                                          {"username__startswith": "b"}])
    assert [call["filters"] for call in FakeClient.calls] == [{}]  # one listing, no extra request
    expected = {record["username"] for record in RECORDS} - {"ivan", "bob"}  # carol's alias has no "Desk"
    assert set(inventory.hosts) == expected


@pytest.mark.parametrize("option", ["include_filters", "exclude_filters"])
def test_include_and_exclude_filters_are_checked_like_filters(tmp_path, option):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, **{option: [{"sub_account": "SA_X"}, {"usernam__exact": "x"}]})
    assert str(error.value).startswith("unknown filter key usernam__exact in %s[1]; the Vobiz API filters endpoints by: "
                                       "username__contains, username__exact" % option)
    with pytest.raises(AnsibleParserError, match=r"%s\[0\] is empty: it would match every endpoint" % option):
        parse(tmp_path, **{option: [{}]})
    with pytest.raises(AnsibleParserError, match=r"%s\[0\] must be a mapping of filter name to value, got text 'sub_account=SA_X'" % option):
        parse(tmp_path, **{option: ["sub_account=SA_X"]})
    assert FakeClient.calls == []


@pytest.mark.parametrize("change", [{"include_filters": [{"alias__contains": "Desk"}]},
                                    {"exclude_filters": [{"alias__contains": "Desk"}]}])
def test_cache_key_covers_include_and_exclude_filters(tmp_path, change):
    cached(tmp_path)
    cached(tmp_path, **change)
    assert len(FakeClient.calls) == 2 and len(cache_files(tmp_path)) == 2
    cached(tmp_path, **change)
    assert len(FakeClient.calls) == 2


# hostvars_keys -------------------------------------------------------------------------------

def test_hostvars_keys_keeps_only_those_variables_and_groups_still_see_the_whole_record(tmp_path):
    inventory, _plugin = parse(tmp_path, hostvars_keys=["username", "alias"], strict=True,
                               groups={"kiosks": "vobiz_alias is search('Kiosk')"},
                               keyed_groups=[{"key": "vobiz_application_id | default('none', true)", "prefix": "app_id"}],
                               compose={"registered": "vobiz_sip_registered"})
    host_vars = inventory.get_host("carol").vars
    assert sorted(name for name in host_vars if name.startswith("vobiz_")) == ["vobiz_alias", "vobiz_username"]
    assert host_vars["registered"] is True  # compose saw vobiz_sip_registered
    assert members(inventory, "vobiz_registered") == ["alice", "carol", "frank", "heidi"]
    assert members(inventory, "vobiz_sub_account_sa_branch01") == ["carol"]
    assert members(inventory, "app_id_%s" % PARIS) == ["carol"]
    assert members(inventory, "kiosks") == ["frank"]


def test_hostvars_keys_empty_keeps_no_record_variable(tmp_path):
    inventory, _plugin = parse(tmp_path, hostvars_keys=[])
    assert not [name for name in inventory.get_host("alice").vars if name.startswith("vobiz_")]
    assert inventory.get_host("alice").vars["ansible_connection"] == "local"


@pytest.mark.parametrize("key, hint", [("user_name", "did you mean 'username'?"), ("vobiz_alias", "did you mean 'alias'?"),
                                       ("mac", "keys: endpoint_id, username,")])
def test_hostvars_keys_unknown_key_is_an_error(tmp_path, key, hint):
    with pytest.raises(AnsibleParserError) as error:
        parse(tmp_path, hostvars_keys=["username", key])
    assert str(error.value).startswith("unknown record key %r in hostvars_keys; %s" % (key, hint))


# Slug clashes always end ---------------------------------------------------------------------

@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_application_ids_that_slugify_alike_get_distinct_groups(tmp_path, order):
    desks = [endpoint("100000000000001", "a1", app_id="A-1", app_name="Desk"),
             endpoint("100000000000002", "a2", app_id="a_1", app_name="Desk")]
    FakeClient.records = [desks[index] for index in order]
    inventory, _plugin = parse(tmp_path, group_by=["application"])
    assert members(inventory, "vobiz_app_desk_a_1_1") == ["a1"]  # numbered in app id order: "A-1" < "a_1"
    assert members(inventory, "vobiz_app_desk_a_1_2") == ["a2"]


@pytest.mark.parametrize("slugs, expected", [
    ({"A-1": "desk", "a_1": "desk"}, {"A-1": "desk_a_1_1", "a_1": "desk_a_1_2"}),
    ({"1": "none"}, {"1": "none_1"}),
    ({"1": "q", "2": "q", "3": "q_1"}, {"1": "q_1_1", "2": "q_2", "3": "q_1_3"}),
    # three ids alike, and a name that is what the numbering would give first: skipped
    ({"A-1": "x", "a_1": "x", "a.1": "x", "9": "x_a_1_1"},
     {"A-1": "x_a_1_2", "a_1": "x_a_1_4", "a.1": "x_a_1_3", "9": "x_a_1_1"}),
])
def test_settle_slug_clashes(slugs, expected):
    settled = endpoints_plugin._settle_slug_clashes(slugs)  # pylint: disable=protected-access
    assert settled == expected
    assert len(set(settled.values())) == len(settled) and "none" not in settled.values()
