"""Import commits that scale (issue 16 item 5), the CI slice of bench/import_commit.py: 500 single-instance series
of one study through an import job (--s3-dir) while a client keeps asking for health on one keep-alive connection.
The health check answers throughout (a generous liveness bound, not a timing target), every series becomes its
own primary image set, a second job over the same files adds version 2 to each of them (the primary image set
found through the study index), and a later series whose study-level elements disagree stays non-primary."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse

import pydicom

from conftest import SEED_DATASTORE, boto_client
from import_helpers import metadata, read_output_dir, start_job, wait_for_job, write_single_instance_series

FILES = 500
# Liveness only: the loop commits in turns of a few milliseconds, so even a debug build on a busy CI machine
# answers within this; a commit holding the loop for the whole job (seconds) would not.
HEALTH_BOUND_S = 2.0


class HealthPoller:
    """GET /_healthimaging/health on one keep-alive connection, as fast as it answers, until stopped."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.latencies: list[float] = []
        self.statuses: set[int] = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            began = time.monotonic()
            self.conn.request("GET", "/_healthimaging/health")
            response = self.conn.getresponse()
            response.read()
            self.latencies.append(time.monotonic() - began)
            self.statuses.add(response.status)
            time.sleep(0.002)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=30)
        self.conn.close()


def run(client, server, root, input_uri: str, output_uri: str, token: str):
    poller = HealthPoller(server.url)
    try:
        props = wait_for_job(client, SEED_DATASTORE, start_job(client, input_uri, output_uri, clientToken=token), timeout=600)
    finally:
        poller.stop()
    assert props["jobStatus"] == "COMPLETED", props
    assert poller.statuses == {200}
    assert len(poller.latencies) > 10
    assert max(poller.latencies) < HEALTH_BOUND_S, f"health took {max(poller.latencies):.2f} s during the commit"
    assert server.proc.poll() is None
    return read_output_dir(root, props["outputS3Uri"])


def test_many_single_instance_series_commit_while_health_answers(servers, tmp_path):
    root = tmp_path / "s3"
    series = write_single_instance_series(root / "bench" / "series", FILES)
    server = servers.start(extra=["--s3-dir", str(root)])
    client = boto_client(server.url)

    manifest, success, failure = run(client, server, root, "s3://bench/series/", "s3://bench/out1/", "first")
    summary = manifest["jobSummary"]
    assert summary["numberOfImportedFiles"] == FILES and failure == []
    assert summary["numberOfGeneratedImageSets"] == FILES
    sets = summary["imageSetsSummary"]
    assert all(s["isPrimary"] and s["imageSetVersion"] == 1 and s["numberOfMatchedSOPInstances"] == 1 for s in sets)
    # The order of the job's listing: file i (series i) is the i-th line and the i-th image set.
    assert [line["inputFile"] for line in success] == [f"series/s{i:05d}.dcm" for i in range(FILES)]
    first_ids = [line["importResponse"]["imageSetId"] for line in success]
    assert [s["imageSetId"] for s in sets] == first_ids and len(set(first_ids)) == FILES
    document = metadata(client, SEED_DATASTORE, first_ids[7])
    assert list(document["Study"]["Series"]) == [series[7]]

    # The same files again: each joins the primary image set of its series as version 2.
    manifest, success, failure = run(client, server, root, "s3://bench/series/", "s3://bench/out2/", "again")
    assert failure == [] and manifest["jobSummary"]["numberOfGeneratedImageSets"] == FILES
    assert [line["importResponse"]["imageSetId"] for line in success] == first_ids
    assert all(line["importResponse"]["imageSetVersion"] == 2 for line in success)
    assert all(line["importResponse"]["isPrimary"] for line in success)

    # A new series of the study whose Study Date differs from the study's primary image sets: not primary.
    # A new series that agrees: primary.
    disagree = pydicom.dcmread(root / "bench" / "series" / "s00000.dcm")
    disagree.SeriesInstanceUID = pydicom.uid.generate_uid()
    disagree.SOPInstanceUID = disagree.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    disagree.StudyDate = "20240202"
    (root / "bench" / "late").mkdir()
    disagree.save_as(root / "bench" / "late" / "a-disagrees.dcm")
    disagree.StudyDate = "20240101"
    disagree.SeriesInstanceUID = pydicom.uid.generate_uid()
    disagree.SOPInstanceUID = disagree.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    disagree.save_as(root / "bench" / "late" / "b-agrees.dcm")
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://bench/late/", "s3://bench/out3/", clientToken="late"))
    assert props["jobStatus"] == "COMPLETED", props
    _, success, failure = read_output_dir(root, props["outputS3Uri"])
    assert failure == []
    primary = {line["inputFile"]: line["importResponse"]["isPrimary"] for line in success}
    assert primary == {"late/a-disagrees.dcm": False, "late/b-agrees.dcm": True}
