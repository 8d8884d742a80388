# -*- coding: utf-8 -*-
# Copyright: vobiz.sip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every plugin and module of vobiz.sip.

DOCUMENTATION documents them once, for modules and plugins alike. Modules read the environment
through argument-spec fallbacks; plugins read it through ``env:`` entries in their docs, which the
PLUGINS variant adds to the same options (Ansible merges a fragment's option into the option of the
same name key by key), so the two never drift apart.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  auth_id:
    description:
      - Auth ID of the Vobiz account (C(MA_...)), sent as the C(X-Auth-ID) header and used in every API path.
      - If not set, the value of the E(VOBIZ_AUTH_ID) environment variable is used.
      - Required, from this option or the environment variable; without either, the task or the inventory source fails naming both.
    type: str
  auth_token:
    description:
      - Auth token of the Vobiz account, sent as the C(X-Auth-Token) header. It is never logged, returned or cached.
      - May be a vaulted string or a template such as V({{ lookup('ansible.builtin.env', 'MY_TOKEN'\) }}).
      - If not set, the value of the E(VOBIZ_AUTH_TOKEN) environment variable is used.
      - Required, from this option or the environment variable; without either, the task or the inventory source fails naming both.
    type: str
  api_url:
    description:
      - Base URL of the Vobiz API.
      - If not set, the value of the E(VOBIZ_API_URL) environment variable is used, then V(https://api.vobiz.ai).
      - Must be C(https://); C(http://) is accepted only for a loopback host (V(127.0.0.1), V(localhost), V(::1)), such as
        the local simulator, because the token would otherwise travel in cleartext.
    type: str
    default: https://api.vobiz.ai
  validate_certs:
    description:
      - Verify the API's TLS certificate. Turn off only for a test server.
      - To trust a private CA, set E(REQUESTS_CA_BUNDLE) to its bundle instead.
      - If not set, the value of the E(VOBIZ_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each API request.
    type: int
    default: 30
  retries:
    description:
      - How many times a request is retried after HTTP 429, a 5xx answer, a timeout or a connection error,
        with exponential backoff and jitter, or after the delay the API's C(Retry-After) header asks for.
    type: int
    default: 5
  page_size:
    description: Endpoints asked for per page when listing (C(limit)); 1 to 100.
    type: int
    default: 100
  max_concurrency:
    description: How many pages are fetched at once after the first page; 1 to 32.
    type: int
    default: 4
  listing_timeout:
    description:
      - Seconds a whole listing of endpoints (all its pages, retries and walks) may take before it fails with an
        error that says how far it got; 1 to 86400.
      - If not set, the value of the E(VOBIZ_LISTING_TIMEOUT) environment variable is used.
    type: int
    default: 600
requirements:
  - requests
"""

    # Only what plugins add: where Ansible's plugin configuration reads each option from the environment.
    # Plugins extend both fragments: vobiz.sip.vobiz and vobiz.sip.vobiz.plugins.
    PLUGINS = r"""
options:
  auth_id:
    env:
      - name: VOBIZ_AUTH_ID
  auth_token:
    env:
      - name: VOBIZ_AUTH_TOKEN
  api_url:
    env:
      - name: VOBIZ_API_URL
  validate_certs:
    env:
      - name: VOBIZ_VALIDATE_CERTS
  listing_timeout:
    env:
      - name: VOBIZ_LISTING_TIMEOUT
"""
