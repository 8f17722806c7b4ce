"""TagResource / UntagResource / ListTagsForResource on datastore and image-set ARNs (percent-encoded)."""

from __future__ import annotations

import pytest

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, boto_client, cli_json, raw_request, run_cli

DS_ARN = f"arn:aws:medical-imaging:us-east-1:123456789012:datastore/{SEED_DATASTORE}"
IS_ARN = f"{DS_ARN}/imageset/{SEED_IMAGE_SET}"


def test_tags_with_boto3(fresh_server):
    c = boto_client(fresh_server.url)
    for arn in (DS_ARN, IS_ARN):
        assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {}
        c.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2", "env:x/y": ""})
        assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2", "env:x/y": ""}
        c.untag_resource(resourceArn=arn, tagKeys=["a", "missing"])
        assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2", "env:x/y": ""}
    assert c.list_tags_for_resource(resourceArn=DS_ARN)["tags"] != {} and \
        c.list_tags_for_resource(resourceArn=IS_ARN)["tags"] == {"b": "2", "env:x/y": ""}


def test_tag_errors(fresh_server):
    c = boto_client(fresh_server.url)
    with pytest.raises(c.exceptions.ValidationException):
        c.tag_resource(resourceArn=DS_ARN, tags={"aws:reserved": "x"})
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags_for_resource(resourceArn=DS_ARN.replace(SEED_DATASTORE, "0" * 32))
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags_for_resource(resourceArn=DS_ARN.replace("123456789012", "210987654321"))


def test_percent_encoded_slash_stays_one_segment(fresh_server):
    encoded = IS_ARN.replace(":", "%3A").replace("/", "%2F")
    r = raw_request(fresh_server.url, "GET", f"/tags/{encoded}")
    assert r.status == 200, r
    assert r.json() == {"tags": {}}
    r = raw_request(fresh_server.url, "GET", f"/tags/{IS_ARN}")  # unencoded: several segments, no route
    assert r.status == 404


def test_tags_with_the_cli(fresh_server):
    url = fresh_server.url
    rc, out, err = run_cli(url, "tag-resource", "--resource-arn", IS_ARN, "--tags", "k1=v1,k2=v2")
    assert rc == 0, err
    assert cli_json(url, "list-tags-for-resource", "--resource-arn", IS_ARN)["tags"] == {"k1": "v1", "k2": "v2"}
    rc, out, err = run_cli(url, "untag-resource", "--resource-arn", IS_ARN, "--tag-keys", "k1")
    assert rc == 0, err
    assert cli_json(url, "list-tags-for-resource", "--resource-arn", IS_ARN)["tags"] == {"k2": "v2"}
