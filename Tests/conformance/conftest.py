"""Shared fixtures and helpers for the healthimaging-local conformance suite.

The suite drives the release binary (``HIL_BINARY``, default
``.build/release/healthimaging-local``) with real clients: the aws CLI v1 and
boto3 pinned in requirements.txt. Every client is isolated from the user's AWS
configuration and uses dummy credentials.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from healthimaging_local import HealthImagingLocal, HealthImagingLocalError

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EXPECTED_DIR = HERE / "expected"
SEED_FIXTURE = ROOT / "fixtures" / "seed.json"

SEED_DATASTORE = "12345678901234567890123456789012"
SEED_IMAGE_SET = "ea92b0d8838c72a3f25d00d13616f87e"

URL_LINE = re.compile(r"^http://127\.0\.0\.1:(\d+)$")
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def binary_path() -> Path:
    p = Path(os.environ.get("HIL_BINARY", ROOT / ".build" / "release" / "healthimaging-local"))
    if not p.is_absolute():
        p = ROOT / p
    return p


# ---------------------------------------------------------------------------
# Isolation from the user's AWS configuration.
# ---------------------------------------------------------------------------

_ISOLATED_DIR = Path(tempfile.mkdtemp(prefix="hil-conformance-"))
_EMPTY_CONFIG = _ISOLATED_DIR / "config"
_EMPTY_CONFIG.write_text("")
_EMPTY_CREDENTIALS = _ISOLATED_DIR / "credentials"
_EMPTY_CREDENTIALS.write_text("")

ISOLATED_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": str(_EMPTY_CONFIG),
    "AWS_SHARED_CREDENTIALS_FILE": str(_EMPTY_CREDENTIALS),
    "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_PAGER": "",
    # A deterministic failure must show up at once, not after retries.
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_RETRY_MODE": "standard",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


def isolated_env(extra: dict | None = None, drop: tuple[str, ...] = ()) -> dict:
    """os.environ without any AWS_* / proxy settings, plus ISOLATED_AWS_ENV."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(ISOLATED_AWS_ENV)
    for k in drop:
        env.pop(k, None)
    if extra:
        env.update(extra)
    return env


# The pytest process itself (boto3) gets the same isolation.
for _k in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_k]
os.environ.update(ISOLATED_AWS_ENV)


# ---------------------------------------------------------------------------
# The server process.
# ---------------------------------------------------------------------------


class ServerStartError(AssertionError):
    pass


