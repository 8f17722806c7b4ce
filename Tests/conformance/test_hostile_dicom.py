"""Hostile DICOM files cannot hurt the server (issue #16 items 1, 2 and 4; docs/hardening.md).

Every file of the generated corpus (hostile_dicom.py) goes through ``POST /_healthimaging/datastores/{id}/dicom`` and
through an import job over ``--s3-dir``. Each one must be a customer error naming the file and the reason; the server
stays alive and answers health; its peak RSS (VmHWM) grows by less than 64 MB per file; each file is done in under
2 s (a liveness bound, not a benchmark); and a clean import afterwards gives the same result as before. Folders are
trees inside their bucket: symlink loops end, links out of the bucket are not followed or named, and a prefix with
``.`` or ``..`` segments is a ValidationException at StartDICOMImportJob.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time

import botocore.exceptions
import pytest

import hostile_dicom
from conftest import SEED_DATASTORE, binary_path, boto_client
from fixture_files import rss_kib
from import_helpers import healthy, post_dicom, read_output_dir, start_job, wait_for_job

MB = 1 << 20
RSS_BOUND = 64 * MB
SECONDS_PER_FILE = 2.0


def peak_rss(server) -> int:
    return rss_kib(server.proc.pid, "VmHWM") * 1024


def without_ids(document: dict) -> dict:
    """The metadata document without what differs between two imports of one file (ids, versions)."""
    text = json.dumps(document, sort_keys=True)
    doc = json.loads(text)
    doc.pop("ImageSetID", None)
    for series in doc.get("Study", {}).get("Series", {}).values():
        for instance in series.get("Instances", {}).values():
            for frame in instance.get("ImageFrames", []):
                frame.pop("ID", None)
    return doc


def clean_import(server) -> dict:
    r = post_dicom(server.url, SEED_DATASTORE, hostile_dicom.valid_ct(), "valid-ct.dcm")
    assert r.status in (200, 201), r.body[:500]
    answer = json.loads(r.body)
    client = boto_client(server.url)
    blob = client.get_image_set_metadata(datastoreId=SEED_DATASTORE, imageSetId=answer["imageSetId"])["imageSetMetadataBlob"]
    return without_ids(json.loads(gzip.decompress(blob.read())))


def test_every_hostile_file_through_the_dicom_endpoint(servers):
    server = servers.start()
    before = clean_import(server)
    problems = []
    for name, (data, reason) in hostile_dicom.corpus().items():
        peak = peak_rss(server)
        started = time.monotonic()
        r = post_dicom(server.url, SEED_DATASTORE, data, name)
        elapsed = time.monotonic() - started
        grown = peak_rss(server) - peak
        if not healthy(server, timeout=5):
            pytest.fail(f"{name}: the server stopped answering health\n{server.describe()}")
        body = r.body.decode("utf-8", "replace")
        if r.status != 400 or r.headers.get("x-amzn-errortype", "").split(":")[0] != "ValidationException":
            problems.append(f"{name}: expected a 400 ValidationException, got {r.status} {body[:300]}")
            continue
        message = json.loads(body).get("message", "")
        if name not in message or reason.lower() not in message.lower():
            problems.append(f"{name}: the message does not name the file and '{reason}': {message}")
        if elapsed >= SECONDS_PER_FILE:
            problems.append(f"{name}: took {elapsed:.2f} s")
        if grown >= RSS_BOUND:
            problems.append(f"{name}: peak RSS grew by {grown / MB:.1f} MB")
    assert not problems, "\n".join(problems)
    assert clean_import(server) == before


def test_every_hostile_file_through_an_import_job(servers, tmp_path):
    root = tmp_path / "s3"
    corpus = hostile_dicom.corpus()
    (root / "inbox" / "hostile").mkdir(parents=True)
    (root / "inbox" / "clean").mkdir(parents=True)
    for name, (data, _) in corpus.items():
        (root / "inbox" / "hostile" / name).write_bytes(data)
    (root / "inbox" / "clean" / "valid-ct.dcm").write_bytes(hostile_dicom.valid_ct())
    server = servers.start(extra=["--s3-dir", str(root)])
    client = boto_client(server.url)

    def run(prefix: str) -> tuple[dict, list, list, float]:
        started = time.monotonic()
        props = wait_for_job(client, SEED_DATASTORE, start_job(client, f"s3://inbox/{prefix}/", "s3://inbox/out/"))
        elapsed = time.monotonic() - started
        assert props["jobStatus"] == "COMPLETED", props
        return (*read_output_dir(root, props["outputS3Uri"]), elapsed)

    clean_before = run("clean")
    peak = peak_rss(server)
    manifest, success, failure, elapsed = run("hostile")
    grown = peak_rss(server) - peak
    assert healthy(server, timeout=5)
    assert success == []
    summary = manifest["jobSummary"]
    assert summary["numberOfFilesWithCustomerError"] == len(corpus), summary
    assert summary.get("numberOfFilesWithServerError", 0) == 0, summary
    by_file = {line["inputFile"]: line["exception"] for line in failure}
    assert sorted(by_file) == sorted(f"hostile/{name}" for name in corpus)
    for name, (_, reason) in corpus.items():
        message = by_file[f"hostile/{name}"]["message"]
        assert reason.lower() in message.lower(), f"{name}: {message}"
    # Liveness bounds: the whole corpus in under 2 s a file, the peak within 64 MB of where it was.
    assert elapsed < SECONDS_PER_FILE * len(corpus), elapsed
    assert grown < RSS_BOUND, f"peak RSS grew by {grown / MB:.1f} MB"
    clean_after = run("clean")

    def comparable(result):
        manifest, success, failure, _ = result
        summary = manifest["jobSummary"]
        image_sets = [s["imageSetId"] for s in summary.get("imageSetsSummary", [])]
        documents = [without_ids(json.loads(gzip.decompress(client.get_image_set_metadata(
            datastoreId=SEED_DATASTORE, imageSetId=i)["imageSetMetadataBlob"].read()))) for i in image_sets]
        return ({k: v for k, v in summary.items() if k.startswith("numberOf")}, image_sets,
                [line["inputFile"] for line in success], failure, documents)

    assert comparable(clean_after) == comparable(clean_before)


# ---- folders are trees inside their bucket -----------------------------------------------------------------------------


def test_symlink_loops_and_links_out_of_the_bucket(servers, tmp_path):
    root = tmp_path / "s3"
    outside = tmp_path / "outside-secret-place"
    outside.mkdir()
    (outside / "secret.dcm").write_bytes(hostile_dicom.valid_ct(n=9))
    folder = root / "inbox" / "loop"
    (folder / "deeper").mkdir(parents=True)
    (folder / "valid.dcm").write_bytes(hostile_dicom.valid_ct())
    os.symlink(".", folder / "self")
    os.symlink("..", folder / "deeper" / "up")
    os.symlink(folder, folder / "deeper" / "absolute-loop")
    os.symlink(outside, folder / "escape-dir")
    os.symlink(outside / "secret.dcm", folder / "escape-file.dcm")
    os.symlink("/etc", folder / "etc")
    (root / "inbox" / "plain").mkdir()
    (root / "inbox" / "plain" / "valid.dcm").write_bytes(hostile_dicom.valid_ct(n=2))
    server = servers.start(extra=["--s3-dir", str(root), "--max-import-file-bytes", "1"])
    client = boto_client(server.url)
    loop_job = start_job(client, "s3://inbox/loop/", "s3://inbox/out/")
    plain_job = start_job(client, "s3://inbox/plain/", "s3://inbox/out/")
    started = time.monotonic()
    props = wait_for_job(client, SEED_DATASTORE, loop_job, timeout=20)
    plain = wait_for_job(client, SEED_DATASTORE, plain_job, timeout=20)
    assert time.monotonic() - started < 10
    assert props["jobStatus"] == "COMPLETED" and plain["jobStatus"] == "COMPLETED", (props, plain)
    manifest, _, failure = read_output_dir(root, props["outputS3Uri"])
    # Only the one real file is listed (each directory once), and with --max-import-file-bytes 1 it is named with
    # its size: nothing outside the bucket shows up, neither by name nor by size.
    assert [line["inputFile"] for line in failure] == ["loop/valid.dcm"], failure
    written = "".join(p.read_text() for p in (root / "inbox" / "out").rglob("*") if p.is_file())
    for leak in ("secret", "outside-secret-place", "/etc", "ssh", str(tmp_path)):
        assert leak not in written, leak


@pytest.mark.parametrize("input_uri,output_uri", [
    ("s3://inbox/" + "../" * 12 + "etc/ssh/", "s3://inbox/out/"),
    ("s3://inbox/a/../b/", "s3://inbox/out/"),
    ("s3://inbox/./a/", "s3://inbox/out/"),
    ("s3://inbox/a/", "s3://out/../out/x/"),
    ("s3://inbox/a/", "s3://out/x/./y/"),
    ("s3://inbox/..", "s3://out/x/"),
])
def test_dot_segments_are_refused_before_anything_is_imported(servers, tmp_path, input_uri, output_uri):
    root = tmp_path / "s3"
    (root / "inbox" / "a").mkdir(parents=True)
    (root / "inbox" / "a" / "valid.dcm").write_bytes(hostile_dicom.valid_ct())
    (root / "out").mkdir()
    server = servers.start(extra=["--s3-dir", str(root)])
    client = boto_client(server.url)
    jobs_before = client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE)["jobSummaries"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        start_job(client, input_uri, output_uri)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and ".." in error["Message"], error
    assert client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE)["jobSummaries"] == jobs_before
    assert not any((root / "out").rglob("*"))


def test_the_ceilings_are_flags_and_their_errors_name_them(servers):
    # The valid CT: one frame of 16 × 16 × 2 = 512 bytes.
    assert post_dicom(servers.start(extra=["--max-frame-bytes", "512"]).url, SEED_DATASTORE, hostile_dicom.valid_ct(),
                      "ok.dcm").status == 201
    r = post_dicom(servers.start(extra=["--max-frame-bytes", "511"]).url, SEED_DATASTORE, hostile_dicom.valid_ct(), "frame.dcm")
    assert r.status == 400 and "frame.dcm" in r.json()["message"] and "--max-frame-bytes" in r.json()["message"], r
    r = post_dicom(servers.start(extra=["--max-decoded-file-bytes", "511"]).url, SEED_DATASTORE, hostile_dicom.valid_ct(),
                   "file.dcm")
    assert r.status == 400 and "--max-decoded-file-bytes" in r.json()["message"], r
    for flag in ("--max-frame-bytes", "--max-decoded-file-bytes"):
        proc = subprocess.run([str(binary_path()), "--port", "0", flag, "0"], capture_output=True, text=True, timeout=30)
        assert proc.returncode != 0 and f"{flag} must be positive" in proc.stderr, proc
