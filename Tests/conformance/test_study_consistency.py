"""Study-wide updates (UpdateImageSetMetadata includeStudyImageSets=true) and CopyImageSet force /
promoteToPrimary, with boto3: three primary image sets of one study; one update gives each a new version and the
name; the pending states in manual mode; the refusals."""

from __future__ import annotations

import json

import pytest

from conftest import SEED_DATASTORE, boto_client
from lifecycle_helpers import control, document, seed_image_set, set_transitions, wait_for
from test_version_lifecycle import metadata, settled, versions

STUDY = "1.2.826.0.1.3680043.8.498.77"
OTHER_STUDY = "1.2.826.0.1.3680043.8.498.78"


def attrs(payload: dict) -> bytes:
    return json.dumps({"SchemaVersion": 1.1, **payload}).encode()


NAME_UPDATE = {"DICOMUpdates": {"updatableAttributes": attrs({"Patient": {"DICOM": {"PatientName": "Study^Wide"}}})}}


def series(n: int, study: str = STUDY) -> dict:
    return document("CT", series_uid=f"{study}.{n}", study_uid=study)


def study_of_three(url):
    ids = [seed_image_set(url, SEED_DATASTORE, series(n), isPrimary=True) for n in (1, 2, 3)]
    # Not part of the study update: a non-primary image set of the study, a primary one of another study.
    non_primary = seed_image_set(url, SEED_DATASTORE, series(4), isPrimary=False)
    elsewhere = seed_image_set(url, SEED_DATASTORE, series(1, OTHER_STUDY), isPrimary=True)
    return ids, non_primary, elsewhere


def update(c, image_set, latest="1", study=True, body=NAME_UPDATE, **kw):
    return c.update_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=image_set, latestVersionId=latest,
                                       includeStudyImageSets=study, updateImageSetMetadataUpdates=body, **kw)


def name(c, image_set, version=None):
    return metadata(c, SEED_DATASTORE, image_set, version)["Patient"]["DICOM"]["PatientName"]


def test_a_study_wide_update_gives_every_primary_image_set_a_version(fresh_server):
    c = boto_client(fresh_server.url)
    (a, b, d), non_primary, elsewhere = study_of_three(fresh_server.url)
    r = update(c, b)
    assert (r["imageSetId"], r["latestVersionId"], r["imageSetState"], r["imageSetWorkflowStatus"]) == (b, "2", "LOCKED", "UPDATING")
    for image_set in (a, b, d):
        done = settled(c, SEED_DATASTORE, image_set)
        assert (done["versionId"], done["imageSetState"], done["imageSetWorkflowStatus"]) == ("2", "ACTIVE", "UPDATED")
        assert name(c, image_set) == "Study^Wide"
        assert name(c, image_set, "1") == "Doe^Jane"
    for untouched in (non_primary, elsewhere):
        assert list(versions(c, SEED_DATASTORE, untouched)) == ["1"]
        assert name(c, untouched) == "Doe^Jane"
    # Events for each image set of the study: Updating (a sibling's detail says UPDATING_FOR_STUDY_CONSISTENCY), Updated.
    for image_set in (a, b, d):
        seen = control(fresh_server.url, "GET", f"events?imageSetId={image_set}&datastoreId={SEED_DATASTORE}").json()["events"]
        details = [(e["event"]["detail-type"], e["event"]["detail"]["imageSetWorkflowStatus"], e["event"]["detail"]["imageSetVersion"])
                   for e in seen]
        updating = "UPDATING" if image_set == b else "UPDATING_FOR_STUDY_CONSISTENCY"
        assert details == [("Image Set Updating", updating, "2"), ("Image Set Updated", "UPDATED", "2")], details
    for untouched in (non_primary, elsewhere):
        assert control(fresh_server.url, "GET", f"events?imageSetId={untouched}&datastoreId={SEED_DATASTORE}").json()["events"] == []
    # Without the flag only the requested image set changes.
    update(c, a, latest="2", study=False,
           body={"DICOMUpdates": {"updatableAttributes": attrs({"Patient": {"DICOM": {"PatientName": "Only^A"}}})}})
    settled(c, SEED_DATASTORE, a)
    assert name(c, a) == "Only^A" and name(c, b) == "Study^Wide"
    assert sorted(versions(c, SEED_DATASTORE, b)) == ["1", "2"]


