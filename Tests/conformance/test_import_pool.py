"""The import worker pool (docs/hardening.md "Import worker pool", docs/performance.md "Imports on every core"):
a file whose worker crashes, hangs or runs out of memory costs that file only; jobs are bounded in files and
wall-clock time and take turns; 0, 1 and N workers give the same manifests, documents and checksums; and a job
interrupted by kill -9 ends FAILED after a restart.

Crash, hang and memory exhaustion are provoked with the test-only hook HIL_TEST_IMPORT_WORKER_FAULT
(`crash:TEXT`, `hang:TEXT`, `hog:TEXT`: a worker *process* given a file whose name contains TEXT aborts, sleeps, or
allocates until its RLIMIT_AS budget stops it). The supervision under test — reaping, replacing the worker,
the manifest line, the budgets — is the real code path; only the trigger is synthetic."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import SEED_DATASTORE, boto_client, raw_request
from import_helpers import corpus_files, healthy, read_output_dir, start_job, wait_for_job

pytestmark = pytest.mark.timeout(600)

FAULT = "HIL_TEST_IMPORT_WORKER_FAULT"


def make_series(folder: Path, series: int, per_series: int, size: int = 64, prefix: str = "s") -> list[Path]:
    """`series` × `per_series` single-frame 16-bit CT files of one study, `size`² pixels, deterministic UIDs."""
    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    root = "1.2.826.0.1.3680043.8.498.77"
    study = f"{root}.1"
    written = []
    for s in range(series):
        for i in range(per_series):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            meta.MediaStorageSOPInstanceUID = f"{root}.3.{s + 1}.{i + 1}"
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            path = folder / f"{prefix}{s:02d}-{i:03d}.dcm"
            ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
            ds.PatientID, ds.PatientName, ds.StudyDate, ds.StudyTime = "POOL-1", "Pool^Test", "20240101", "120000"
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study, f"{root}.2.{s + 1}", "CT"
            ds.AccessionNumber, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "ACC1", "1", s + 1, i + 1
            ds.Rows = ds.Columns = size
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.PixelData = rng.integers(0, 4096, (size, size)).astype("<u2").tobytes()
            ds.save_as(path, enforce_file_format=True)
            written.append(path)
    return written


def bucket_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "s3"
    for key, data in files.items():
        (root / "inbox" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "inbox" / key).write_bytes(data)
    (root / "inbox" / "out").mkdir(parents=True, exist_ok=True)
    return root


def ct_small() -> bytes:
    files = corpus_files(["CT_small.dcm"])
    assert files, "pydicom's CT_small.dcm is needed"
    return files[0].read_bytes()


def worker_pids(server) -> set[int]:
    """The server's import-worker children, from /proc (a zombie child counts too: its cmdline is empty)."""
    pids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
        zombie = re.search(r"^State:\s+Z", text, re.M)
        if ppid and int(ppid.group(1)) == server.proc.pid and (b"import-worker" in cmdline or zombie):
            pids.add(int(status.parent.name))
    return pids


