"""CreateDatastore / GetDatastore / ListDatastores / DeleteDatastore with boto3 and the aws CLI."""

from __future__ import annotations

import pytest

from conftest import boto_client, cli_json, run_cli, validate_output
from lifecycle_helpers import create_active_datastore, seed_image_set, set_transitions, wait_for


def test_create_get_list_delete_with_boto3(fresh_server):
    c = boto_client(fresh_server.url)
    created = c.create_datastore(datastoreName="ds-one", clientToken="tok-1", tags={"team": "imaging"},
                                 losslessStorageFormat="JPEG_2000_LOSSLESS")
    ds = created["datastoreId"]
    assert created["datastoreStatus"] == "CREATING"
    again = c.create_datastore(datastoreName="ds-one", clientToken="tok-1", tags={"team": "imaging"},
                               losslessStorageFormat="JPEG_2000_LOSSLESS")
    assert again["datastoreId"] == ds
    with pytest.raises(c.exceptions.ConflictException):
        c.create_datastore(datastoreName="ds-two", clientToken="tok-1")

    props = c.get_datastore(datastoreId=ds)["datastoreProperties"]
    assert props["datastoreStatus"] == "ACTIVE"
    assert props["datastoreName"] == "ds-one"
    assert props["losslessStorageFormat"] == "JPEG_2000_LOSSLESS"
    assert props["datastoreArn"] == f"arn:aws:medical-imaging:us-east-1:123456789012:datastore/{ds}"
    assert c.list_tags_for_resource(resourceArn=props["datastoreArn"])["tags"] == {"team": "imaging"}

    ids = [s["datastoreId"] for s in c.list_datastores(datastoreStatus="ACTIVE")["datastoreSummaries"]]
    assert ds in ids

    image_set = seed_image_set(fresh_server.url, ds)
    with pytest.raises(c.exceptions.ConflictException):
        c.delete_datastore(datastoreId=ds)
    c.delete_image_set(datastoreId=ds, imageSetId=image_set)
    deleted = c.delete_datastore(datastoreId=ds)
    assert deleted["datastoreStatus"] == "DELETING"
    assert c.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreStatus"] == "DELETED"
    assert ds not in [s["datastoreId"] for s in c.list_datastores(datastoreStatus="ACTIVE")["datastoreSummaries"]]
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_datastore(datastoreId="0" * 32)


def test_responses_match_the_model(fresh_server):
    import json
    from conftest import raw_request
    r = raw_request(fresh_server.url, "POST", "/datastore", headers={"Content-Type": "application/json"},
                    body=json.dumps({"clientToken": "abc", "datastoreName": "m"}).encode())
    assert r.status == 200 and validate_output("CreateDatastore", r.json()) == []
    ds = r.json()["datastoreId"]
    r = raw_request(fresh_server.url, "GET", f"/datastore/{ds}")
    assert validate_output("GetDatastore", r.json()) == []
    r = raw_request(fresh_server.url, "GET", "/datastore")
    assert validate_output("ListDatastores", r.json()) == []


def test_list_datastores_paginates(fresh_server):
    c = boto_client(fresh_server.url)
    made = {c.create_datastore(datastoreName=f"p{i}")["datastoreId"] for i in range(5)}
    pages = list(c.get_paginator("list_datastores").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3
    seen = [s["datastoreId"] for p in pages for s in p["datastoreSummaries"]]
    assert len(seen) == len(set(seen))
    assert made <= set(seen)
    with pytest.raises(c.exceptions.ValidationException):
        c.list_datastores(maxResults=2, nextToken="garbage")


def test_datastores_with_the_cli(fresh_server):
    url = fresh_server.url
    created = cli_json(url, "create-datastore", "--datastore-name", "cli-ds", "--tags", "k=v")
    ds = created["datastoreId"]
    got = cli_json(url, "get-datastore", "--datastore-id", ds)["datastoreProperties"]
    assert got["datastoreStatus"] == "ACTIVE" and got["datastoreName"] == "cli-ds"
    listed = cli_json(url, "list-datastores", "--datastore-status", "ACTIVE")["datastoreSummaries"]
    assert ds in [s["datastoreId"] for s in listed]
    assert cli_json(url, "delete-datastore", "--datastore-id", ds)["datastoreStatus"] == "DELETING"
    rc, out, err = run_cli(url, "get-datastore", "--datastore-id", "0" * 32)
    assert rc != 0 and "ResourceNotFoundException" in err


def test_creating_to_active_waits_in_manual_mode(fresh_server):
    c = boto_client(fresh_server.url)
    set_transitions(fresh_server.url, datastore="manual:2")
    ds = c.create_datastore(datastoreName="slow")["datastoreId"]
    props, polls = wait_for(lambda: c.get_datastore(datastoreId=ds)["datastoreProperties"],
                            lambda p: p["datastoreStatus"] == "ACTIVE")
    assert polls == 3
