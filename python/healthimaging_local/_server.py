"""Starting and stopping the healthimaging-local binary."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Union

from ._control import Control, FixtureLike, _Transport
from ._dicomweb import make_dicomweb_client

BINARY_NAME = "healthimaging-local"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
_URL_LINE = re.compile(r"^http://[^\s]+:(\d+)$")


class HealthImagingLocalError(RuntimeError):
    """The binary could not be found, did not start, or did not stop."""


def find_binary(explicit: Union[str, Path, None] = None) -> Path:
    """``explicit``, else ``$HIL_BINARY``, else the repository build ``.build/release/healthimaging-local``
    (of the checkout this package lives in, or of the current directory), else ``healthimaging-local`` on PATH."""
    if explicit is not None:
        p = Path(explicit)
        if not p.exists():
            raise HealthImagingLocalError(f"healthimaging-local binary not found at {p}")
        return p
    tried: List[str] = []
    env = os.environ.get("HIL_BINARY")
    if env:
        p = Path(env)
        if p.exists():
            return p
        tried.append(f"HIL_BINARY={env} (does not exist)")
    else:
        tried.append("HIL_BINARY (not set)")
    candidates = []
    here = Path(__file__).resolve()
    if (here.parents[1] / "pyproject.toml").exists():  # imported from the repository's python/ folder
        candidates.append(here.parents[2] / ".build" / "release" / BINARY_NAME)
    candidates.append(Path.cwd() / ".build" / "release" / BINARY_NAME)
    for c in candidates:
        if c.exists():
            return c
    tried.append("the repository build " + " or ".join(str(c) for c in dict.fromkeys(candidates)) + " (missing)")
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    tried.append(f"{BINARY_NAME} on PATH (not found)")
    raise HealthImagingLocalError(
        "cannot find the healthimaging-local binary; looked for " + "; ".join(tried)
        + ". Build it with scripts/build (swift build -c release --static-swift-stdlib) or set HIL_BINARY.")


class HealthImagingLocal(Control):
    """A healthimaging-local process on a free port, as a context manager::

        with HealthImagingLocal(fixtures=["fixtures/seed.json"]) as hil:
            client = hil.client()
            client.list_datastores()

    The control helpers (``load``, ``faults.add``, ``journal``, …) act on the default namespace
    (``account``/``region``); ``hil.namespace(account)`` binds them to another one.
    """

    def __init__(self, fixtures: Sequence[Union[str, Path]] = (), *, faults: Union[str, Path, None] = None,
                 args: Sequence[str] = (), binary: Union[str, Path, None] = None, host: str = "127.0.0.1",
                 port: int = 0, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION,
                 control_token: Optional[str] = None, argv: Optional[Sequence[str]] = None,
                 startup_timeout: float = 15.0, stop_timeout: float = 10.0, wait_ready: bool = True,
                 stderr: Union[IO[bytes], int, None] = None, cwd: Union[str, Path, None] = None,
                 env: Optional[Mapping[str, str]] = None) -> None:
        """``argv`` replaces the whole argument list (then host/port/fixtures/faults/account/region/args are
        not added). ``stderr`` defaults to the parent's stderr."""
        self.binary = find_binary(binary)
        if argv is not None:
            self.argv = list(argv)
        else:
            self.argv = ["--host", host, "--port", str(port)]
            for f in fixtures:
                self.argv += ["--fixtures", str(f)]
            if faults is not None:
                self.argv += ["--faults", str(faults)]
            if account != DEFAULT_ACCOUNT:
                self.argv += ["--account-id", account]
            if region != DEFAULT_REGION:
                self.argv += ["--region", region]
            if control_token is not None:
                self.argv += ["--control-token", control_token]
            self.argv += list(args)
        self.control_token = control_token
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.wait_ready = wait_ready
        self._stderr = stderr
        self._cwd = cwd
        self._env = dict(env) if env is not None else None
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.url = ""
        self.returncode: Optional[int] = None
        self.stdout_tail = b""
        super().__init__(_Transport("http://unstarted", control_token), account, region)

    # lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> "HealthImagingLocal":
        if self.process is not None:
            raise HealthImagingLocalError("already started")
        self.process = subprocess.Popen([str(self.binary), *self.argv], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._stderr, cwd=self._cwd, env=self._env)
        self.url = self._read_url()
        self._t.url = self.url
        if self.wait_ready:
            self._wait_ready()
        return self

    def _fail(self, reason: str) -> HealthImagingLocalError:
        self.kill()
        return HealthImagingLocalError(f"{reason}\ncommand: {self.binary} {' '.join(self.argv)}")

    def _read_url(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        fd = self.process.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"server printed no URL line within {self.startup_timeout}s (stdout so far {buf!r})")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                rc = self.process.wait(timeout=self.stop_timeout)
                self.returncode = rc
                raise self._fail(f"server exited with {rc} before printing its URL (stdout {buf!r})")
            buf += chunk
        first, _, self.stdout_tail = buf.partition(b"\n")
        line = first.decode("utf-8", "replace").strip()
        if not _URL_LINE.match(line):
            raise self._fail(f"first stdout line is not the endpoint URL: {line!r}")
        return line

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                if self.health().get("status") == "ready":
                    return
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = e
            time.sleep(0.02)
        raise self._fail(f"/_healthimaging/health not ready within {self.startup_timeout}s ({last})")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: Optional[float] = None) -> int:
        """Send ``sig`` (SIGTERM) and wait; returns the exit status (0 for a clean stop)."""
        if self.process is None:
            return 0
        timeout = self.stop_timeout if timeout is None else timeout
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise HealthImagingLocalError(f"server did not exit within {timeout}s of signal {sig}") from None
        self.returncode = self.process.returncode
        try:
            if self.process.stdout is not None and not self.process.stdout.closed:
                self.stdout_tail += self.process.stdout.read()
        except (OSError, ValueError):
            pass
        self._close()
        return self.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None and not self.process.stdout.closed:
            self.process.stdout.close()

    def __enter__(self) -> "HealthImagingLocal":
        return self.start()

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.stop()

    # clients and namespaces -----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def namespace(self, account: str, region: Optional[str] = None) -> "Namespace":
        """The control helpers and clients of another namespace (a 12-digit account)."""
        return Namespace(self, account, region or self.region)

    def client(self, service: str = "medical-imaging", account: Optional[str] = None,
               region: Optional[str] = None, **config: Any) -> Any:
        """A boto3 client for the emulator: endpoint set, host prefix off, and credentials whose access key id is
        the namespace's 12-digit account (the emulator derives the namespace from it). ``config`` goes to
        botocore's ``Config`` (e.g. ``retries={"mode": "standard", "max_attempts": 3}``)."""
        return make_client(self.url, service, account or self.account, region or self.region, **config)

    def dicomweb(self, datastore_id: str, account: Optional[str] = None, region: Optional[str] = None,
                 **kwargs: Any) -> Any:
        """A ``dicomweb_client.DICOMwebClient`` for one datastore (base URL ``http://127.0.0.1:PORT/datastore/<id>``),
        its requests SigV4-signed for the namespace's account (``UNSIGNED-PAYLOAD``). Needs the optional extra:
        ``pip install 'healthimaging-local[dicomweb]'``. ``kwargs`` go to ``DICOMwebClient``."""
        return make_dicomweb_client(self.url, datastore_id, account or self.account, region or self.region, **kwargs)


