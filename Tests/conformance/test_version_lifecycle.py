"""The version lifecycle with real clients: create datastore → seed image set → update twice → revert →
copy to a mismatched destination (COPY_FAILED) → copy with force → delete, and the versions it leaves;
async states in every transition mode; planned failures; metadata; search."""

from __future__ import annotations

import base64
import gzip
import json
import time

import pytest

from conftest import (
    SEED_DATASTORE, SEED_IMAGE_SET, boto_client, cli_json, hex_id, raw_request, run_cli, validate_output,
)
from lifecycle_helpers import (
    control, create_active_datastore, document, seed_image_set, set_transitions, wait_for,
)

SERIES_MISMATCH = "INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match."


def attrs(payload: dict) -> bytes:
    return json.dumps({"SchemaVersion": 1.1, **payload}).encode()


def versions(c, ds, image_set):
    pages = c.get_paginator("list_image_set_versions").paginate(datastoreId=ds, imageSetId=image_set)
    return {v["versionId"]: v for p in pages for v in p["imageSetPropertiesList"]}


def metadata(c, ds, image_set, version=None):
    kw = {"versionId": version} if version else {}
    r = c.get_image_set_metadata(datastoreId=ds, imageSetId=image_set, **kw)
    assert r["contentType"] == "application/json"
    assert r["contentEncoding"] == "gzip"
    return json.loads(gzip.decompress(r["imageSetMetadataBlob"].read()))


def settled(c, ds, image_set):
    return wait_for(lambda: c.get_image_set(datastoreId=ds, imageSetId=image_set),
                    lambda r: r["imageSetState"] != "LOCKED")[0]


