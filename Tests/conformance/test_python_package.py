"""The python/ package users install (HealthImagingLocal, control helpers, the pytest plugin), tested as they
use it: the example test file under examples/pytest runs in a pytest session of its own with pytest-xdist."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from healthimaging_local import ControlPlaneError, HealthImagingLocal, HealthImagingLocalError, find_binary

from conftest import ROOT, SEED_FIXTURE, binary_path

EXAMPLE = ROOT / "examples" / "pytest" / "test_with_plugin.py"


def test_the_plugin_under_xdist_with_two_workers(tmp_path):
    log = tmp_path / "accounts.log"
    env = dict(os.environ, HIL_BINARY=str(binary_path()), HIL_EXAMPLE_ACCOUNTS_LOG=str(log))
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-v", "--rootdir", str(tmp_path),
         "-c", os.devnull, str(EXAMPLE)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert re.search(r"\b11 passed\b", out), out
    assert "[gw0]" in out and "[gw1]" in out, out
    accounts = re.findall(r"ACCOUNT (\d{12}) (gw\d)", log.read_text())
    assert len(accounts) == 6 and len({a for a, _ in accounts}) == 6, accounts


def test_context_manager_client_and_control(tmp_path):
    with HealthImagingLocal(fixtures=[SEED_FIXTURE], binary=binary_path()) as hil:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", hil.url) and hil.port > 0
        assert hil.health()["status"] == "ready"
        assert [d["datastoreName"] for d in hil.client().list_datastores()["datastoreSummaries"]] == ["seed"]
        other = hil.namespace("111122223333")
        assert other.client().list_datastores()["datastoreSummaries"] == []
        other.load({"datastores": [{"datastoreId": "a" * 32, "datastoreName": "other", "imageSets": []}]})
        assert [d["datastoreName"] for d in other.client().list_datastores()["datastoreSummaries"]] == ["other"]
        assert [d["datastoreId"] for d in other.export()["datastores"]] == ["a" * 32]
        with pytest.raises(ControlPlaneError) as caught:
            other.load({"datastores": [{"datastoreId": "bad"}]})
        assert caught.value.status == 400 and "$.datastores[0]" in caught.value.message
        other.reset(to="empty")
        assert other.export() == {"datastores": []}
        assert len(hil.export()["datastores"]) == 1  # the default namespace was not touched
        proc = hil.process
    assert proc.poll() == 0  # SIGTERM, clean exit


def test_a_missing_binary_names_the_three_places(tmp_path):
    env = {"PATH": str(tmp_path), "HIL_BINARY": str(tmp_path / "nope")}
    p = subprocess.run([sys.executable, "-c", "import healthimaging_local as h; h.find_binary()"],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert p.returncode != 0
    assert "HIL_BINARY=" in p.stderr and ".build/release/healthimaging-local" in p.stderr and "on PATH" in p.stderr, p.stderr
    assert find_binary(binary_path()) == binary_path()
    with pytest.raises(HealthImagingLocalError):
        HealthImagingLocal(binary=tmp_path / "nope")


def test_the_client_sends_the_control_token_and_scopes_every_call():
    with HealthImagingLocal(fixtures=[SEED_FIXTURE], binary=binary_path(), control_token="t0ken") as hil:
        ns = hil.namespace("444455556666")
        with ns.faults.add("GetImageSet", latency_ms=1) as rule:
            assert [r["id"] for r in ns.faults.list()["rules"]] == [rule.id]
            assert hil.faults.list()["rules"] == []  # another namespace's rules
        assert ns.faults.list()["rules"] == []
        assert hil.health()["account"] == "123456789012" and ns.health()["account"] == "444455556666"
        hil.reset_all(to="empty")
        assert hil.export() == {"datastores": []}
        unauthenticated = HealthImagingLocal.__new__(HealthImagingLocal)
        from healthimaging_local._control import Control, _Transport
        Control.__init__(unauthenticated, _Transport(hil.url), "123456789012", "us-east-1")
        with pytest.raises(ControlPlaneError) as caught:
            unauthenticated.export()
        assert caught.value.status == 401
