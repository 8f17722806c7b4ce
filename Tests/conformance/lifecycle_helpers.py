"""Helpers for the version-lifecycle conformance tests: the control plane, polling, fixtures with metadata."""

from __future__ import annotations

import json
import time

from conftest import raw_request

PATIENT = {"DICOM": {"PatientID": "P-0001", "PatientName": "Doe^Jane"}}
STUDY_UID = "1.2.826.0.1.3680043.8.498.10"
SERIES_UID = "1.2.826.0.1.3680043.8.498.11"


def document(modality: str = "CT", series_uid: str = SERIES_UID, study_uid: str = STUDY_UID) -> dict:
    """A small SchemaVersion 1.1 metadata document: one series, one instance."""
    sop = series_uid + ".1"
    return {
        "SchemaVersion": "1.1",
        "Patient": PATIENT,
        "Study": {
            "DICOM": {"StudyInstanceUID": study_uid, "StudyID": "S1", "AccessionNumber": "A1",
                      "StudyDate": "20240102", "StudyTime": "101500"},
            "Series": {
                series_uid: {
                    "DICOM": {"SeriesInstanceUID": series_uid, "Modality": modality, "SeriesNumber": 1},
                    "Instances": {sop: {"DICOM": {"SOPInstanceUID": sop}, "ImageFrames": []}},
                }
            },
        },
    }


def control(url: str, method: str, path: str, body=None, expect: int | None = 200):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    r = raw_request(url, method, "/_healthimaging/" + path, headers=headers, body=data)
    if expect is not None:
        assert r.status == expect, r
    return r


def set_transitions(url: str, **modes):
    return control(url, "PUT", "transitions", modes).json()


def seed_image_set(url: str, datastore_id: str, metadata: dict | None = None, **extra) -> str:
    body = dict(extra)
    if metadata is not None:
        body["metadata"] = metadata
    return control(url, "POST", f"datastores/{datastore_id}/imageSets", body, expect=201).json()["imageSetId"]


def wait_for(fetch, predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``fetch()`` until ``predicate(result)``; returns (result, polls)."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        result = fetch()
        polls += 1
        if predicate(result):
            return result, polls
        assert time.monotonic() < deadline, f"state never reached after {polls} polls: {result}"
        time.sleep(interval)


def create_active_datastore(client, name="lifecycle") -> str:
    ds = client.create_datastore(datastoreName=name)["datastoreId"]
    wait_for(lambda: client.get_datastore(datastoreId=ds)["datastoreProperties"],
             lambda p: p["datastoreStatus"] == "ACTIVE")
    return ds
