"""pytest plugin (entry point ``pytest11``): an emulator per test session, a namespace per test.

Fixtures:
  ``healthimaging``          session: a running `HealthImagingLocal` (or the server at ``--healthimaging-url``)
  ``healthimaging_account``  function: a `Namespace` with a fresh 12-digit account, seeded from the test's
                             ``@pytest.mark.healthimaging(fixtures=[...], faults=[...], transitions={...})`` marker,
                             and emptied after the test
  ``healthimaging_client``   function: a boto3 medical-imaging client of that account

Each pytest-xdist worker starts its own server; accounts are unique per worker and per run anyway, so workers
sharing one ``--healthimaging-url`` do not see each other's data either.
"""

from __future__ import annotations

import json
import os
import random
import shlex
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from ._control import ControlPlaneError
from ._server import HealthImagingLocal, Namespace

MARKER = "healthimaging"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("healthimaging", "healthimaging-local emulator")
    group.addoption("--healthimaging-binary", default=None,
                    help="the healthimaging-local binary (default: $HIL_BINARY, the repository build, PATH)")
    group.addoption("--healthimaging-url", default=None,
                    help="use this running emulator instead of starting one (also $HIL_URL)")
    group.addoption("--healthimaging-token", default=None,
                    help="control-plane bearer token (also $HIL_CONTROL_TOKEN)")
    parser.addini("healthimaging_args", "extra command-line arguments for the emulator the plugin starts",
                  default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fixtures=[path-or-dict, ...], faults=[rule, ...], transitions={{...}}): "
        "seed the test's healthimaging_account namespace before the test")


class _Attached(HealthImagingLocal):
    """A server started elsewhere (``--healthimaging-url``): never started or stopped here."""

    def __init__(self, url: str, token: Any) -> None:  # noqa: D401 - no binary needed
        from ._control import Control, _Transport

        Control.__init__(self, _Transport(url, token), "123456789012", "us-east-1")
        self.url = url
        self.process = None
        self.control_token = token

    def stop(self, *a: Any, **k: Any) -> int:
        return 0


@pytest.fixture(scope="session")
def healthimaging(pytestconfig: pytest.Config) -> Iterator[HealthImagingLocal]:
    """The emulator for this session (one per xdist worker)."""
    token = pytestconfig.getoption("healthimaging_token") or os.environ.get("HIL_CONTROL_TOKEN")
    url = pytestconfig.getoption("healthimaging_url") or os.environ.get("HIL_URL")
    if url:
        yield _Attached(url, token)
        return
    args = shlex.split(pytestconfig.getini("healthimaging_args") or "")
    server = HealthImagingLocal(binary=pytestconfig.getoption("healthimaging_binary"), args=args,
                                control_token=token)
    server.start()
    try:
        yield server
    finally:
        rc = server.stop()
        if rc != 0:
            raise AssertionError(f"healthimaging-local exited with {rc} after SIGTERM")


_RANDOM = random.Random()
_SALT = _RANDOM.randrange(10**7)
_COUNTER = [0]


def fresh_account() -> str:
    """A 12-digit account no other test of this run uses: 9, the xdist worker number (3 digits), then a
    per-process counter offset by a random salt (8 digits). Never the default 123456789012."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int("".join(ch for ch in worker if ch.isdigit()) or 0) % 1000
    _COUNTER[0] += 1
    return f"9{number:03d}{(_SALT + _COUNTER[0]) % 10**8:08d}"


def _resolve(item: Any, base: Path) -> Any:
    if isinstance(item, (str, Path)):
        p = Path(item)
        return p if p.is_absolute() else base / p
    return item


@pytest.fixture
def healthimaging_account(healthimaging: HealthImagingLocal, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """A namespace of its own for this test, seeded from the ``healthimaging`` marker."""
    ns = healthimaging.namespace(fresh_account())
    base = Path(str(request.node.fspath)).parent
    added_rules: List[str] = []
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        for fixture in marker.kwargs.get("fixtures", ()):
            ns.load(_resolve(fixture, base))
        faults = marker.kwargs.get("faults", ())
        if isinstance(faults, (str, Path)):
            faults = json.loads(_resolve(faults, base).read_text())["rules"]
        if faults:
            added_rules += ns.faults.add(rules=list(faults)).ids
        transitions = marker.kwargs.get("transitions")
        if transitions:
            ns.transitions(**transitions)
    yield ns
    try:
        for rule_id in added_rules:
            try:
                ns.faults.delete(rule_id)
            except ControlPlaneError:
                pass
        ns.reset(to="empty")
    except (ControlPlaneError, OSError):
        pass


@pytest.fixture
def healthimaging_client(healthimaging_account: Namespace) -> Any:
    """A boto3 ``medical-imaging`` client in the test's own namespace."""
    return healthimaging_account.client()
