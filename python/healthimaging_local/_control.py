"""The test-control plane (``/_healthimaging/``) as Python calls, one per endpoint.

Every namespace-scoped call sends ``?account=&region=`` explicitly, and the bearer token when one is set,
so the helpers act on exactly the namespace they are bound to.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

JSON = Any
FixtureLike = Union[str, Path, Mapping[str, Any]]


class ControlPlaneError(Exception):
    """A control-plane call was refused. ``message`` is the server's text, which names each bad field by its
    JSON path (``$.rules[0].error.code: ...``); ``code`` is its ``x-amzn-ErrorType``."""

    def __init__(self, status: int, code: str, message: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path} → {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path


class _Transport:
    """Plain HTTP to one server."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, Any]] = None,
             raw_body: Optional[bytes] = None) -> JSON:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        full = path + ("?" + urllib.parse.urlencode(q) if q else "")
        data: Optional[bytes] = raw_body
        if data is None and body is not None:
            data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        req = urllib.request.Request(self.url + full, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=self.timeout) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            payload = e.read()
            code, message = "HTTPError", payload.decode("utf-8", "replace")
            try:
                doc = json.loads(payload)
                code = doc.get("__type", e.headers.get("x-amzn-ErrorType", code))
                message = doc.get("message", message)
            except (ValueError, AttributeError):
                code = e.headers.get("x-amzn-ErrorType", code) if e.headers else code
            raise ControlPlaneError(e.code, str(code), str(message), method, full) from None
        return json.loads(text) if text.strip() else None


def _fixture_document(fixture: FixtureLike) -> bytes:
    if isinstance(fixture, Mapping):
        return json.dumps(fixture).encode()
    return Path(fixture).read_bytes()


class Faults:
    """``/_healthimaging/faults``. ``add`` returns a `FaultRules` handle that is also a context manager."""

    def __init__(self, control: "Control") -> None:
        self._c = control

    def add(self, operation: Optional[str] = None, *, error: Union[str, Mapping[str, Any], None] = None,
            message: Optional[str] = None, latency_ms: Optional[int] = None, times: Optional[int] = None,
            probability: Optional[float] = None, datastore_id: Optional[str] = None,
            image_set_id: Optional[str] = None, rules: Optional[Sequence[Mapping[str, Any]]] = None,
            **extra: Any) -> "FaultRules":
        """POST one rule (keyword form) or ``rules=[...]`` (the wire form, all or nothing).
        ``error`` is an error code (``"ThrottlingException"``) or ``{"code": …, "message": …}``."""
        if rules is not None:
            body: Dict[str, Any] = {"rules": list(rules)}
        else:
            if operation is None:
                raise TypeError("faults.add needs an operation (or rules=[...])")
            body = {"operation": operation}
            if isinstance(error, str):
                body["error"] = {"code": error, **({"message": message} if message else {})}
            elif error is not None:
                body["error"] = dict(error)
            for key, value in (("latencyMs", latency_ms), ("times", times), ("probability", probability),
                               ("datastoreId", datastore_id), ("imageSetId", image_set_id)):
                if value is not None:
                    body[key] = value
            body.update(extra)
        added = self._c._call("POST", "/_healthimaging/faults", body)["rules"]
        return FaultRules(self, added)

    def list(self) -> JSON:
        """``{"seed": N, "rules": [...]}``"""
        return self._c._call("GET", "/_healthimaging/faults")

    def delete(self, rule_id: str) -> JSON:
        return self._c._call("DELETE", "/_healthimaging/faults/" + urllib.parse.quote(rule_id, safe=""))

    def clear(self) -> JSON:
        return self._c._call("DELETE", "/_healthimaging/faults")

    def replace(self, rules: Sequence[Mapping[str, Any]], seed: Optional[int] = None) -> JSON:
        """PUT the ``--faults`` file format: replaces every rule."""
        body: Dict[str, Any] = {"rules": list(rules)}
        if seed is not None:
            body["seed"] = seed
        return self._c._call("PUT", "/_healthimaging/faults", body)


class FaultRules(AbstractContextManager):
    """The rules one ``faults.add`` created; ``with`` deletes them when the block ends."""

    def __init__(self, faults: Faults, rules: List[Dict[str, Any]]) -> None:
        self._faults = faults
        self.rules = rules

    @property
    def ids(self) -> List[str]:
        return [r["id"] for r in self.rules]

    @property
    def id(self) -> str:
        return self.ids[0]

    def __getitem__(self, key: str) -> Any:
        return self.rules[0][key]

    def delete(self) -> None:
        for rule_id in self.ids:
            try:
                self._faults.delete(rule_id)
            except ControlPlaneError as e:
                if e.status != 404:  # already gone (a reset) is fine
                    raise

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.delete()


class Outcomes:
    """``/_healthimaging/outcomes``: planned UPDATE_FAILED / COPY_FAILED results."""

    def __init__(self, control: "Control") -> None:
        self._c = control

    def add(self, operation: str, datastore_id: str, image_set_id: Optional[str] = None,
            outcome: Optional[str] = None, message: Optional[str] = None) -> JSON:
        body: Dict[str, Any] = {"operation": operation, "datastoreId": datastore_id}
        for key, value in (("imageSetId", image_set_id), ("outcome", outcome), ("message", message)):
            if value is not None:
                body[key] = value
        return self._c._call("POST", "/_healthimaging/outcomes", body, scoped=True)

    def list(self) -> JSON:
        return self._c._call("GET", "/_healthimaging/outcomes", scoped=True)

    def clear(self) -> JSON:
        return self._c._call("DELETE", "/_healthimaging/outcomes", scoped=True)