def test_the_lifecycle_story_with_boto3(fresh_server):
    c = boto_client(fresh_server.url)
    ds = create_active_datastore(c)
    source = seed_image_set(fresh_server.url, ds, document("CT"))
    target = seed_image_set(fresh_server.url, ds, document("MR"))  # same series UID, other Modality

    # Two updates.
    r = c.update_image_set_metadata(
        datastoreId=ds, imageSetId=source, latestVersionId="1",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": attrs({"Patient": {"DICOM": {"PatientName": "Roe^Ann"}}})}})
    assert (r["latestVersionId"], r["imageSetState"], r["imageSetWorkflowStatus"]) == ("2", "LOCKED", "UPDATING")
    settled(c, ds, source)
    with pytest.raises(c.exceptions.ConflictException):  # stale latestVersionId
        c.update_image_set_metadata(datastoreId=ds, imageSetId=source, latestVersionId="1",
                                    updateImageSetMetadataUpdates={"revertToVersionId": "1"})
    c.update_image_set_metadata(
        datastoreId=ds, imageSetId=source, latestVersionId="2", force=True,
        updateImageSetMetadataUpdates={"DICOMUpdates": {"removableAttributes": attrs({"Study": {"DICOM": {"AccessionNumber": "A1"}}})}})
    settled(c, ds, source)
    assert "AccessionNumber" not in metadata(c, ds, source)["Study"]["DICOM"]
    assert metadata(c, ds, source, "2")["Patient"]["DICOM"]["PatientName"] == "Roe^Ann"

    # Revert to version 1.
    c.update_image_set_metadata(datastoreId=ds, imageSetId=source, latestVersionId="3",
                                updateImageSetMetadataUpdates={"revertToVersionId": "1"})
    got = settled(c, ds, source)
    assert (got["versionId"], got["imageSetState"], got["imageSetWorkflowStatus"]) == ("4", "ACTIVE", "UPDATED")
    assert metadata(c, ds, source)["Patient"]["DICOM"]["PatientName"] == "Doe^Jane"

    # Copy into a destination whose series attributes differ: COPY_FAILED.
    r = c.copy_image_set(datastoreId=ds, sourceImageSetId=source, copyImageSetInformation={
        "sourceImageSet": {"latestVersionId": "4"}, "destinationImageSet": {"imageSetId": target, "latestVersionId": "1"}})
    assert r["sourceImageSetProperties"]["imageSetWorkflowStatus"] == "COPYING_WITH_READ_ONLY_ACCESS"
    assert r["sourceImageSetProperties"]["latestVersionId"] == "4"
    assert r["destinationImageSetProperties"]["latestVersionId"] == "2"
    assert r["destinationImageSetProperties"]["imageSetWorkflowStatus"] == "COPYING"
    failed = settled(c, ds, target)
    assert (failed["imageSetState"], failed["imageSetWorkflowStatus"], failed["message"]) == ("ACTIVE", "COPY_FAILED", SERIES_MISMATCH)

    # With force it goes through.
    settled(c, ds, source)
    r = c.copy_image_set(datastoreId=ds, sourceImageSetId=source, force=True, copyImageSetInformation={
        "sourceImageSet": {"latestVersionId": "4"}, "destinationImageSet": {"imageSetId": target, "latestVersionId": "2"}})
    copied = settled(c, ds, target)
    assert (copied["versionId"], copied["imageSetWorkflowStatus"], copied["overrides"]) == ("3", "COPIED", {"forced": True})
    assert settled(c, ds, source)["imageSetWorkflowStatus"] == "COPIED"

    # Delete.
    r = c.delete_image_set(datastoreId=ds, imageSetId=source)
    assert (r["imageSetState"], r["imageSetWorkflowStatus"]) == ("LOCKED", "DELETING")
    gone = settled(c, ds, source)
    assert (gone["imageSetState"], gone["imageSetWorkflowStatus"]) == ("DELETED", "DELETED")
    assert "deletedAt" in gone

    src = versions(c, ds, source)
    assert sorted(src, key=int) == ["1", "2", "3", "4"]
    assert src["1"]["ImageSetWorkflowStatus"] == "CREATED"
    assert src["2"]["ImageSetWorkflowStatus"] == "UPDATED" and "overrides" not in src["2"]
    assert src["3"]["overrides"] == {"forced": True}
    assert src["4"]["imageSetState"] == "DELETED" and "deletedAt" in src["4"]
    dst = versions(c, ds, target)
    assert dst["2"]["ImageSetWorkflowStatus"] == "COPY_FAILED" and dst["2"]["message"] == SERIES_MISMATCH
    assert dst["3"]["ImageSetWorkflowStatus"] == "COPIED" and dst["3"]["overrides"] == {"forced": True}
    assert all(v["createdAt"] == dst["1"]["createdAt"] for v in dst.values())


def test_the_lifecycle_story_with_the_cli(fresh_server, tmp_path):
    url = fresh_server.url
    ds = cli_json(url, "create-datastore", "--datastore-name", "cli-story")["datastoreId"]
    source = seed_image_set(url, ds, document("CT"))
    target = seed_image_set(url, ds, document("MR"))
    common = ["--datastore-id", ds, "--image-set-id", source]
    updates = tmp_path / "updates.json"
    updates.write_text(json.dumps({"DICOMUpdates": {"updatableAttributes": attrs({"Study": {"DICOM": {"StudyDescription": "cli"}}}).decode()}}))
    r = cli_json(url, "update-image-set-metadata", *common, "--latest-version-id", "1",
                 "--update-image-set-metadata-updates", f"file://{updates}")
    assert r["latestVersionId"] == "2" and r["imageSetState"] == "LOCKED"
    cli_json(url, "update-image-set-metadata", *common, "--latest-version-id", "2",
             "--update-image-set-metadata-updates", '{"revertToVersionId": "1"}')
    got = cli_json(url, "get-image-set", *common)
    assert (got["versionId"], got["imageSetWorkflowStatus"]) == ("3", "UPDATED")
    assert cli_json(url, "get-image-set", *common, "--version-id", "2")["versionId"] == "2"
    out = tmp_path / "meta.json.gz"
    rc, _, err = run_cli(url, "get-image-set-metadata", *common, "--version-id", "2", str(out))
    assert rc == 0, err
    assert json.loads(gzip.decompress(out.read_bytes()))["Study"]["DICOM"]["StudyDescription"] == "cli"
    info = {"sourceImageSet": {"latestVersionId": "3"}, "destinationImageSet": {"imageSetId": target, "latestVersionId": "1"}}
    cli_json(url, "copy-image-set", "--datastore-id", ds, "--source-image-set-id", source,
             "--copy-image-set-information", json.dumps(info))
    listed = cli_json(url, "list-image-set-versions", "--datastore-id", ds, "--image-set-id", target)["imageSetPropertiesList"]
    assert listed[0]["ImageSetWorkflowStatus"] == "COPY_FAILED" and listed[0]["message"] == SERIES_MISMATCH
    info["destinationImageSet"]["latestVersionId"] = "2"
    cli_json(url, "copy-image-set", "--datastore-id", ds, "--source-image-set-id", source, "--force",
             "--copy-image-set-information", json.dumps(info))
    r = cli_json(url, "delete-image-set", *common)
    assert r["imageSetWorkflowStatus"] == "DELETING"
    assert cli_json(url, "get-image-set", *common)["imageSetState"] == "DELETED"
    listed = cli_json(url, "list-image-set-versions", "--datastore-id", ds, "--image-set-id", target)["imageSetPropertiesList"]
    assert [(v["versionId"], v["ImageSetWorkflowStatus"]) for v in listed] == [("3", "COPIED"), ("2", "COPY_FAILED"), ("1", "CREATED")]
    assert listed[0]["overrides"] == {"forced": True}


def test_copy_to_a_new_image_set_and_promote(fresh_server):
    c = boto_client(fresh_server.url)
    r = c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=SEED_IMAGE_SET, promoteToPrimary=True,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "4"}})
    new = r["destinationImageSetProperties"]
    assert new["imageSetId"] != SEED_IMAGE_SET and new["latestVersionId"] == "1"
    assert new["imageSetArn"].endswith(f"/imageset/{new['imageSetId']}")
    got = settled(c, SEED_DATASTORE, new["imageSetId"])
    assert (got["imageSetWorkflowStatus"], got["isPrimary"]) == ("COPIED", True)
    assert metadata(c, SEED_DATASTORE, new["imageSetId"])["ImageSetID"] == new["imageSetId"]