class Server(HealthImagingLocal):
    """A running healthimaging-local, started by the ``healthimaging_local`` package (python/) that users
    install: the suite exercises it on every run. ``url`` is the line it printed."""

    def __init__(self, args: list[str], tmp_dir: Path):
        self.args = args
        self.stderr_path = tmp_dir / f"server-{os.getpid()}-{time.monotonic_ns()}.stderr"
        self._stderr_file = open(self.stderr_path, "wb")
        super().__init__(binary=binary_path(), argv=args, stderr=self._stderr_file, cwd=ROOT,
                         startup_timeout=STARTUP_TIMEOUT, stop_timeout=STOP_TIMEOUT, wait_ready=False)
        try:
            self.start()
        except HealthImagingLocalError as e:
            self._stderr_file.close()
            raise ServerStartError(f"{e}\n{self.describe()}") from None
        parsed = urllib.parse.urlsplit(self.url)
        self.host = parsed.hostname
        self.proc = self.process

    def stderr_text(self) -> str:
        try:
            if not self._stderr_file.closed:
                self._stderr_file.flush()
            return self.stderr_path.read_text("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def describe(self) -> str:
        return f"command: {binary_path()} {' '.join(self.args)}\n--- server stderr ---\n{self.stderr_text()}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and wait; returns the exit status. What the server
        printed on stdout after its URL line is kept in ``stdout_tail``."""
        try:
            return super().stop(sig, timeout)
        except HealthImagingLocalError as e:
            raise AssertionError(f"{e}\n{self.describe()}") from None
        finally:
            self._close()

    def _close(self):
        super()._close()
        if not self._stderr_file.closed:
            self._stderr_file.close()


def server_args(fixtures=(SEED_FIXTURE,), db=None, extra=()) -> list[str]:
    args = ["--port", "0"]
    for f in fixtures:
        args += ["--fixtures", str(f)]
    if db is not None:
        args += ["--db", str(db)]
    args += list(extra)
    return args


def _require_binary():
    b = binary_path()
    if not b.exists():
        pytest.fail(
            f"healthimaging-local binary not found at {b}; build it with "
            "`swift build -c release --static-swift-stdlib` or run scripts/test",
            pytrace=False,
        )


class ServerFactory:
    """Starts servers for one test (or session) and stops them afterwards,
    checking that each one exits 0 on SIGTERM."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = Path(tmp_dir)
        self.servers: list[Server] = []

    def start(self, fixtures=(SEED_FIXTURE,), db=None, extra=()) -> Server:
        _require_binary()
        s = Server(server_args(fixtures, db, extra), self.tmp_dir)
        self.servers.append(s)
        return s

    def start_with(self, datastores: list[dict], name: str = "fixture.json", **kw) -> Server:
        """Write ``{"datastores": datastores}`` to a temp file and serve it."""
        path = write_fixture(self.tmp_dir / name, datastores)
        return self.start(fixtures=(path,), **kw)

    def stop_all(self):
        problems = []
        for s in self.servers:
            if s.returncode is not None:
                continue
            if not s.alive():
                problems.append(f"server exited on its own with {s.proc.returncode}\n{s.describe()}")
                s.kill()
                continue
            try:
                rc = s.stop()
            except AssertionError as e:
                problems.append(str(e))
                continue
            if rc != 0:
                problems.append(f"server exited with {rc} after SIGTERM (expected 0)\n{s.describe()}")
        self.servers.clear()
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server on fixtures/seed.json for the whole session. Tests using it
    must not change state."""
    factory = ServerFactory(tmp_path_factory.mktemp("session-server"))
    s = factory.start()
    yield s
    factory.stop_all()


@pytest.fixture
def servers(tmp_path):
    """Factory for servers with fresh state: ``servers.start(...)`` /
    ``servers.start_with([...datastores...])``."""
    factory = ServerFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def fresh_server(servers):
    """A server of its own on fixtures/seed.json."""
    return servers.start()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Attach the stderr of the servers a failed test used to its report."""
    report = yield
    if report.failed:
        seen = set()
        for name in ("server", "fresh_server", "multi_server"):
            s = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(s, Server) and id(s) not in seen:
                seen.add(id(s))
                report.sections.append((f"{name} stderr", s.stderr_text()[-20000:]))
        f = item.funcargs.get("servers") if hasattr(item, "funcargs") else None
        if isinstance(f, ServerFactory):
            for i, s in enumerate(f.servers):
                report.sections.append((f"servers[{i}] stderr", s.stderr_text()[-20000:]))
    return report


# ---------------------------------------------------------------------------
# Fixture files.
# ---------------------------------------------------------------------------


def write_fixture(path: Path, datastores: list[dict]) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"datastores": datastores}, indent=2))
    return path


def generated_versions(image_set_id: str, n: int, created_at: float = 1680027126.436) -> list[dict]:
    """``n`` versions, newest first (as ListImageSetVersions returns them):
    version 1 is ACTIVE/CREATED, later ones ACTIVE/UPDATED with increasing
    updatedAt (3 decimals)."""
    versions = []
    for v in range(n, 0, -1):
        props = {
            "imageSetId": image_set_id,
            "versionId": str(v),
            "imageSetState": "ACTIVE",
            "ImageSetWorkflowStatus": "CREATED" if v == 1 else "UPDATED",
            "createdAt": created_at,
        }
        if v > 1:
            props["updatedAt"] = round(created_at + v * 61.007, 3)
        versions.append(props)
    return versions


def image_set(image_set_id: str, n_versions: int) -> dict:
    return {"imageSetId": image_set_id, "versions": generated_versions(image_set_id, n_versions)}


