"""Issue 9 item 8: --verify-signatures checks SigV4 (header and presigned query) the way AWS does, and answers a
bad signature with AWS's status, x-amzn-ErrorType and message. Clients: boto3/botocore signing for real."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, boto_client, list_path, raw_request

MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.")
ALICE = "111111111111"


@pytest.fixture(scope="module")
def verifying(tmp_path_factory):
    from conftest import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("verifying"))
    creds = tmp_path_factory.mktemp("creds") / "credentials"
    creds.write_text("# key pairs\n[alice]\naws_access_key_id = 111111111111\naws_secret_access_key = alice-secret\n")
    s = factory.start(extra=("--verify-signatures", "--credentials", "test:test", "--credentials", "bob:bob:with:colons",
                             "--credentials-file", str(creds)))
    yield s
    factory.stop_all()


def client(url, access_key="test", secret="test", region="us-east-1", **config):
    session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret, region_name=region)
    cfg = Config(inject_host_prefix=False, retries={"total_max_attempts": 1, "mode": "standard"}, **config)
    return session.client("medical-imaging", endpoint_url=url, config=cfg)


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def list_versions(c):
    return c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)


def test_a_correct_signature_is_accepted(verifying):
    assert len(list_versions(client(verifying.url))["imageSetPropertiesList"]) == 4
    client(verifying.url, "bob", "bob:with:colons").list_datastores()
    # a 12-digit key from the credentials file is its own account, as without verification
    assert client(verifying.url, ALICE, "alice-secret").list_datastores()["datastoreSummaries"] == []
    # a path that is encoded twice in the canonical request (an ARN) and a body
    arn = f"arn:aws:medical-imaging:us-east-1:123456789012:datastore/{SEED_DATASTORE}"
    client(verifying.url).tag_resource(resourceArn=arn, tags={"k": "v w"})
    assert client(verifying.url).list_tags_for_resource(resourceArn=arn)["tags"] == {"k": "v w"}
    client(verifying.url).untag_resource(resourceArn=arn, tagKeys=["k", "x+y:z/w"])


def test_a_wrong_secret_is_invalid_signature(verifying):
    assert error_of(lambda: list_versions(client(verifying.url, secret="wrong"))) == (403, "InvalidSignatureException", MISMATCH)


def test_an_unknown_access_key_is_unrecognized_client(verifying):
    assert error_of(lambda: list_versions(client(verifying.url, access_key="AKIDUNKNOWN"))) == (
        403, "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_an_unsigned_request_is_missing_authentication_token(verifying):
    unsigned = client(verifying.url, signature_version=UNSIGNED)
    assert error_of(lambda: list_versions(unsigned)) == (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    r = raw_request(verifying.url, "GET", "/datastore")
    assert r.status == 403 and r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException", r
    # and the journal shows the refused call
    entries = raw_request(verifying.url, "GET", "/_healthimaging/journal?operation=ListDatastores").json()["entries"]
    assert entries[-1]["errorCode"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("authorization, expected", [
    ("AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/medical-imaging/aws4_request, SignedHeaders=host",
     "Authorization header requires 'Signature' parameter."),
    ("AWS4-HMAC-SHA256 Credential=test /20240101/us-east-1/medical-imaging/aws4_request, SignedHeaders=host, Signature=00",
     "'/20240101/us-east-1/medical-imaging/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header"),
    ("Bearer abc", "Authorization header requires 'Credential' parameter."),
])
def test_a_malformed_authorization_header_is_incomplete_signature(verifying, authorization, expected):
    r = raw_request(verifying.url, "GET", "/datastore", headers={"Authorization": authorization, "X-Amz-Date": "20240101T000000Z"})
    assert r.status == 400 and r.headers["x-amzn-errortype"] == "IncompleteSignatureException", r
    assert r.json()["__type"] == "IncompleteSignatureException" and expected in r.json()["message"], r.json()


def at(minutes_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=minutes_from_now)
    return mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: moment)


def test_a_skewed_date_is_signature_expired_or_not_yet_current(verifying):
    with at(-20):
        status, code, message = error_of(lambda: list_versions(client(verifying.url)))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired: ") and " is now earlier than " in message and message.endswith(" - 15 min.)"), message
    with at(+20):
        status, code, message = error_of(lambda: list_versions(client(verifying.url)))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature not yet current: ") and message.endswith(" + 15 min.)"), message
    with at(-10):  # within the 15 minutes AWS allows
        list_versions(client(verifying.url))


def tamper(c, change):
    c.meta.events.register("before-send.medical-imaging.*", lambda request, **kw: change(request))
    return c


def test_a_request_changed_after_signing_is_invalid_signature(verifying):
    def body(request):
        request.body = request.body.replace(b'"EQUAL"', b'"BETWEEN"') if request.body else b"{}"
        request.headers["Content-Length"] = str(len(request.body))

    c = tamper(client(verifying.url), body)
    criteria = {"filters": [{"values": [{"DICOMPatientId": "x"}], "operator": "EQUAL"}]}
    assert error_of(lambda: c.search_image_sets(datastoreId=SEED_DATASTORE, searchCriteria=criteria))[1:] == (
        "InvalidSignatureException", MISMATCH)

    def header(request):  # a signed header: the Host the client signed is not the one that arrives
        request.headers["Host"] = "localhost:1"

    assert error_of(lambda: list_versions(tamper(client(verifying.url), header)))[:2] == (403, "InvalidSignatureException")

    def scope(request):
        request.url = request.url.replace("listImageSetVersions", "listImageSetVersions?maxResults=1")

    assert error_of(lambda: list_versions(tamper(client(verifying.url), scope)))[:2] == (403, "InvalidSignatureException")


def test_a_credential_scoped_to_another_service_or_a_bad_region_is_refused(verifying):
    request = botocore.awsrequest.AWSRequest(method="GET", url=verifying.url + "/datastore")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    r = raw_request(verifying.url, "GET", "/datastore", headers=dict(request.headers.items()))
    assert r.status == 403 and r.json()["message"] == "Credential should be scoped to correct service: 'medical-imaging'. ", r
    request = botocore.awsrequest.AWSRequest(method="GET", url=verifying.url + "/datastore")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "medical-imaging", "moon-base").add_auth(request)
    r = raw_request(verifying.url, "GET", "/datastore", headers=dict(request.headers.items()))
    assert r.status == 403 and r.json()["message"] == "Credential should be scoped to a valid region. ", r


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_presigned_urls_are_checked(verifying):
    c = client(verifying.url)
    url = c.generate_presigned_url("get_datastore", Params={"datastoreId": SEED_DATASTORE}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url and "Authorization" not in url
    status, body = fetch(url)
    assert status == 200 and body["datastoreProperties"]["datastoreId"] == SEED_DATASTORE
    with at(-2):
        old = c.generate_presigned_url("get_datastore", Params={"datastoreId": SEED_DATASTORE}, ExpiresIn=60)
    status, body = fetch(old)
    assert (status, body["__type"]) == (403, "InvalidSignatureException") and body["message"].startswith("Signature expired: "), body
    status, body = fetch(url.replace(SEED_DATASTORE, "0" * 32))
    assert (status, body["__type"], body["message"]) == (403, "InvalidSignatureException", MISMATCH)
    wrong = client(verifying.url, secret="nope").generate_presigned_url("get_datastore", Params={"datastoreId": SEED_DATASTORE})
    assert fetch(wrong)[0] == 403
    status, body = fetch(url.split("X-Amz-Signature=")[0].rstrip("&"))
    assert (status, body["__type"]) == (400, "IncompleteSignatureException"), body
    assert "AWS query-string parameters must include 'X-Amz-Signature'" in body["message"]


def test_the_control_plane_is_not_signature_checked(verifying):
    assert raw_request(verifying.url, "GET", "/_healthimaging/health").status == 200


def test_verification_is_off_by_default(server):
    assert raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).status == 200
    assert list_versions(client(server.url, secret="wrong"))["imageSetPropertiesList"]
