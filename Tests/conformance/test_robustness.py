"""Malformed input never crashes the server or yields a non-JSON answer: a seeded stream of mangled requests
to every API route and control endpoint, then a check that the server still answers and changed nothing."""

from __future__ import annotations

import json
import random

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, list_path, raw_request

PATHS = [
    "/datastore", f"/datastore/{SEED_DATASTORE}", f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSet",
    f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/updateImageSetMetadata",
    f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/copyImageSet",
    f"/datastore/{SEED_DATASTORE}/searchImageSets", list_path(SEED_DATASTORE, SEED_IMAGE_SET),
    "/tags/arn%3Aaws%3Amedical-imaging%3Aus-east-1%3A123456789012%3Adatastore%2F" + SEED_DATASTORE,
    "/_healthimaging/fixtures", "/_healthimaging/faults", "/_healthimaging/reset", "/_healthimaging/transitions",
    "/_healthimaging/outcomes", f"/_healthimaging/datastores/{SEED_DATASTORE}/imageSets/{SEED_IMAGE_SET}/versions/2",
    f"/_healthimaging/datastores/{SEED_DATASTORE}/imageSets/{SEED_IMAGE_SET}/versions/9223372036854775807",
    f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSetMetadata",
]
BODIES = [
    b"", b"{", b"[]", b"null", b"\"x\"", b"{\"a\":", b"{\"datastores\": 5}", b"\xff\xfe\x00", b"{\"x\": 1e999999}",
    b"[" * 5000, b"{\"rules\": [{}]}", b"{\"imageSetState\": null}", b"{\"to\": 3}", b"\"\\ud800\"",
]
QUERIES = ["", "?maxResults=", "?maxResults=-1", "?version=9223372036854775807", "?version=99999999999999999999",
           "?latestVersion=9223372036854775807&force=true", "?nextToken=%", "?version=abc", "?latestVersion=99999999999999999999",
           "?force=maybe", "?a=%zz&&&=", "?nextToken=" + "A" * 9000]


def test_mangled_requests_get_json_errors_and_change_nothing(fresh_server):
    url = fresh_server.url
    before = raw_request(url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).body
    rng = random.Random(20261125)
    for _ in range(400):
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
        path = rng.choice(PATHS)
        if path.startswith("/_healthimaging/") and method in ("PUT", "POST", "DELETE") and ("reset" in path or "fixtures" in path or "faults" in path):
            # keep the state checkable: only bodies that cannot be valid go to state-changing control calls
            body = rng.choice([b"{", b"[]", b"\xff", b"{\"to\": 3}", b"{\"datastores\": 5}", b"{\"rules\": [{}]}"])
        else:
            body = rng.choice(BODIES)
        r = raw_request(url, method, path + rng.choice(QUERIES), body=body,
                        headers={"Content-Type": rng.choice(["application/json", "text/plain", "x/y"])})
        assert r.status < 500 or r.status == 501, (method, path, r)
        assert r.headers.get("content-type") == "application/json" or r.status == 200, (method, path, r)
        if r.status >= 400:
            doc = r.json()
            assert doc["__type"] == r.headers["x-amzn-errortype"] and doc["message"], (method, path, r)
        assert r.headers.get("x-amzn-requestid")
    assert fresh_server.alive()
    health = raw_request(url, "GET", "/_healthimaging/health").json()
    assert health["status"] == "ready"
    after = raw_request(url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).body
    assert json.loads(after)["imageSetPropertiesList"][0]["versionId"] == json.loads(before)["imageSetPropertiesList"][0]["versionId"]


def test_the_largest_numbers_are_answered_not_crashed_on(fresh_server):
    url = fresh_server.url
    base = f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}"
    for path in (f"{base}/getImageSet?version=9223372036854775807", f"{base}/getImageSetMetadata?version=9223372036854775807"):
        r = raw_request(url, "POST", path)
        assert r.status == 404 and r.json()["__type"] == "ResourceNotFoundException", r
    r = raw_request(url, "PATCH", f"/_healthimaging/datastores/{SEED_DATASTORE}/imageSets/{SEED_IMAGE_SET}/versions/9223372036854775807", body=b"{}")
    assert r.status == 404, r
    r = raw_request(url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/imageSets/{SEED_IMAGE_SET}/versions",
                    body=b'{"imageSetState": "ACTIVE", "versionId": "9223372036854775807"}')
    assert r.status == 400 and "$.versionId" in r.json()["message"], r
    r = raw_request(url, "POST", "/_healthimaging/fixtures", body=json.dumps({"datastores": [{"datastoreId": "f" * 32, "imageSets": [
        {"imageSetId": "e" * 32, "versions": [{"imageSetId": "e" * 32, "versionId": "9223372036854775807", "imageSetState": "ACTIVE"}]}]}]}).encode())
    assert r.status == 400 and "versionId" in r.json()["message"], r
    assert fresh_server.alive()