@pytest.mark.parametrize("mode", ["immediate", "manual:3", "timed:300", "manual"])
def test_waits_on_async_states_in_each_mode(fresh_server, mode):
    url = fresh_server.url
    c = boto_client(url)
    set_transitions(url, imageSet=mode)
    r = c.update_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId="4",
                                    updateImageSetMetadataUpdates={"revertToVersionId": "3"})
    assert (r["imageSetState"], r["imageSetWorkflowStatus"]) == ("LOCKED", "UPDATING")
    started = time.monotonic()
    if mode == "manual":
        for _ in range(5):
            assert c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["imageSetState"] == "LOCKED"
        with pytest.raises(c.exceptions.ConflictException):
            c.update_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId="5",
                                        updateImageSetMetadataUpdates={"revertToVersionId": "3"})
        assert control(url, "POST", "transitions/advance", {"datastoreId": SEED_DATASTORE}).json() == {"applied": 1}
    got, polls = wait_for(lambda: c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET),
                          lambda g: g["imageSetState"] == "ACTIVE", interval=0.02)
    assert got["imageSetWorkflowStatus"] == "UPDATED" and got["versionId"] == "5"
    if mode == "immediate":
        assert polls == 1
    elif mode == "manual:3":
        assert polls == 4
    elif mode.startswith("timed"):
        assert time.monotonic() - started >= 0.25 and polls > 1


def test_transition_control_endpoints(fresh_server):
    url = fresh_server.url
    assert control(url, "GET", "transitions").json() == {"datastore": "immediate", "imageSet": "immediate",
                                                         "importJob": "immediate", "pending": 0}
    r = set_transitions(url, datastore={"mode": "timed", "millis": 50}, imageSet={"mode": "manual", "reads": 2})
    assert (r["datastore"], r["imageSet"]) == ("timed:50", "manual:2")
    for bad in ({"imageSet": "eventually"}, {"imageSet": {"mode": "timed"}}, {"widgets": "manual"}, {"imageSet": "manual:x"}):
        r = control(url, "PUT", "transitions", bad, expect=400)
        assert r.headers["x-amzn-errortype"] == "ValidationException"


