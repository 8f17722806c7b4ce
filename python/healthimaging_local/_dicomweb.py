"""DICOMweb clients for the emulator: dicomweb-client (``pip install healthimaging-local[dicomweb]``) configured
with the base URL ``http://127.0.0.1:PORT/datastore/<id>``, the way HealthImaging's DICOMweb endpoint is used."""

from __future__ import annotations

import functools
from typing import Any

_MISSING = ("dicomweb() needs the dicomweb-client package: pip install 'healthimaging-local[dicomweb]' "
            "(or pip install dicomweb-client)")


@functools.lru_cache(maxsize=None)
def _botocore() -> tuple[Any, Any, Any]:
    """(a SigV4Auth whose payload hash is ``UNSIGNED-PAYLOAD``, AWSRequest, Credentials): botocore is imported, and
    the signer class defined, once, on the first signed request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class _Unsigned(SigV4Auth):
        def payload(self, request: Any) -> str:  # noqa: D401 - botocore's hook
            return "UNSIGNED-PAYLOAD"

    return _Unsigned, AWSRequest, Credentials


class _SigV4:
    """A ``requests`` auth hook signing each request with SigV4 (service ``medical-imaging``) and the payload hash
    ``UNSIGNED-PAYLOAD``, so that bodies streamed in chunks (STOW over 1 MB) need not be hashed. The emulator takes
    the namespace from the credential's access key id (the 12-digit account), as it does for boto3 clients. The
    Host header dicomweb-client sets (without the port) is the one signed, since that is the one sent."""

    def __init__(self, account: str, region: str, secret: str = "healthimaging-local") -> None:
        self.account = account
        self.region = region
        self.secret = secret

    def __call__(self, r: Any) -> Any:
        unsigned, AWSRequest, Credentials = _botocore()
        headers = {k: v for k, v in r.headers.items() if k.lower() in ("host", "content-type")}
        request = AWSRequest(method=r.method, url=r.url, headers=headers)
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        unsigned(Credentials(self.account, self.secret), "medical-imaging", self.region).add_auth(request)
        for name in ("Authorization", "X-Amz-Date", "x-amz-content-sha256"):
            r.headers[name] = request.headers[name]
        return r


def make_dicomweb_client(url: str, datastore_id: str, account: str, region: str, sign: bool = True,
                         **kwargs: Any) -> Any:
    """A ``dicomweb_client.DICOMwebClient`` for one datastore of the server at ``url``. With ``sign`` (default)
    every request carries a SigV4 Authorization naming ``account`` (so it reaches that namespace, and passes
    ``--verify-signatures`` when the secret matches); ``kwargs`` go to ``DICOMwebClient`` (``headers``,
    ``chunk_size``, …; a ``session`` given replaces the signing one)."""
    try:
        from dicomweb_client.api import DICOMwebClient
        from dicomweb_client.session_utils import create_session
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(_MISSING) from e
    if "session" not in kwargs:
        session = create_session()
        if sign:
            session.auth = _SigV4(account, region)
        kwargs["session"] = session
    return DICOMwebClient(url=f"{url.rstrip('/')}/datastore/{datastore_id}", **kwargs)


__all__ = ["make_dicomweb_client"]