def test_pending_states_are_visible_in_manual_mode(fresh_server):
    url, c = fresh_server.url, boto_client(fresh_server.url)
    (a, b, d), _, _ = study_of_three(url)
    set_transitions(url, imageSet="manual")
    update(c, a)
    states = {i: c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=i) for i in (a, b, d)}
    assert (states[a]["imageSetState"], states[a]["imageSetWorkflowStatus"]) == ("LOCKED", "UPDATING")
    for sibling in (b, d):
        assert (states[sibling]["versionId"], states[sibling]["imageSetState"], states[sibling]["imageSetWorkflowStatus"]) == (
            "2", "LOCKED", "UPDATING_FOR_STUDY_CONSISTENCY")
    # A pending study blocks another update of any of its image sets, study-wide or not.
    with pytest.raises(c.exceptions.ConflictException):
        update(c, b, latest="2", study=False)
    assert control(url, "POST", "transitions/advance", {"datastoreId": SEED_DATASTORE}).json()["applied"] == 3
    for image_set in (a, b, d):
        r = c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=image_set)
        assert (r["imageSetState"], r["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATED")


def test_refusals(fresh_server):
    url, c = fresh_server.url, boto_client(fresh_server.url)
    (a, b, d), _, _ = study_of_three(url)
    # Not with revertToVersionId.
    with pytest.raises(c.exceptions.ValidationException):
        update(c, a, body={"revertToVersionId": "1"})
    # A LOCKED sibling refuses the whole update: nothing is written anywhere.
    control(url, "PATCH", f"datastores/{SEED_DATASTORE}/imageSets/{d}/versions/1",
            {"imageSetState": "LOCKED", "ImageSetWorkflowStatus": "COPYING"})
    with pytest.raises(c.exceptions.ConflictException) as refused:
        update(c, a)
    assert d in str(refused.value)
    for image_set in (a, b, d):
        assert list(versions(c, SEED_DATASTORE, image_set)) == ["1"]
    control(url, "PATCH", f"datastores/{SEED_DATASTORE}/imageSets/{d}/versions/1",
            {"imageSetState": "ACTIVE", "ImageSetWorkflowStatus": "CREATED"})
    # All or nothing: a failure planned on one sibling fails them all, metadata unchanged.
    control(url, "POST", "outcomes", {"operation": "UpdateImageSetMetadata", "datastoreId": SEED_DATASTORE, "imageSetId": d})
    update(c, a)
    for image_set in (a, b, d):
        done = settled(c, SEED_DATASTORE, image_set)
        assert (done["versionId"], done["imageSetWorkflowStatus"]) == ("2", "UPDATE_FAILED")
        assert name(c, image_set) == "Doe^Jane"


def test_copy_force_keeps_the_destination_series_and_promote_makes_a_new_primary(fresh_server):
    url, c = fresh_server.url, boto_client(fresh_server.url)
    # Same series UID, different Modality: a copy needs force, and the destination keeps its own Series attributes.
    source = seed_image_set(url, SEED_DATASTORE, document("MR"), isPrimary=False)
    target = seed_image_set(url, SEED_DATASTORE, document("CT"), isPrimary=True)
    c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=source, force=True,
                     copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"},
                                              "destinationImageSet": {"imageSetId": target, "latestVersionId": "1"}})
    done = settled(c, SEED_DATASTORE, target)
    assert (done["imageSetWorkflowStatus"], done["overrides"]) == ("COPIED", {"forced": True})
    doc = metadata(c, SEED_DATASTORE, target)
    (uid, only), = doc["Study"]["Series"].items()
    assert only["DICOM"]["Modality"] == "CT"
    assert uid + ".1" in only["Instances"]

    # promoteToPrimary: a new image set, primary; refused with a destination; COPY_FAILED when it conflicts.
    with pytest.raises(c.exceptions.ValidationException):
        c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=source, promoteToPrimary=True,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"},
                                                  "destinationImageSet": {"imageSetId": target, "latestVersionId": "2"}})
    lonely = seed_image_set(url, SEED_DATASTORE, series(9, "1.2.826.0.1.3680043.8.498.99"), isPrimary=False)
    r = c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=lonely, promoteToPrimary=True,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"}})
    promoted = r["destinationImageSetProperties"]["imageSetId"]
    assert promoted not in (lonely, source, target)
    done = settled(c, SEED_DATASTORE, promoted)
    assert (done["isPrimary"], done["imageSetWorkflowStatus"]) == (True, "COPIED")
    assert c.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=lonely)["isPrimary"] is False
    # The source's series now has a primary image set: promoting it again conflicts.
    r = c.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=lonely, promoteToPrimary=True,
                         copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"}})
    failed = wait_for(lambda: c.get_image_set(datastoreId=SEED_DATASTORE,
                                              imageSetId=r["destinationImageSetProperties"]["imageSetId"]),
                      lambda x: x["imageSetState"] != "LOCKED")[0]
    assert failed["imageSetWorkflowStatus"] == "COPY_FAILED" and promoted in failed["message"]
