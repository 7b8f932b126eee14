"""The front-end packages: pinned, locked without registry addresses, served locally with a
pinned CDN fallback whose SRI hash matches the installed file."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import override_settings

from usage.templatetags import tokenledger

ROOT = Path(settings.BASE_DIR)
CHART = settings.VENDOR_SCRIPTS["chart.js"]


def test_package_json_pins_exact_versions_and_the_lock_agrees():
    manifest = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pins = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert set(pins) == {"chart.js", "axe-core"}
    for name, version in pins.items():
        assert version[0].isdigit(), f"{name} must be pinned exactly, not {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert pins["chart.js"] == CHART["version"]
    assert f"chart.js@{CHART['version']}/" in CHART["cdn"]


def test_lock_file_names_no_registry():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name, entry in lock["packages"].items():
        assert "resolved" not in entry, name
        assert entry.get("integrity", "sha512-").startswith("sha512-") if name else True


def test_cdn_fallback_hash_is_that_of_the_installed_file():
    installed = ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
    if not installed.exists():
        pytest.skip("npm packages not installed (make assets)")
    digest = base64.b64encode(hashlib.sha384(installed.read_bytes()).digest()).decode()
    assert CHART["integrity"] == f"sha384-{digest}"


def test_vendor_script_uses_the_local_copy_with_a_fallback(client):
    if not (ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.js").exists():
        pytest.skip("npm packages not installed (make assets)")
    tokenledger._local_static.cache_clear()
    html = Template("{% load tokenledger %}{% vendor_script 'chart.js' %}").render(Context())
    assert 'src="/static/vendor/chart.js/chart.umd.js"' in html
    assert f'data-fallback-integrity="{CHART["integrity"]}"' in html
    assert client.get("/static/vendor/chart.js/chart.umd.js").status_code == 200


def test_vendor_script_falls_back_to_the_cdn_when_not_installed():
    missing = {"chart.js": {**CHART, "path": "vendor/not-installed/chart.umd.js"}}
    tokenledger._local_static.cache_clear()
    with override_settings(VENDOR_SCRIPTS=missing):
        html = Template("{% load tokenledger %}{% vendor_script 'chart.js' %}").render(Context())
    tokenledger._local_static.cache_clear()
    assert html == (
        f'<script src="{CHART["cdn"]}" integrity="{CHART["integrity"]}" '
        'crossorigin="anonymous" defer></script>'
    )
