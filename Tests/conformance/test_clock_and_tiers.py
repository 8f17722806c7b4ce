"""The test clock (`/_healthimaging/clock`) and storage tiers (storageTier / lastAccessedAt) with real clients:
29 days without access stay FREQUENT_ACCESS, 31 days turn ARCHIVE_INSTANT_ACCESS, an access brings the image set
back, GetImageSet is not an access, and a restart with --db keeps it all (the clock offset included)."""

from __future__ import annotations

import datetime
import time

from conftest import SEED_DATASTORE, boto_client
from import_helpers import corpus_files, metadata, post_dicom
from lifecycle_helpers import control, document, seed_image_set

DAY = 86400


def advance(url: str, step: str) -> dict:
    return control(url, "POST", "clock", {"advance": step}).json()


def tier(c, ds, image_set):
    r = c.get_image_set(datastoreId=ds, imageSetId=image_set)
    return r["storageTier"], r["lastAccessedAt"]


def summary(c, ds, image_set):
    found = [s for s in c.search_image_sets(datastoreId=ds)["imageSetsMetadataSummaries"] if s["imageSetId"] == image_set]
    assert len(found) == 1
    return found[0]["storageTier"], found[0]["lastAccessedAt"]


def seconds(ts: datetime.datetime) -> float:
    return ts.timestamp()


def test_clock_reads_and_moves_forward_only(fresh_server):
    url = fresh_server.url
    before = control(url, "GET", "clock").json()
    assert before["offsetMillis"] == 0 and before["offset"] == "0s"
    assert abs(before["now"] - time.time()) < 5 and abs(before["realNow"] - before["now"]) < 1
    moved = advance(url, "31d")
    assert moved["offsetMillis"] == 31 * DAY * 1000 and moved["offset"] == "31d"
    assert abs(moved["now"] - moved["realNow"] - 31 * DAY) < 1
    assert advance(url, "90m")["offsetMillis"] == (31 * DAY + 5400) * 1000
    assert advance(url, "2h")["offset"] == f"{(31 * DAY + 5400 + 7200) // 60}m"
    assert advance(url, "30s")["offsetMillis"] == (31 * DAY + 5400 + 7200 + 30) * 1000
    now = control(url, "GET", "clock").json()
    assert now["offsetMillis"] == (31 * DAY + 5400 + 7200 + 30) * 1000
    for bad in ["0d", "-1d", "1.5d", "31", "31w", "", "d", 31, None, "1e3s", " 1d", "99999999d"]:
        r = control(url, "POST", "clock", {"advance": bad}, expect=400)
        assert r.headers.get("x-amzn-errortype", "").startswith("ValidationException"), r
    control(url, "POST", "clock", {"advance": "1d", "extra": 1}, expect=400)
    control(url, "POST", "clock", {}, expect=400)
    assert control(url, "GET", "clock").json()["offsetMillis"] == now["offsetMillis"]
    # The reset of the startup state puts the clock back.
    control(url, "POST", "reset", {"to": "startup"})
    assert control(url, "GET", "clock").json()["offsetMillis"] == 0