def datastore(datastore_id: str, image_sets: list[dict], name: str | None = None) -> dict:
    return {"datastoreId": datastore_id, "datastoreName": name or f"ds-{datastore_id[:6]}", "imageSets": image_sets}


from fixture_files import hex_id  # noqa: E402,F401  (shared with bench/store.py)


def load_expected(name: str):
    return json.loads((EXPECTED_DIR / name).read_text())


# ---------------------------------------------------------------------------
# Clients.
# ---------------------------------------------------------------------------


def aws_command() -> list[str]:
    """The venv's aws CLI (next to the running python), else ``python -m awscli``."""
    cand = Path(sys.executable).parent / "aws"
    if cand.exists():
        return [str(cand)]
    return [sys.executable, "-m", "awscli"]


def run_cli(url: str, *args: str, env_extra: dict | None = None, drop_env: tuple[str, ...] = (),
            timeout: float = 120) -> tuple[int, str, str]:
    """``aws medical-imaging ARGS --endpoint-url URL`` -> (rc, stdout, stderr)."""
    cmd = [*aws_command(), "medical-imaging", *args, "--endpoint-url", url]
    p = subprocess.run(
        cmd,
        env=isolated_env(env_extra, drop_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    return p.returncode, p.stdout, p.stderr


def cli_json(url: str, *args: str, **kw):
    rc, out, err = run_cli(url, *args, **kw)
    assert rc == 0, f"aws {' '.join(args)} exited {rc}\nstdout: {out}\nstderr: {err}"
    return json.loads(out) if out.strip() else None


def boto_client(url: str, region_name: str = "us-east-1", access_key: str = "test", **config):
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key="test",
        region_name=region_name,
    )
    cfg = Config(
        inject_host_prefix=False,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        **config,
    )
    return session.client("medical-imaging", endpoint_url=url, config=cfg)


def list_path(datastore_id: str, image_set_id: str, **query) -> str:
    path = f"/datastore/{datastore_id}/imageSet/{image_set_id}/listImageSetVersions"
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return path


class RawResponse:
    def __init__(self, status: int, reason: str, headers: dict, body: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.reason} headers={self.headers} body={self.body[:500]!r}>"


def raw_request(url: str, method: str, path: str, headers: dict | None = None,
                body: bytes | None = None, timeout: float = 30) -> RawResponse:
    """One plain HTTP/1.1 request on a new connection (no signing, no client
    side validation)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if body is None and method in ("POST", "PUT"):
            hdrs.setdefault("Content-Length", "0")
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return RawResponse(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def parse_http_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
    assert m, f"not an HTTP response: {data[:300]!r}"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawResponse(int(m.group(1)), m.group(2), headers, body)


def raw_exchange(url: str, head: bytes, body_chunks=(), timeout: float = 30) -> RawResponse:
    """Send ``head`` and then ``body_chunks`` on a raw socket, stopping early
    (like a careful client) as soon as the server starts answering; then read
    the whole response. Connection resets while sending are tolerated: what
    matters is the response the server managed to send."""
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    received = b""
    try:
        def answered() -> bool:
            r, _, _ = select.select([sock], [], [], 0)
            return bool(r)

        try:
            for chunk in (head, *body_chunks):
                if answered():
                    break
                view = memoryview(chunk)
                while view:
                    if answered():
                        break
                    n = sock.send(view[:65536])
                    view = view[n:]
                else:
                    continue
                break
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received:
                resp = parse_http_response(received)
                cl = resp.headers.get("content-length")
                if cl is not None and len(resp.body) >= int(cl):
                    return resp
    finally:
        sock.close()
    assert received, "the server closed or reset the connection without sending any response"
    return parse_http_response(received)


# ---------------------------------------------------------------------------
# The botocore service model as an oracle.
# ---------------------------------------------------------------------------

_SERVICE_MODEL = None


def service_model():
    global _SERVICE_MODEL
    if _SERVICE_MODEL is None:
        _SERVICE_MODEL = botocore.session.get_session().get_service_model("medical-imaging")
    return _SERVICE_MODEL


def _full_match(pattern: str, value: str) -> bool:
    # The model's patterns use Java syntax; \p{ASCII} is the only class that
    # Python's re lacks among the ones used here.
    pattern = pattern.replace(r"\p{ASCII}", r"[\x00-\x7f]")
    return re.fullmatch(pattern, value) is not None


def validate_against_shape(value, shape, path="$") -> list[str]:
    """Check a raw (wire) JSON value against a botocore shape. Returns a list
    of problems; unknown keys, missing required members, wrong types, enum,
    pattern and length violations."""
    problems = []
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object, got {type(value).__name__}"]
        members = shape.members
        for k in value:
            if k not in members:
                problems.append(f"{path}: unknown key {k!r} (members: {sorted(members)})")
        for k in shape.required_members:
            if k not in value:
                problems.append(f"{path}: missing required member {k!r}")
        for k, v in value.items():
            if k in members:
                problems += validate_against_shape(v, members[k], f"{path}.{k}")
    elif t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected array, got {type(value).__name__}"]
        for i, v in enumerate(value):
            problems += validate_against_shape(v, shape.member, f"{path}[{i}]")
    elif t == "string":
        if not isinstance(value, str):
            return [f"{path}: expected string, got {value!r}"]
        md = shape.metadata
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in enum {shape.enum}")
        if "pattern" in md and not _full_match(md["pattern"], value):
            problems.append(f"{path}: {value!r} does not match pattern {md['pattern']!r}")
        if "min" in md and len(value) < md["min"]:
            problems.append(f"{path}: shorter than {md['min']}")
        if "max" in md and len(value) > md["max"]:
            problems.append(f"{path}: longer than {md['max']}")
    elif t == "timestamp":
        # restJson1 default: epoch seconds as a JSON number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: timestamp must be a JSON number (epoch seconds), got {value!r}")
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {value!r}")
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected integer, got {value!r}")
    return problems


def validate_output(operation: str, body: dict) -> list[str]:
    op = service_model().operation_model(operation)
    return validate_against_shape(body, op.output_shape)


def all_versions_raw(url: str, datastore_id: str, image_set_id: str, max_results: int | None = None) -> list[dict]:
    """Follow nextToken with raw HTTP; returns all items in order."""
    items, token, pages = [], None, 0
    while True:
        q = {}
        if max_results is not None:
            q["maxResults"] = max_results
        if token is not None:
            q["nextToken"] = token
        r = raw_request(url, "POST", list_path(datastore_id, image_set_id, **q))
        assert r.status == 200, r
        body = r.json()
        items += body["imageSetPropertiesList"]
        pages += 1
        assert pages < 10000, "pagination does not end"
        new = body.get("nextToken")
        if new is None:
            return items
        assert new != token, "the same nextToken was returned twice in a row"
        token = new


# ---------------------------------------------------------------------------
# A second fixture file served next to the seed: two datastores, three image
# sets, one of them with more versions than two default pages.
# ---------------------------------------------------------------------------

DS_A = "a0000000000000000000000000000001"
DS_B = "b0000000000000000000000000000002"
IS_A1 = "a1000000000000000000000000000001"
IS_A2 = "a2000000000000000000000000000002"
IS_B1 = "b1000000000000000000000000000001"  # the big one
BIG_N = 120
MULTI_DATASTORES = [
    datastore(DS_A, [image_set(IS_A1, 5), image_set(IS_A2, 3)], name="multi-a"),
    datastore(DS_B, [image_set(IS_B1, BIG_N)], name="multi-b"),
]


@pytest.fixture(scope="session")
def multi_server(tmp_path_factory):
    """A server on fixtures/seed.json plus a generated fixture file with
    MULTI_DATASTORES (two --fixtures options). Read-only."""
    d = tmp_path_factory.mktemp("multi-server")
    extra = write_fixture(d / "multi.json", MULTI_DATASTORES)
    factory = ServerFactory(d)
    s = factory.start(fixtures=(SEED_FIXTURE, extra))
    yield s
    factory.stop_all()

@pytest.fixture(scope="module")
def moto():
    """moto's S3 server on a free port, for this module."""
    from moto.server import ThreadedMotoServer

    from import_helpers import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