def test_the_cli_flag_sets_the_default_mode(servers):
    s = servers.start(extra=["--transitions", "manual:1"])
    assert control(s.url, "GET", "transitions").json()["imageSet"] == "manual:1"
    c = boto_client(s.url)
    c.delete_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["imageSetState"] == "LOCKED"
    assert c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["imageSetState"] == "DELETED"


def test_planned_failures(fresh_server):
    url = fresh_server.url
    c = boto_client(url)
    control(url, "POST", "outcomes", {"operation": "UpdateImageSetMetadata", "datastoreId": SEED_DATASTORE,
                                      "imageSetId": SEED_IMAGE_SET, "message": "INTERNAL_ERROR: disk full"})
    assert len(control(url, "GET", "outcomes").json()["outcomes"]) == 1
    c.update_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId="4",
                                updateImageSetMetadataUpdates={"revertToVersionId": "3"})
    got = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert (got["imageSetState"], got["imageSetWorkflowStatus"], got["message"]) == ("ACTIVE", "UPDATE_FAILED", "INTERNAL_ERROR: disk full")
    assert control(url, "GET", "outcomes").json()["outcomes"] == []

    control(url, "POST", "outcomes", {"operation": "CopyImageSet", "datastoreId": SEED_DATASTORE, "outcome": "COPY_FAILED"})
    r = c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=SEED_IMAGE_SET,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "5"}})
    new = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=r["destinationImageSetProperties"]["imageSetId"])
    assert new["imageSetWorkflowStatus"] == "COPY_FAILED" and new["message"].startswith("INTERNAL_ERROR")
    source = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert source["imageSetState"] == "ACTIVE"

    for bad in ({"operation": "DeleteImageSet", "datastoreId": SEED_DATASTORE},
                {"operation": "CopyImageSet", "datastoreId": SEED_DATASTORE, "outcome": "UPDATE_FAILED"},
                {"operation": "CopyImageSet", "datastoreId": SEED_DATASTORE, "message": "no = allowed"}):
        control(url, "POST", "outcomes", bad, expect=400)
    assert control(url, "DELETE", "outcomes").json() == {"cleared": 0}


def test_update_errors(fresh_server):
    url = fresh_server.url
    c = boto_client(url)
    base = f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/updateImageSetMetadata?latestVersion=4"
    both = {"revertToVersionId": "1", "DICOMUpdates": {"updatableAttributes": base64.b64encode(attrs({})).decode()}}
    r = raw_request(url, "POST", base, headers={"Content-Type": "application/json"}, body=json.dumps(both).encode())
    assert r.status == 400 and r.headers["x-amzn-errortype"] == "ValidationException"
    r = raw_request(url, "POST", base, headers={"Content-Type": "application/json"},
                    body=json.dumps({"DICOMUpdates": {"updatableAttributes": base64.b64encode(b"not json").decode()}}).encode())
    assert r.status == 400
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.update_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=hex_id(7), latestVersionId="1",
                                    updateImageSetMetadataUpdates={"revertToVersionId": "1"})
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, versionId="99")
    # A UID changed without force: the version fails.
    c.update_image_set_metadata(
        datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId="4",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": attrs({"Study": {"DICOM": {"StudyInstanceUID": "1.2.3"}}})}})
    got = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert got["imageSetWorkflowStatus"] == "UPDATE_FAILED" and "StudyInstanceUID" in got["message"]


def test_writes_to_a_locked_image_set_conflict(fresh_server):
    c = boto_client(fresh_server.url)
    set_transitions(fresh_server.url, imageSet="manual")
    c.delete_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    with pytest.raises(c.exceptions.ConflictException):
        c.delete_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    with pytest.raises(c.exceptions.ConflictException):
        c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=SEED_IMAGE_SET,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "4"}})