def test_timestamps_written_come_from_the_moved_clock(fresh_server):
    url, c = fresh_server.url, boto_client(fresh_server.url)
    advance(url, "400d")
    ds = c.create_datastore(datastoreName="later")["datastoreId"]
    created = seconds(c.get_datastore(datastoreId=ds)["datastoreProperties"]["createdAt"])
    assert abs(created - (time.time() + 400 * DAY)) < 60
    image_set = seed_image_set(url, SEED_DATASTORE, document())
    r = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=image_set)
    assert abs(seconds(r["createdAt"]) - (time.time() + 400 * DAY)) < 60
    assert abs(seconds(r["lastAccessedAt"]) - seconds(r["createdAt"])) < 1
    # The journal's times too, and the events'.
    entries = control(url, "GET", "journal").json()["entries"]
    assert entries and abs(entries[-1]["time"] - (time.time() + 400 * DAY)) < 60
    events = control(url, "GET", f"events?datastoreId={ds}").json()["events"]
    assert events and events[0]["event"]["detail-type"] == "Data Store Creating"
    stamp = datetime.datetime.strptime(events[0]["event"]["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert abs(stamp.timestamp() - (time.time() + 400 * DAY)) < 60
    # A timed transition falls due when the clock passes its due time.
    control(url, "PUT", "transitions", {"imageSet": "timed:86400000"})
    c.update_image_set_metadata(
        datastoreId=SEED_DATASTORE, imageSetId=image_set, latestVersionId="1",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes":
                                       b'{"SchemaVersion":1.1,"Patient":{"DICOM":{"PatientName":"Later^Pat"}}}'}})
    assert c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=image_set)["imageSetState"] == "LOCKED"
    advance(url, "1d")
    settled = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=image_set)
    assert (settled["imageSetState"], settled["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATED")
    assert abs(seconds(settled["updatedAt"]) - (time.time() + 401 * DAY)) < 60


def test_tiers_follow_the_clock_and_accesses(servers, tmp_path):
    db = tmp_path / "state.db"
    server = servers.start(db=db)
    url, c = server.url, boto_client(server.url)
    made = control_dicom(url, corpus_files(["CT_small.dcm"])[0].read_bytes(), whole=True)
    image_set, frame_id = made["imageSetId"], made["frameIds"][0]
    start_tier, created_access = tier(c, SEED_DATASTORE, image_set)
    assert start_tier == "FREQUENT_ACCESS"

    advance(url, "29d")
    assert tier(c, SEED_DATASTORE, image_set) == ("FREQUENT_ACCESS", created_access)
    assert summary(c, SEED_DATASTORE, image_set) == ("FREQUENT_ACCESS", created_access)
    # 29 + 2 = 31 days without access.
    advance(url, "2d")
    assert tier(c, SEED_DATASTORE, image_set) == ("ARCHIVE_INSTANT_ACCESS", created_access)
    assert summary(c, SEED_DATASTORE, image_set) == ("ARCHIVE_INSTANT_ACCESS", created_access)
    # GetImageSet, SearchImageSets, ListImageSetVersions and tags are not accesses.
    c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=image_set)
    assert tier(c, SEED_DATASTORE, image_set) == ("ARCHIVE_INSTANT_ACCESS", created_access)

    # A frame read is an access: back to frequent, lastAccessedAt = now on the moved clock.
    c.get_image_frame(datastoreId=SEED_DATASTORE, imageSetId=image_set,
                      imageFrameInformation={"imageFrameId": frame_id})["imageFrameBlob"].read()
    back, accessed = tier(c, SEED_DATASTORE, image_set)
    assert back == "FREQUENT_ACCESS"
    assert abs(seconds(accessed) - (time.time() + 31 * DAY)) < 60
    assert summary(c, SEED_DATASTORE, image_set) == ("FREQUENT_ACCESS", accessed)

    # A restart with --db keeps the tier, lastAccessedAt and the clock offset.
    advance(url, "30d")
    assert tier(c, SEED_DATASTORE, image_set) == ("ARCHIVE_INSTANT_ACCESS", accessed)
    server.stop()
    again = servers.start(db=db)
    c2 = boto_client(again.url)
    assert control(again.url, "GET", "clock").json()["offsetMillis"] == 61 * DAY * 1000
    assert tier(c2, SEED_DATASTORE, image_set) == ("ARCHIVE_INSTANT_ACCESS", accessed)
    # GetImageSetMetadata is an access.
    metadata(c2, SEED_DATASTORE, image_set)
    assert tier(c2, SEED_DATASTORE, image_set)[0] == "FREQUENT_ACCESS"


def test_cached_answers_follow_the_clock(fresh_server):
    """GetImageSet answers are read-cached; a clock move and an access must both be seen at once."""
    url, c = fresh_server.url, boto_client(fresh_server.url)
    image_set = seed_image_set(url, SEED_DATASTORE, document())
    for _ in range(3):
        assert tier(c, SEED_DATASTORE, image_set)[0] == "FREQUENT_ACCESS"
    advance(url, "31d")
    for _ in range(3):
        assert tier(c, SEED_DATASTORE, image_set)[0] == "ARCHIVE_INSTANT_ACCESS"
    metadata(c, SEED_DATASTORE, image_set)
    for _ in range(3):
        assert tier(c, SEED_DATASTORE, image_set)[0] == "FREQUENT_ACCESS"