class Control:
    """The control plane bound to one namespace (account + region)."""

    def __init__(self, transport: _Transport, account: str, region: str) -> None:
        self._t = transport
        self.account = account
        self.region = region
        self.faults = Faults(self)
        self.outcomes = Outcomes(self)

    def _call(self, method: str, path: str, body: Any = None, *, scoped: bool = True,
              query: Optional[Mapping[str, Any]] = None, raw_body: Optional[bytes] = None) -> JSON:
        q: Dict[str, Any] = {}
        if scoped:
            q.update(account=self.account, region=self.region)
        q.update(query or {})
        return self._t.call(method, path, body, q, raw_body)

    # fixtures
    def load(self, fixture: FixtureLike) -> JSON:
        """POST a fixture document (a path or a dict) into this namespace; all or nothing."""
        return self._call("POST", "/_healthimaging/fixtures", raw_body=_fixture_document(fixture))

    def export(self) -> JSON:
        """This namespace's whole state in the fixture format."""
        return self._call("GET", "/_healthimaging/fixtures")

    def reset(self, to: str = "startup") -> JSON:
        """Reset this namespace only (``to="startup"`` reloads the startup fixtures if it is the default one)."""
        return self._call("POST", "/_healthimaging/reset", {"to": to})

    # versions
    def set_version_state(self, datastore_id: str, image_set_id: str, version_id: Union[str, int],
                          **members: Any) -> JSON:
        """PATCH a version: ``imageSetState=``, ``ImageSetWorkflowStatus=`` (or ``workflow_status=``),
        ``message=``, ``isPrimary=``, … (None clears an optional member)."""
        return self._call("PATCH", _version_path(datastore_id, image_set_id) + "/" + str(version_id),
                          _members(members))

    def add_version(self, datastore_id: str, image_set_id: str, **members: Any) -> JSON:
        """POST a new version (``imageSetState`` required; ``versionId`` defaults to latest + 1)."""
        return self._call("POST", _version_path(datastore_id, image_set_id), _members(members))

    def seed_image_set(self, datastore_id: str, image_set_id: Optional[str] = None, *,
                       metadata: Optional[Mapping[str, Any]] = None, is_primary: Optional[bool] = None,
                       tags: Optional[Mapping[str, str]] = None) -> JSON:
        """An image set as a finished import makes it, in a datastore created at run time."""
        body: Dict[str, Any] = {}
        for key, value in (("imageSetId", image_set_id), ("metadata", metadata), ("isPrimary", is_primary),
                           ("tags", tags)):
            if value is not None:
                body[key] = value
        return self._call("POST", "/_healthimaging/datastores/" + datastore_id + "/imageSets", body)

    # transitions
    def transitions(self, datastore: Any = None, image_set: Any = None) -> JSON:
        """GET the transition modes, or PUT them when ``datastore=`` / ``image_set=`` is given
        (``"manual"``, ``"manual:2"``, ``"timed:500"``, ``{"mode": "manual", "reads": 2}``)."""
        body: Dict[str, Any] = {}
        if datastore is not None:
            body["datastore"] = datastore
        if image_set is not None:
            body["imageSet"] = image_set
        if not body:
            return self._call("GET", "/_healthimaging/transitions")
        return self._call("PUT", "/_healthimaging/transitions", body)

    def advance(self, datastore_id: Optional[str] = None, image_set_id: Optional[str] = None) -> JSON:
        body: Dict[str, Any] = {}
        if datastore_id is not None:
            body["datastoreId"] = datastore_id
        if image_set_id is not None:
            body["imageSetId"] = image_set_id
        return self._call("POST", "/_healthimaging/transitions/advance", body)

    # journal, health
    def journal(self, operation: Optional[str] = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """This namespace's journal entries, oldest first (``?operation=&limit=``)."""
        return self._call("GET", "/_healthimaging/journal", query={"operation": operation, "limit": limit})["entries"]

    def clear_journal(self) -> JSON:
        return self._call("DELETE", "/_healthimaging/journal")

    def events(self, detail_type: Optional[str] = None, datastore_id: Optional[str] = None,
               image_set_id: Optional[str] = None, since: Optional[int] = None,
               limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """This namespace's EventBridge events, oldest first: ``{"sequence", "event", "delivery", "fault"}`` each
        (``?detailType=&datastoreId=&imageSetId=&since=&limit=``; docs/events-and-time.md)."""
        return self._call("GET", "/_healthimaging/events", query={
            "detailType": detail_type, "datastoreId": datastore_id, "imageSetId": image_set_id, "since": since,
            "limit": limit})["events"]

    def clear_events(self) -> JSON:
        return self._call("DELETE", "/_healthimaging/events")

    def health(self) -> JSON:
        return self._call("GET", "/_healthimaging/health")

    def reset_all(self, to: str = "startup") -> JSON:
        """Reset every namespace (``?scope=all``): data, fault rules, modes, outcomes and the journal."""
        return self._call("POST", "/_healthimaging/reset", {"to": to}, scoped=False, query={"scope": "all"})


def _version_path(datastore_id: str, image_set_id: str) -> str:
    return f"/_healthimaging/datastores/{datastore_id}/imageSets/{image_set_id}/versions"


_ALIASES = {"workflow_status": "ImageSetWorkflowStatus", "state": "imageSetState", "is_primary": "isPrimary",
            "version_id": "versionId", "created_at": "createdAt", "updated_at": "updatedAt",
            "deleted_at": "deletedAt"}


def _members(members: Mapping[str, Any]) -> Dict[str, Any]:
    return {_ALIASES.get(k, k): v for k, v in members.items()}