class Namespace(Control):
    """Control helpers and clients bound to one account + region of a running server."""

    def __init__(self, server: HealthImagingLocal, account: str, region: str) -> None:
        if not (len(account) == 12 and account.isdigit()):
            raise ValueError(f"account must be 12 digits, got {account!r}")
        super().__init__(server._t, account, region)
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, service: str = "medical-imaging", **config: Any) -> Any:
        return make_client(self.server.url, service, self.account, self.region, **config)

    def dicomweb(self, datastore_id: str, **kwargs: Any) -> Any:
        """``HealthImagingLocal.dicomweb`` for this namespace's account."""
        return make_dicomweb_client(self.server.url, datastore_id, self.account, self.region, **kwargs)


def make_client(url: str, service: str, account: str, region: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    base: Dict[str, Any] = {"inject_host_prefix": False, "connect_timeout": 10, "read_timeout": 60,
                            "retries": {"mode": "standard", "total_max_attempts": 1}}
    extra = config.pop("config", None)
    base.update(config)
    cfg = Config(**base)
    if extra is not None:
        cfg = cfg.merge(extra)
    session = boto3.session.Session(aws_access_key_id=account, aws_secret_access_key="healthimaging-local",
                                    region_name=region)
    return session.client(service, endpoint_url=url, config=cfg)
