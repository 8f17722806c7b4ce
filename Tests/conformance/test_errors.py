"""Errors as clients see them: botocore's parsed error, the raw JSON error
document and headers, unknown routes, oversized requests."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from conftest import (
    DS_A,
    DS_B,
    IS_A1,
    IS_A2,
    IS_B1,
    SEED_DATASTORE,
    SEED_IMAGE_SET,
    boto_client,
    list_path,
    load_expected,
    raw_exchange,
    raw_request,
    run_cli,
)

UNKNOWN_ID = "0123456789abcdefghijklmnopqrstuv"


def check_client_error(client, exc: ClientError, code: str, status: int):
    resp = exc.response
    assert resp["Error"]["Code"] == code, resp
    msg = resp["Error"].get("Message")
    assert isinstance(msg, str) and msg.strip(), f"empty error message: {resp}"
    meta = resp["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status, resp
    headers = meta["HTTPHeaders"]  # botocore lower-cases the names
    assert headers.get("x-amzn-errortype") == code, headers
    rid = headers.get("x-amzn-requestid")
    assert rid, headers
    uuid.UUID(rid)
    assert meta.get("RequestId") == rid
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert isinstance(exc, getattr(client.exceptions, code)), type(exc)


def check_raw_error(r, code: str | None, status: int | tuple):
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status in statuses, r
    assert r.headers.get("content-type", "").startswith("application/json"), r
    assert not r.body.lstrip().startswith(b"<"), f"HTML error page: {r}"
    doc = json.loads(r.body)
    assert isinstance(doc, dict), r
    assert isinstance(doc.get("message"), str) and doc["message"].strip(), r
    etype = r.headers.get("x-amzn-errortype")
    assert etype, r
    assert doc.get("__type") == etype, r
    if code is not None:
        assert etype == code, r
    assert r.headers.get("x-amzn-requestid"), r
    return doc


def assert_still_serving(url):
    r = raw_request(url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.status == 200, r
    assert r.json() == load_expected("list-image-set-versions.json")


def seed_token(url, max_results=1):
    c = boto_client(url)
    return c.list_image_set_versions(
        datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=max_results
    )["nextToken"]


# ---------------------------------------------------------------------------
# Through boto3
# ---------------------------------------------------------------------------

MALFORMED_IDS = [
    "EA92B0D8838C72A3F25D00D13616F87E",  # upper case
    "ea92b0d8838c72a3f25d00d13616f87",  # 31 chars
    "ea92b0d8838c72a3f25d00d13616f87ee",  # 33 chars
    "ea92b0d8-838c-72a3-f25d-00d13616",  # dashes
    "ea92b0d8838c72a3f25d00d13616f87_",  # underscore
    "abc",
]


@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_malformed_datastore_id(server, bad):
    c = boto_client(server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=bad, imageSetId=SEED_IMAGE_SET)
    check_client_error(c, ei.value, "ValidationException", 400)


@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_malformed_image_set_id(server, bad):
    c = boto_client(server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=bad)
    check_client_error(c, ei.value, "ValidationException", 400)


def test_malformed_id_wins_over_unknown_datastore(server):
    c = boto_client(server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=UNKNOWN_ID, imageSetId="NOT-AN-ID")
    check_client_error(c, ei.value, "ValidationException", 400)


def test_max_results_51(server):
    c = boto_client(server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=51)
    check_client_error(c, ei.value, "ValidationException", 400)


def test_max_results_0_is_refused_by_botocore_itself(server):
    c = boto_client(server.url)
    with pytest.raises(ParamValidationError):
        c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=0)


TAMPERINGS = {
    "flip-middle-char": lambda t: t[: len(t) // 2] + ("A" if t[len(t) // 2] != "A" else "B") + t[len(t) // 2 + 1 :],
    "truncated": lambda t: t[: max(1, len(t) // 2)],
    "char-appended": lambda t: t + "A",
    "reversed": lambda t: t[::-1],
    "garbage": lambda t: "not-a-token",
    "one-char": lambda t: "x",
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_tampered_next_token(server, how):
    c = boto_client(server.url)
    token = seed_token(server.url)
    bad = TAMPERINGS[how](token)
    assert bad != token
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, nextToken=bad)
    check_client_error(c, ei.value, "ValidationException", 400)
    # the genuine token still works afterwards
    ok = c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, nextToken=token)
    assert [i["versionId"] for i in ok["imageSetPropertiesList"]] == ["3", "2", "1"]


def test_next_token_from_another_image_set(multi_server):
    c = boto_client(multi_server.url)
    tok = c.list_image_set_versions(datastoreId=DS_A, imageSetId=IS_A1, maxResults=1)["nextToken"]
    for ds, iset in ((DS_A, IS_A2), (DS_B, IS_B1), (SEED_DATASTORE, SEED_IMAGE_SET)):
        with pytest.raises(ClientError) as ei:
            c.list_image_set_versions(datastoreId=ds, imageSetId=iset, nextToken=tok)
        check_client_error(c, ei.value, "ValidationException", 400)


def test_unknown_datastore(server):
    c = boto_client(server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=UNKNOWN_ID, imageSetId=SEED_IMAGE_SET)
    check_client_error(c, ei.value, "ResourceNotFoundException", 404)


def test_unknown_image_set(server):
    c = boto_client(server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=UNKNOWN_ID)
    check_client_error(c, ei.value, "ResourceNotFoundException", 404)


def test_image_set_of_another_datastore_is_not_found(multi_server):
    c = boto_client(multi_server.url)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=DS_A, imageSetId=IS_B1)
    check_client_error(c, ei.value, "ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as ei:
        c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=IS_A1)
    check_client_error(c, ei.value, "ResourceNotFoundException", 404)


def test_cli_reports_service_errors(server):
    rc, out, err = run_cli(
        server.url, "list-image-set-versions", "--datastore-id", UNKNOWN_ID, "--image-set-id", SEED_IMAGE_SET
    )
    assert rc == 255, (rc, out, err)  # aws CLI v1's status for a service error
    assert "An error occurred (ResourceNotFoundException) when calling the ListImageSetVersions operation" in err
    assert out == ""


# ---------------------------------------------------------------------------
# Raw HTTP: values botocore would refuse or reshape.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "51", "-1", "abc", "1.5", "1e1", "99999999999999999999", " 5", "0x10"])
def test_max_results_out_of_range_or_not_an_integer(server, value):
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET, maxResults=value))
    check_raw_error(r, "ValidationException", 400)


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_raw_tampered_next_token(server, how):
    bad = TAMPERINGS[how](seed_token(server.url))
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET, nextToken=bad))
    check_raw_error(r, "ValidationException", 400)


def test_raw_next_token_of_model_max_length_reaches_validation(server):
    """The model allows nextToken up to 8192 characters, so a URI carrying
    one must not be refused as too long: a bogus one is a ValidationException."""
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET, nextToken="A" * 8192))
    check_raw_error(r, "ValidationException", 400)
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET, nextToken="A" * 8193))
    if r.status == 414:
        check_raw_error(r, None, 414)
    else:
        check_raw_error(r, "ValidationException", 400)


def test_raw_unknown_datastore_and_image_set(server):
    r = raw_request(server.url, "POST", list_path(UNKNOWN_ID, SEED_IMAGE_SET))
    check_raw_error(r, "ResourceNotFoundException", 404)
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, UNKNOWN_ID))
    check_raw_error(r, "ResourceNotFoundException", 404)


def test_raw_malformed_ids(server):
    r = raw_request(server.url, "POST", list_path("NOT-VALID", SEED_IMAGE_SET))
    check_raw_error(r, "ValidationException", 400)
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, "%2e%2e"))
    check_raw_error(r, "ValidationException", 400)


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/"),
        ("POST", "/"),
        ("GET", "/no/such/route"),
        ("POST", "/datastore/" + SEED_DATASTORE + "/imageSet/" + SEED_IMAGE_SET + "/noSuchOperation"),
        ("POST", "/datastore/" + SEED_DATASTORE + "/imageSet/" + SEED_IMAGE_SET + "/listImageSetVersions/extra"),
        ("GET", "/index.html"),
    ],
)
def test_unknown_route_is_a_json_error(server, method, path):
    r = raw_request(server.url, method, path)
    check_raw_error(r, None, 404)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_a_json_error(server, method):
    r = raw_request(server.url, method, list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    check_raw_error(r, None, (404, 405))


def test_keep_alive_connection_serves_many_requests(server):
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        for i in range(5):
            conn.request("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET), headers={"Content-Length": "0"})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (i, body)
            # an error in between must not break the connection either
            conn.request("POST", list_path(UNKNOWN_ID, SEED_IMAGE_SET), headers={"Content-Length": "0"})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 404, (i, body)
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Oversized requests: a JSON error, and the server keeps serving.
# ---------------------------------------------------------------------------


def _head(path: str, extra_headers: str = "", content_length: int = 0) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {content_length}\r\n"
        f"{extra_headers}Connection: close\r\n\r\n"
    ).encode()


def test_oversized_header(fresh_server):
    head = _head(list_path(SEED_DATASTORE, SEED_IMAGE_SET), f"X-Big: {'a' * 100 * 1024}\r\n")
    r = raw_exchange(fresh_server.url, head)
    check_raw_error(r, None, 431)
    assert_still_serving(fresh_server.url)


def test_many_headers(fresh_server):
    extra = "".join(f"X-H{i}: {'b' * 200}\r\n" for i in range(1000))
    r = raw_exchange(fresh_server.url, _head(list_path(SEED_DATASTORE, SEED_IMAGE_SET), extra))
    check_raw_error(r, None, 431)
    assert_still_serving(fresh_server.url)


def test_oversized_uri(fresh_server):
    path = "/datastore/" + "a" * 20 * 1024
    r = raw_exchange(fresh_server.url, _head(path))
    check_raw_error(r, None, 414)
    assert_still_serving(fresh_server.url)


def test_oversized_query_string(fresh_server):
    path = list_path(SEED_DATASTORE, SEED_IMAGE_SET) + "?nextToken=" + "A" * 20 * 1024
    r = raw_exchange(fresh_server.url, _head(path))
    check_raw_error(r, None, 414)
    assert_still_serving(fresh_server.url)


def test_oversized_body(fresh_server):
    size = 20 * 1024 * 1024
    chunk = b"x" * (1024 * 1024)
    head = _head(list_path(SEED_DATASTORE, SEED_IMAGE_SET), "Content-Type: application/json\r\n", size)
    r = raw_exchange(fresh_server.url, head, [chunk] * 20)
    check_raw_error(r, None, 413)
    assert_still_serving(fresh_server.url)


def test_oversized_requests_in_a_row(fresh_server):
    for _ in range(3):
        r = raw_exchange(fresh_server.url, _head(list_path(SEED_DATASTORE, SEED_IMAGE_SET), f"X-Big: {'a' * 65536}\r\n"))
        check_raw_error(r, None, 431)
        r = raw_exchange(fresh_server.url, _head("/datastore/" + "z" * 30000))
        check_raw_error(r, None, 414)
    assert_still_serving(fresh_server.url)