def test_accesses_by_update_copy_and_import(fresh_server):
    url, c = fresh_server.url, boto_client(fresh_server.url)
    a = seed_image_set(url, SEED_DATASTORE, document("CT"))
    advance(url, "31d")
    assert tier(c, SEED_DATASTORE, a)[0] == "ARCHIVE_INSTANT_ACCESS"
    # The target of an update is accessed.
    c.update_image_set_metadata(
        datastoreId=SEED_DATASTORE, imageSetId=a, latestVersionId="1",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes":
                                       b'{"SchemaVersion":1.1,"Patient":{"DICOM":{"PatientName":"Roe^Ann"}}}'}})
    assert tier(c, SEED_DATASTORE, a)[0] == "FREQUENT_ACCESS"
    advance(url, "31d")
    # A copy accesses its destination (new image set: FREQUENT), not its source.
    r = c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=a,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "2"}})
    destination = r["destinationImageSetProperties"]["imageSetId"]
    assert tier(c, SEED_DATASTORE, a)[0] == "ARCHIVE_INSTANT_ACCESS"
    assert tier(c, SEED_DATASTORE, destination)[0] == "FREQUENT_ACCESS"
    # An import writing into an image set accesses it.
    path = corpus_files(["CT_small.dcm"])[0]
    made = control_dicom(url, path.read_bytes())
    advance(url, "31d")
    assert tier(c, SEED_DATASTORE, made)[0] == "ARCHIVE_INSTANT_ACCESS"
    assert control_dicom(url, path.read_bytes()) == made  # the same instance again: a new version of it
    assert tier(c, SEED_DATASTORE, made)[0] == "FREQUENT_ACCESS"


def control_dicom(url, data, whole=False):
    """Imports one Part 10 file through the control plane's shortcut; its image set id (or the whole answer)."""
    r = post_dicom(url, SEED_DATASTORE, data, "x.dcm")
    assert r.status in (200, 201), r
    return r.json() if whole else r.json()["imageSetId"]


def test_fixtures_and_export_carry_tiers(servers):
    ds = "abcdefabcdefabcdefabcdefabcdef12"
    archived, recent, told = "a" * 32, "b" * 32, "c" * 32
    long_ago = time.time() - 100 * DAY

    def versions(isid):
        return [{"imageSetId": isid, "versionId": "1", "imageSetState": "ACTIVE", "ImageSetWorkflowStatus": "CREATED",
                 "createdAt": long_ago}]

    server = servers.start_with([{"datastoreId": ds, "datastoreName": "tiers", "imageSets": [
        {"imageSetId": archived, "versions": versions(archived), "lastAccessedAt": long_ago},
        {"imageSetId": recent, "versions": versions(recent)},
        {"imageSetId": told, "versions": versions(told), "storageTier": "ARCHIVE_INSTANT_ACCESS"},
    ]}])
    c = boto_client(server.url)
    archived_tier, archived_access = tier(c, ds, archived)
    assert archived_tier == "ARCHIVE_INSTANT_ACCESS" and abs(seconds(archived_access) - long_ago) < 0.002
    assert tier(c, ds, recent)[0] == "FREQUENT_ACCESS"
    assert tier(c, ds, told)[0] == "ARCHIVE_INSTANT_ACCESS"
    exported = control(server.url, "GET", "fixtures").json()
    sets = {s["imageSetId"]: s for s in exported["datastores"][0]["imageSets"]}
    assert sets[archived]["storageTier"] == "ARCHIVE_INSTANT_ACCESS"
    assert abs(sets[archived]["lastAccessedAt"] - round(long_ago, 3)) < 0.002
    assert sets[recent]["storageTier"] == "FREQUENT_ACCESS"
    # Export → reset → load gives the same answers.
    before = {i: tier(c, ds, i) for i in (archived, recent, told)}
    control(server.url, "POST", "reset", {"to": "empty"})
    control(server.url, "POST", "fixtures", exported, expect=201)
    assert {i: tier(c, ds, i) for i in (archived, recent, told)} == before
    # The seeding endpoint takes lastAccessedAt too.
    seeded = seed_image_set(server.url, ds, document(), lastAccessedAt=long_ago)
    assert tier(c, ds, seeded)[0] == "ARCHIVE_INSTANT_ACCESS"
    # Bad values are refused with their path.
    bad = {"datastores": [{"datastoreId": "d" * 32, "imageSets": [
        {"imageSetId": "e" * 32, "versions": versions("e" * 32), "storageTier": "GLACIER", "lastAccessedAt": "yesterday"}]}]}
    r = control(server.url, "POST", "fixtures", bad, expect=400)
    assert b"storageTier" in r.body and b"lastAccessedAt" in r.body
