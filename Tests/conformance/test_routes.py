"""Every operation of the botocore model has a route: none answers 404 / UnknownOperationException."""

from __future__ import annotations

import re

import pytest

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, boto_client, raw_request, run_cli, service_model

NOT_IMPLEMENTED: set[str] = set()
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


def test_no_operation_answers_501(server):
    """Every operation of the model is implemented: none answers NotImplementedException."""
    assert NOT_IMPLEMENTED == set()
    c = boto_client(server.url)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId="0" * 32)
    rc, out, err = run_cli(server.url, "list-dicom-import-jobs", "--datastore-id", SEED_DATASTORE)
    assert rc == 0, err