def test_get_image_set_and_metadata_match_the_model(server):
    r = raw_request(server.url, "POST", f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSet")
    assert r.status == 200 and validate_output("GetImageSet", r.json()) == []
    assert "imageSetWorkflowStatus" in r.json() and "ImageSetWorkflowStatus" not in r.json()
    r = raw_request(server.url, "POST", f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSetMetadata")
    assert r.headers["content-encoding"] == "gzip" and r.headers["content-type"] == "application/json"
    doc = json.loads(gzip.decompress(r.body))
    assert doc["SchemaVersion"] == "1.1" and doc["ImageSetID"] == SEED_IMAGE_SET and doc["DatastoreID"] == SEED_DATASTORE
    assert {"Patient", "Study"} <= doc.keys()
    series = next(iter(doc["Study"]["Series"].values()))
    assert series["Instances"]


def test_fixture_metadata_and_tags(servers):
    ds, image_set = hex_id(1, "f"), hex_id(2, "f")
    s = servers.start_with([{
        "datastoreId": ds, "datastoreName": "fx", "tags": {"owner": "qa"}, "losslessStorageFormat": "HTJ2K",
        "imageSets": [{"imageSetId": image_set, "metadata": document("US"), "tags": {"kind": "echo"},
                       "versions": [{"imageSetId": image_set, "versionId": "1", "imageSetState": "ACTIVE",
                                     "ImageSetWorkflowStatus": "CREATED", "createdAt": 1700000000.5}]}],
    }])
    c = boto_client(s.url)
    assert metadata(c, ds, image_set)["Study"]["Series"]
    props = c.get_datastore(datastoreId=ds)["datastoreProperties"]
    assert c.list_tags_for_resource(resourceArn=props["datastoreArn"])["tags"] == {"owner": "qa"}
    arn = c.get_image_set(datastoreId=ds, imageSetId=image_set)["imageSetArn"]
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"kind": "echo"}


def test_fixture_validation_names_paths(servers, tmp_path):
    from conftest import ServerStartError, write_fixture
    bad = write_fixture(tmp_path / "bad.json", [{
        "datastoreId": hex_id(3), "tags": {"aws:x": "1"},
        "imageSets": [{"imageSetId": hex_id(4), "metadata": [], "versions": [
            {"imageSetId": hex_id(4), "versionId": "1", "imageSetState": "ACTIVE"}]}]}])
    with pytest.raises(ServerStartError) as info:
        servers.start(fixtures=(bad,))
    text = str(info.value)
    assert "$.datastores[0].tags.aws:x" in text and "$.datastores[0].imageSets[0].metadata" in text


def test_search_image_sets(fresh_server):
    url = fresh_server.url
    c = boto_client(url)
    ds = create_active_datastore(c, "search")
    a = seed_image_set(url, ds, document("CT", series_uid="1.2.3.1", study_uid="1.2.3"))
    time.sleep(0.01)  # distinct createdAt (milliseconds): equal ones are ordered by image set id
    b = seed_image_set(url, ds, document("MR", series_uid="1.2.4.1", study_uid="1.2.4"))
    r = c.search_image_sets(datastoreId=ds, searchCriteria={"filters": [
        {"operator": "EQUAL", "values": [{"DICOMStudyInstanceUID": "1.2.4"}]}]})
    items = r["imageSetsMetadataSummaries"]
    assert [i["imageSetId"] for i in items] == [b]
    assert items[0]["version"] == 1 and items[0]["DICOMTags"]["DICOMSeriesModality"] == "MR"
    r = c.search_image_sets(datastoreId=ds, searchCriteria={
        "filters": [{"operator": "BETWEEN", "values": [{"createdAt": 0}, {"createdAt": 4102444800}]}],
        "sort": {"sortField": "createdAt", "sortOrder": "ASC"}})
    assert [i["imageSetId"] for i in r["imageSetsMetadataSummaries"]] == [a, b]
    assert r["sort"] == {"sortField": "createdAt", "sortOrder": "ASC"}
    pages = list(c.get_paginator("search_image_sets").paginate(datastoreId=ds, PaginationConfig={"PageSize": 1}))
    assert [i["imageSetId"] for p in pages for i in p["imageSetsMetadataSummaries"]] in ([a, b], [b, a])
    raw = raw_request(url, "POST", f"/datastore/{ds}/searchImageSets", body=b"{}")
    assert validate_output("SearchImageSets", raw.json()) == []
    out = cli_json(url, "search-image-sets", "--datastore-id", ds, "--search-criteria",
                   json.dumps({"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "P-0001"}]}]}))
    assert {i["imageSetId"] for i in out["imageSetsMetadataSummaries"]} == {a, b}
