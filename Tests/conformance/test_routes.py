"""Every operation of the botocore model has a route: none answers 404 / UnknownOperationException."""

from __future__ import annotations

import re

import pytest

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, boto_client, raw_request, run_cli, service_model

NOT_IMPLEMENTED = {"GetImageFrame"}
ARN = f"arn:aws:medical-imaging:us-east-1:123456789012:datastore/{SEED_DATASTORE}"


def fill(uri: str) -> str:
    values = {
        "datastoreId": SEED_DATASTORE, "imageSetId": SEED_IMAGE_SET, "sourceImageSetId": SEED_IMAGE_SET,
        "jobId": "0" * 32, "resourceArn": ARN.replace(":", "%3A").replace("/", "%2F"),
    }
    return re.sub(r"\{(\w+)\+?\}", lambda m: values[m.group(1)], uri.split("?")[0])


@pytest.mark.parametrize("operation", service_model().operation_names)
def test_every_model_operation_has_a_route(server, operation):
    http = service_model().operation_model(operation).http
    r = raw_request(server.url, http["method"], fill(http["requestUri"]), body=b"{}" if http["method"] in ("POST", "PUT") else None)
    assert r.status != 404 or r.headers.get("x-amzn-errortype") == "ResourceNotFoundException", r
    assert r.headers.get("x-amzn-errortype") not in ("UnknownOperationException", "MethodNotAllowedException"), r
    if operation in NOT_IMPLEMENTED:
        assert r.status == 501, r
        assert r.headers["x-amzn-errortype"] == "NotImplementedException"
        assert r.headers["content-type"] == "application/json"
        assert operation in r.json()["message"]


def test_unimplemented_operations_with_boto3(server):
    c = boto_client(server.url)
    calls = {
        "GetImageFrame": lambda: c.get_image_frame(
            datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, imageFrameInformation={"imageFrameId": "a" * 32}),
    }
    for name, call in calls.items():
        with pytest.raises(c.exceptions.ClientError) as info:
            call()
        err = info.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 501, name
        assert err["Error"]["Code"] == "NotImplementedException", name
        assert name in err["Error"]["Message"]


def test_unimplemented_operation_with_the_cli(server):
    rc, out, err = run_cli(server.url, "get-image-frame", "--datastore-id", SEED_DATASTORE, "--image-set-id", SEED_IMAGE_SET,
                           "--image-frame-information", "imageFrameId=" + "a" * 32, "/dev/null")
    assert rc != 0
    assert "NotImplementedException" in err and "GetImageFrame" in err