# ---------------------------------------------------------------------------
# A codec failure costs one file, not the server (#16.3).
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault,extra,fragment", [
    ("crash", [], "killed by signal 6 (SIGABRT)"),
    ("hog", ["--import-worker-memory-mb", "512"], "512 MiB"),
    ("hang", ["--import-file-seconds", "2"], "time budget of 2 seconds"),
])
def test_a_worker_that_dies_or_overruns_costs_one_file_and_the_job_goes_on(servers, tmp_path, monkeypatch, fault, extra, fragment):
    monkeypatch.setenv(FAULT, f"{fault}:poison")
    good = ct_small()
    files = {f"in/good{i}.dcm": good for i in range(3)} | {"in/poison.dcm": good, "in/zz-after.dcm": good}
    root = bucket_with(tmp_path, files)
    server = servers.start(extra=["--s3-dir", str(root), "--import-workers", "2", *extra])
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/in/", "s3://inbox/out/"))
    assert props["jobStatus"] == "COMPLETED", props
    manifest, success, failure = read_output_dir(root, props["outputS3Uri"])
    summary = manifest["jobSummary"]
    assert summary["numberOfScannedFiles"] == 5
    assert summary["numberOfImportedFiles"] == 4
    assert summary["numberOfFilesWithServerError"] == 1 and summary["numberOfFilesWithCustomerError"] == 0
    assert [line["inputFile"] for line in failure] == ["in/poison.dcm"]
    assert failure[0]["exception"]["exceptionType"] == "InternalServerException"
    assert fragment in failure[0]["exception"]["message"], failure
    assert sorted(line["inputFile"] for line in success) == ["in/good0.dcm", "in/good1.dcm", "in/good2.dcm", "in/zz-after.dcm"]
    # The server is alive, answers, and its replaced workers import the next file.
    assert healthy(server)
    answer = raw_request(server.url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom?inputFile=next.dcm", body=good)
    assert answer.status in (200, 201), answer
    # At most --import-workers workers, none left over from the failures.
    assert len(worker_pids(server)) <= 2


def test_a_crash_through_the_dicom_shortcut_is_a_500_for_that_request_only(servers, monkeypatch):
    monkeypatch.setenv(FAULT, "crash:poison")
    server = servers.start(extra=["--import-workers", "1"])
    good = ct_small()
    path = f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom"
    crashed = raw_request(server.url, "POST", path + "?inputFile=poison.dcm", body=good)
    assert crashed.status == 500 and crashed.json()["__type"] == "InternalServerException", crashed
    assert "SIGABRT" in crashed.json()["message"]
    # The dead worker was reaped (no zombie child); the next file starts a fresh one.
    assert worker_pids(server) == set()
    answer = raw_request(server.url, "POST", path + "?inputFile=fine.dcm", body=good)
    assert answer.status == 201, answer
    assert answer.json()["sopInstanceUID"]
    assert healthy(server)
    assert len(worker_pids(server)) == 1


def test_workers_are_separate_processes_and_the_in_process_mode_still_imports(servers, tmp_path):
    good = ct_small()
    pooled = servers.start(extra=["--import-workers", "2"])
    answer = raw_request(pooled.url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom", body=good)
    assert answer.status == 201
    # Both were started with the server (a worker spends ~50 ms starting), not on demand.
    pids = worker_pids(pooled)
    assert len(pids) == 2 and pooled.proc.pid not in pids
    inline = servers.start(extra=["--import-workers", "0"])
    answer = raw_request(inline.url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom", body=good)
    assert answer.status == 201
    assert worker_pids(inline) == set()


def worker_policies(server, count: int) -> list[int]:
    """The scheduling policies of the server's `count` import workers once each has set its own (field 41 of
    /proc/PID/stat: 0 SCHED_OTHER until then, 3 SCHED_BATCH, 5 SCHED_IDLE), sorted."""
    deadline = time.monotonic() + 10
    while True:
        policies = []
        for pid in worker_pids(server):
            try:
                policies.append(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[38]))
            except OSError:
                continue
        if (len(policies) == count and 0 not in policies) or time.monotonic() > deadline:
            return sorted(policies)
        time.sleep(0.05)


def test_workers_leave_the_loop_a_core_and_an_idle_worker_hands_its_file_over_when_the_machine_is_busy(servers, tmp_path):
    """--import-worker-scheduling auto (the default): with as many workers as cores, all but one are SCHED_BATCH and
    the last SCHED_IDLE. With every core kept busy by other processes, the idle worker gets next to no CPU: its file
    goes to a batch worker after a second, so the job still ends while the machine stays busy."""
    import os
    import subprocess
    import sys

    cores = os.cpu_count() or 1
    workers = max(2, cores)
    # 2048² frames: ~0.1 s of CPU each, which an idle worker among busy cores (a 0.3 % share) would need minutes for.
    make_series(tmp_path / "s3" / "inbox" / "in", series=1, per_series=4, size=2048)
    (tmp_path / "s3" / "inbox" / "out").mkdir(parents=True, exist_ok=True)
    server = servers.start(extra=["--s3-dir", str(tmp_path / "s3"), "--import-workers", str(workers)])
    batch_workers = max(1, min(workers, cores - 1))
    assert worker_policies(server, workers) == [3] * batch_workers + [5] * (workers - batch_workers)
    for flag_value, expected in (("batch", [3] * 2), ("idle", [5] * 2)):
        other = servers.start(extra=["--import-workers", "2", "--import-worker-scheduling", flag_value])
        assert worker_policies(other, 2) == expected, flag_value
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        client = boto_client(server.url)
        began = time.monotonic()
        props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/in/", "s3://inbox/out/"), timeout=60)
        took = time.monotonic() - began
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert props["jobStatus"] == "COMPLETED", props
    manifest, success, failure = read_output_dir(tmp_path / "s3", props["outputS3Uri"])
    assert len(success) == 4 and failure == [], failure
    # Measured on 2 cores: 3-4 s; with the hand-over disabled, 43 s (the idle worker's files crawl along on a
    # fraction of a percent of a core until they are done).
    assert took < 20, took


def test_pool_flags_are_validated(servers):
    from conftest import binary_path
    import subprocess

    for flag, value in [("--import-workers", "-1"), ("--import-worker-memory-mb", "-5"), ("--import-file-seconds", "0"),
                        ("--max-import-job-files", "0"), ("--max-import-job-seconds", "0"),
                        ("--import-worker-scheduling", "fast")]:
        done = subprocess.run([str(binary_path()), "--port", "0", flag, value], capture_output=True, timeout=30)
        assert done.returncode != 0 and flag.encode() in done.stderr, (flag, done.stderr)


# ---------------------------------------------------------------------------
# Fair and bounded jobs (#16.8).
# ---------------------------------------------------------------------------


def test_a_job_over_the_file_limit_fails_before_importing_anything(servers, tmp_path):
    good = ct_small()
    root = bucket_with(tmp_path, {f"in/f{i}.dcm": good for i in range(4)})
    server = servers.start(extra=["--s3-dir", str(root), "--max-import-job-files", "3"])
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/in/", "s3://inbox/out/"))
    assert props["jobStatus"] == "FAILED"
    assert "4 files" in props["message"] and "--max-import-job-files" in props["message"], props
    # Nothing was imported: the seed's image sets only.
    listed = client.search_image_sets(datastoreId=SEED_DATASTORE)["imageSetsMetadataSummaries"]
    assert all(s.get("DICOMTags", {}).get("DICOMStudyInstanceUID") != "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322" for s in listed)
    # Within the limit, the same server imports.
    (root / "inbox" / "in" / "f3.dcm").unlink()
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/in/", "s3://inbox/out/"))
    assert props["jobStatus"] == "COMPLETED", props


def test_a_job_over_its_wall_clock_limit_fails_and_the_loop_keeps_answering(servers, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT, "hang:slow")
    good = ct_small()
    root = bucket_with(tmp_path, {"in/a.dcm": good, "in/slow.dcm": good, "in/z.dcm": good})
    server = servers.start(extra=["--s3-dir", str(root), "--import-workers", "2", "--max-import-job-seconds", "2",
                                  "--import-file-seconds", "120"])
    client = boto_client(server.url)
    began = time.monotonic()
    job = start_job(client, "s3://inbox/in/", "s3://inbox/out/")
    while time.monotonic() - began < 1.5:
        assert healthy(server)
        time.sleep(0.1)
    props = wait_for_job(client, SEED_DATASTORE, job, timeout=60)
    assert props["jobStatus"] == "FAILED", props
    assert "limit of 2 seconds" in props["message"] and "--max-import-job-seconds" in props["message"], props
    # The hung worker was stopped with the job, well before its own 120 s budget.
    assert time.monotonic() - began < 30
    assert healthy(server)


def test_a_small_job_is_not_starved_by_a_large_one(servers, tmp_path):
    make_series(tmp_path / "s3" / "inbox" / "big", series=1, per_series=300, size=512, prefix="big")
    make_series(tmp_path / "s3" / "inbox" / "small", series=1, per_series=2, size=32, prefix="small")
    (tmp_path / "s3" / "inbox" / "out").mkdir(parents=True, exist_ok=True)
    server = servers.start(extra=["--s3-dir", str(tmp_path / "s3"), "--import-workers", "1"])
    client = boto_client(server.url)
    big = start_job(client, "s3://inbox/big/", "s3://inbox/out/big/")
    time.sleep(0.3)
    small = start_job(client, "s3://inbox/small/", "s3://inbox/out/small/")
    small_props = wait_for_job(client, SEED_DATASTORE, small)
    big_props = wait_for_job(client, SEED_DATASTORE, big)
    assert small_props["jobStatus"] == "COMPLETED" and big_props["jobStatus"] == "COMPLETED"
    # The two files of the small job took turns with the large one's, so it ended first although it started later
    # (first in, first out would end it after the large one's 300 files). Which status the large job shows at the
    # moment the small one is seen ending depends on the poll interval, so the end times are what is compared.
    assert small_props["endedAt"] < big_props["endedAt"], "the small job waited behind the large one"


# ---------------------------------------------------------------------------
# Imports on every core (#15.2): 0, 1 and N workers give identical results.
# ---------------------------------------------------------------------------


def normalise(text: str, ids: dict[str, str]) -> str:
    """Replaces every 32-hex id (image set, frame, job ids: random by design) by its order of first appearance."""
    def name(match):
        return ids.setdefault(match.group(0), f"<id{len(ids)}>")
    return re.sub(r"\b[0-9a-f]{32}\b", name, text)


def import_everything(servers, root: Path, workers: str) -> dict:
    server = servers.start(extra=["--s3-dir", str(root), "--import-workers", workers])
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/in/", f"s3://inbox/out/w{workers}/"))
    assert props["jobStatus"] == "COMPLETED", props
    folder = root / "inbox" / "out" / f"w{workers}" / f"{SEED_DATASTORE}-DicomImport-{props['jobId']}"
    ids: dict[str, str] = {SEED_DATASTORE: "<datastore>", props["jobId"]: "<job>"}
    texts = {}
    for name in ("job-output-manifest.json", "SUCCESS/success.ndjson", "FAILURE/failure.ndjson"):
        texts[name] = normalise((folder / name).read_text().replace(f"/w{workers}/", "/wN/"), ids)
    manifest = json.loads((folder / "job-output-manifest.json").read_text())
    frames = {}
    for summary in manifest["jobSummary"]["imageSetsSummary"]:
        image_set = summary["imageSetId"]
        blob = client.get_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=image_set)["imageSetMetadataBlob"].read()
        document = gzip.decompress(blob).decode()
        texts[f"metadata {ids[image_set]}"] = normalise(document, ids)
        for frame_id in re.findall(r'"ID":\s*"([0-9a-f]{32})"', document):
            body = client.get_image_frame(datastoreId=SEED_DATASTORE, imageSetId=image_set,
                                          imageFrameInformation={"imageFrameId": frame_id})["imageFrameBlob"].read()
            frames[ids[frame_id]] = hashlib.sha256(body).hexdigest()
    server.stop()
    return {"texts": texts, "frames": frames}


def test_one_worker_and_many_give_byte_identical_manifests_documents_and_frames(servers, tmp_path):
    root = tmp_path / "s3"
    make_series(root / "inbox" / "in" / "gen", series=3, per_series=4, size=48)
    # No RGB file: the HTJ2K encode of an RGB frame is not byte-deterministic from one run to the next even in one
    # process without the pool (pre-existing; docs/performance.md), so it cannot be compared byte for byte.
    for path in corpus_files(["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm",
                              "emri_small.dcm", "MR_small_bigendian.dcm", "rtplan.dcm"]):
        (root / "inbox" / "in" / "corpus" / path.name).parent.mkdir(parents=True, exist_ok=True)
        (root / "inbox" / "in" / "corpus" / path.name).write_bytes(path.read_bytes())
    (root / "inbox" / "in" / "corpus" / "not-dicom.dcm").write_bytes(b"nope" * 50)
    (root / "inbox" / "out").mkdir(parents=True)
    inline = import_everything(servers, root, "0")
    one = import_everything(servers, root, "1")
    many = import_everything(servers, root, "3")
    assert inline["frames"] and len(inline["texts"]) > 4
    for other in (one, many):
        assert other["texts"].keys() == inline["texts"].keys()
        for name, text in inline["texts"].items():
            assert other["texts"][name] == text, name
        assert other["frames"] == inline["frames"]


# ---------------------------------------------------------------------------
# kill -9 during an import with --db (#16 "How it is checked").
# ---------------------------------------------------------------------------


def test_kill_9_during_an_import_leaves_a_sound_database_and_the_job_failed(servers, tmp_path):
    series, per_series = 20, 10
    # 200 files of 512² (the import), so that a release build is still importing when the kill comes.
    make_series(tmp_path / "s3" / "inbox" / "in", series=series, per_series=per_series, size=512)
    (tmp_path / "s3" / "inbox" / "out").mkdir(parents=True)
    db = tmp_path / "state.db"
    extra = ["--s3-dir", str(tmp_path / "s3")]
    rng = random.Random(16)
    interrupted = None
    for attempt in range(4):
        server = servers.start(db=db, extra=extra)
        client = boto_client(server.url)
        job = start_job(client, "s3://inbox/in/", f"s3://inbox/out/{attempt}/")
        while client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job)["jobProperties"]["jobStatus"] == "SUBMITTED":
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.5))
        server.stop(signal.SIGKILL)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        server = servers.start(db=db, extra=extra)
        client = boto_client(server.url)
        props = client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job)["jobProperties"]
        assert props["jobStatus"] in ("COMPLETED", "FAILED"), props
        # No half-imported image set: every image set of the study holds whole series (all their instances).
        summaries = client.search_image_sets(datastoreId=SEED_DATASTORE, searchCriteria={"filters": [
            {"values": [{"DICOMStudyInstanceUID": "1.2.826.0.1.3680043.8.498.77.1"}], "operator": "EQUAL"}]})
        for summary in summaries["imageSetsMetadataSummaries"]:
            blob = client.get_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=summary["imageSetId"])["imageSetMetadataBlob"].read()
            document = json.loads(gzip.decompress(blob))
            for series_uid, found in document["Study"]["Series"].items():
                assert len(found["Instances"]) == per_series, (series_uid, len(found["Instances"]))
        server.stop()
        if props["jobStatus"] == "FAILED":
            interrupted = props
            break
    assert interrupted is not None, "every attempt finished before the kill: the test did not interrupt a job"
    assert "server stopped" in interrupted["message"], interrupted
    assert interrupted["endedAt"] >= interrupted["submittedAt"]
    # A later start on the same database does not touch it again, and new jobs run.
    server = servers.start(db=db, extra=extra)
    client = boto_client(server.url)
    again = client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=interrupted["jobId"])["jobProperties"]
    assert again["jobStatus"] == "FAILED" and again["endedAt"] == interrupted["endedAt"]
