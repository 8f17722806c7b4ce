"""DICOM import jobs against real clients: StartDICOMImportJob / GetDICOMImportJob / ListDICOMImportJobs with
boto3 and the aws CLI, moto's S3 server as the emulator's --s3-endpoint (and the same flows with --s3-dir),
the job-output folder read back with boto3's S3 client, and the failure paths."""

from __future__ import annotations

import json
import shutil
import time
import uuid

import botocore.exceptions
import pytest

from conftest import SEED_DATASTORE, boto_client, cli_json, datastore, hex_id, raw_request, run_cli
from import_helpers import (
    ROLE_ARN, control, corpus_files, free_port, read_output, read_output_dir, s3_client, start_job, wait_for_job,
)

pytestmark = pytest.mark.timeout(300)




@pytest.fixture
def s3(moto):
    return s3_client(moto)


def fresh_bucket(s3) -> str:
    name = f"hil-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


BAD_FILES = {
    "bad/notes.txt": b"this is not a DICOM file at all\n" * 4,
    "bad/empty.dcm": b"",
    "bad/preamble-only.dcm": b"\x00" * 128 + b"DICM",
}


def truncated_file() -> bytes:
    files = corpus_files(["CT_small.dcm"])
    return files[0].read_bytes()[:600] if files else b"\x00" * 128 + b"DICM\x02\x00\x00\x00UL\x04\x00"


# ---------------------------------------------------------------------------
# The operations: validation, shapes, idempotency.
# ---------------------------------------------------------------------------


def test_start_answers_the_model_shape_and_get_and_list_show_the_job(servers, s3, moto):
    server = servers.start(extra=["--s3-endpoint", moto])
    client = boto_client(server.url)
    bucket = fresh_bucket(s3)
    answer = client.start_dicom_import_job(
        datastoreId=SEED_DATASTORE, dataAccessRoleArn=ROLE_ARN, inputS3Uri=f"s3://{bucket}/in/",
        outputS3Uri=f"s3://{bucket}/out/", jobName="shape-check", clientToken="token-1")
    assert answer["datastoreId"] == SEED_DATASTORE
    assert answer["jobStatus"] == "SUBMITTED"
    job_id = answer["jobId"]
    assert len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
    assert answer["submittedAt"].year >= 2024
    props = wait_for_job(client, SEED_DATASTORE, job_id)
    assert props["jobStatus"] == "COMPLETED", props
    assert props["jobName"] == "shape-check"
    assert props["dataAccessRoleArn"] == ROLE_ARN
    assert props["inputS3Uri"] == f"s3://{bucket}/in/"
    assert props["outputS3Uri"] == f"s3://{bucket}/out/{SEED_DATASTORE}-DicomImport-{job_id}/"
    assert props["endedAt"] >= props["submittedAt"]
    summaries = client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE)["jobSummaries"]
    assert [s["jobId"] for s in summaries] == [job_id]
    assert summaries[0]["jobStatus"] == "COMPLETED" and "inputS3Uri" not in summaries[0]
    manifest, success, failure = read_output(s3, props["outputS3Uri"])
    summary = manifest["jobSummary"]
    assert summary["jobId"] == job_id and summary["datastoreId"] == SEED_DATASTORE
    assert summary["outputS3Uri"] == props["outputS3Uri"]
    assert summary["successOutputS3Uri"] == props["outputS3Uri"] + "SUCCESS/"
    assert summary["failureOutputS3Uri"] == props["outputS3Uri"] + "FAILURE/"
    assert summary["numberOfScannedFiles"] == 0 and summary["imageSetsSummary"] == []
    assert success == [] and failure == []


@pytest.mark.parametrize("member,value,fragment", [
    ("dataAccessRoleArn", "arn:aws:iam::12:role/x", "dataAccessRoleArn"),
    ("inputS3Uri", "https://bucket/prefix/", "inputS3Uri"),
    ("outputS3Uri", "s3://A_Bucket/", "outputS3Uri"),
    ("jobName", "has spaces", "jobName"),
    ("inputOwnerAccountId", "12345", "inputOwnerAccountId"),
    ("clientToken", "bad token!", "clientToken"),
])
def test_start_validates_members(server, member, value, fragment):
    body = {"dataAccessRoleArn": ROLE_ARN, "clientToken": "t1", "inputS3Uri": "s3://bucket/in/",
            "outputS3Uri": "s3://bucket/out/", member: value}
    r = raw_request(server.url, "POST", f"/startDICOMImportJob/datastore/{SEED_DATASTORE}",
                    headers={"Content-Type": "application/json"}, body=json.dumps(body).encode())
    assert r.status == 400, r
    assert r.headers["x-amzn-errortype"].startswith("ValidationException")
    assert fragment in r.json()["message"]


def test_start_requires_client_token_and_role(server):
    body = {"inputS3Uri": "s3://bucket/in/", "outputS3Uri": "s3://bucket/out/"}
    r = raw_request(server.url, "POST", f"/startDICOMImportJob/datastore/{SEED_DATASTORE}",
                    headers={"Content-Type": "application/json"}, body=json.dumps(body).encode())
    assert r.status == 400 and "clientToken" in r.json()["message"] and "dataAccessRoleArn" in r.json()["message"]


def test_start_on_missing_or_inactive_datastore(servers):
    creating = hex_id(7)
    d = datastore(creating, [])
    d["datastoreStatus"] = "CREATING"
    server = servers.start_with([d])
    client = boto_client(server.url)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        start_job(client, "s3://bucket/in/", "s3://bucket/out/", datastore_id=hex_id(9))
    with pytest.raises(client.exceptions.ConflictException):
        start_job(client, "s3://bucket/in/", "s3://bucket/out/", datastore_id=creating)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_dicom_import_job(datastoreId=creating, jobId="abc")
    with pytest.raises(botocore.exceptions.ParamValidationError):
        client.get_dicom_import_job(datastoreId=creating, jobId="")


def test_client_token_is_idempotent(servers):
    server = servers.start()
    client = boto_client(server.url)
    kw = dict(datastoreId=SEED_DATASTORE, dataAccessRoleArn=ROLE_ARN, inputS3Uri="s3://bucket/in/",
              outputS3Uri="s3://bucket/out/", clientToken="same-token")
    first = client.start_dicom_import_job(**kw)
    again = client.start_dicom_import_job(**kw)
    assert again["jobId"] == first["jobId"] and again["submittedAt"] == first["submittedAt"]
    with pytest.raises(client.exceptions.ConflictException):
        client.start_dicom_import_job(**{**kw, "inputS3Uri": "s3://bucket/other/"})
    assert len(client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE)["jobSummaries"]) == 1


def test_list_filters_by_status_and_pages_with_bound_tokens(servers):
    server = servers.start()
    client = boto_client(server.url)
    ids = [start_job(client, "s3://bucket/in/", "s3://bucket/out/") for _ in range(3)]
    for job_id in ids:
        assert wait_for_job(client, SEED_DATASTORE, job_id)["jobStatus"] == "FAILED"
    pages, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, jobStatus="FAILED", maxResults=1, **kw)
        pages.append([s["jobId"] for s in page["jobSummaries"]])
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(sum(pages, [])) == sorted(ids) and all(len(p) == 1 for p in pages)
    first = client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, jobStatus="FAILED", maxResults=1)
    with pytest.raises(client.exceptions.ValidationException):
        client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, jobStatus="COMPLETED", nextToken=first["nextToken"])
    assert client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, jobStatus="COMPLETED")["jobSummaries"] == []
    with pytest.raises(client.exceptions.ValidationException):
        client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, maxResults=51)


# ---------------------------------------------------------------------------
# Failure paths: never a hang, never a crash, a message naming the cause and the flag.
# ---------------------------------------------------------------------------


def test_no_source_configured_fails_naming_the_flags(servers):
    server = servers.start()
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://bucket/in/", "s3://bucket/out/"))
    assert props["jobStatus"] == "FAILED"
    assert "--s3-dir" in props["message"] and "--s3-endpoint" in props["message"]


def test_missing_bucket_fails_naming_it(servers, moto, s3):
    server = servers.start(extra=["--s3-endpoint", moto])
    client = boto_client(server.url)
    out = fresh_bucket(s3)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://no-such-bucket-here/in/", f"s3://{out}/o/"))
    assert props["jobStatus"] == "FAILED"
    assert "no-such-bucket-here" in props["message"] and "does not exist" in props["message"]
    # A missing output bucket fails the job before anything is imported.
    before = client.search_image_sets(datastoreId=SEED_DATASTORE)["imageSetsMetadataSummaries"]
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, f"s3://{out}/in/", "s3://no-output-bucket/o/"))
    assert props["jobStatus"] == "FAILED" and "no-output-bucket" in props["message"]
    assert client.search_image_sets(datastoreId=SEED_DATASTORE)["imageSetsMetadataSummaries"] == before


def test_unreachable_endpoint_fails_fast(servers):
    dead = f"http://127.0.0.1:{free_port()}"
    server = servers.start(extra=["--s3-endpoint", dead])
    client = boto_client(server.url)
    began = time.monotonic()
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://bucket/in/", "s3://bucket/out/"), timeout=60)
    assert props["jobStatus"] == "FAILED"
    assert "--s3-endpoint" in props["message"] and "reach" in props["message"]
    assert time.monotonic() - began < 45
    # The server still answers.
    assert client.get_datastore(datastoreId=SEED_DATASTORE)["datastoreProperties"]["datastoreStatus"] == "ACTIVE"


def check_all_bad(manifest, success, failure, keys):
    summary = manifest["jobSummary"]
    assert summary["numberOfScannedFiles"] == len(keys)
    assert summary["numberOfImportedFiles"] == 0
    assert summary["numberOfFilesWithCustomerError"] == len(keys)
    assert summary["numberOfFilesWithServerError"] == 0
    assert summary["numberOfGeneratedImageSets"] == 0 and summary["imageSetsSummary"] == []
    assert success == []
    assert sorted(line["inputFile"] for line in failure) == sorted(keys)
    for line in failure:
        assert line["exception"]["exceptionType"] and line["exception"]["message"], line


def test_all_files_bad_completes_with_customer_errors(servers, moto, s3):
    server = servers.start(extra=["--s3-endpoint", moto])
    client = boto_client(server.url)
    bucket = fresh_bucket(s3)
    files = dict(BAD_FILES, **{"bad/truncated.dcm": truncated_file()})
    # (32-bit samples are no longer refused: test_import_cases.py.)
    for key, data in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, f"s3://{bucket}/bad/", f"s3://{bucket}/out/"))
    assert props["jobStatus"] == "COMPLETED", props
    check_all_bad(*read_output(s3, props["outputS3Uri"]), keys=list(files))


def test_all_files_bad_with_s3_dir(servers, tmp_path):
    root = tmp_path / "s3"
    (root / "inbox" / "bad").mkdir(parents=True)
    files = dict(BAD_FILES, **{"bad/truncated.dcm": truncated_file()})
    for key, data in files.items():
        (root / "inbox" / key).write_bytes(data)
    server = servers.start(extra=["--s3-dir", str(root)])
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/bad/", "s3://inbox/results/"))
    assert props["jobStatus"] == "COMPLETED", props
    check_all_bad(*read_output_dir(root, props["outputS3Uri"]), keys=list(files))
    # A bucket is a directory that must exist.
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/bad/", "s3://missing-bucket/r/"))
    assert props["jobStatus"] == "FAILED" and "missing-bucket" in props["message"] and "--s3-dir" in props["message"]


def test_oversized_file_is_a_customer_error(servers, tmp_path):
    root = tmp_path / "s3"
    (root / "inbox" / "big").mkdir(parents=True)
    (root / "inbox" / "big" / "large.dcm").write_bytes(b"\x00" * 5000)
    server = servers.start(extra=["--s3-dir", str(root), "--max-import-file-bytes", "4096"])
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://inbox/big/", "s3://inbox/results/"))
    assert props["jobStatus"] == "COMPLETED"
    manifest, _, failure = read_output_dir(root, props["outputS3Uri"])
    assert manifest["jobSummary"]["numberOfFilesWithCustomerError"] == 1
    assert "exceeds the maximum" in failure[0]["exception"]["message"]


# ---------------------------------------------------------------------------
# Test control: held jobs, planned failures, state round trip.
# ---------------------------------------------------------------------------


def test_held_job_is_seen_in_progress_by_a_poller_until_advanced(servers, tmp_path):
    root = tmp_path / "s3"
    (root / "inbox" / "in").mkdir(parents=True)
    server = servers.start(extra=["--s3-dir", str(root)])
    client = boto_client(server.url)
    control(server.url, "PUT", "transitions", {"importJob": "manual"})
    job_id = start_job(client, "s3://inbox/in/", "s3://inbox/out/")
    seen = []
    deadline = time.monotonic() + 30
    # The work finishes in the background (the output appears); the visible status stays IN_PROGRESS.
    while not (root / "inbox" / "out" / f"{SEED_DATASTORE}-DicomImport-{job_id}" / "job-output-manifest.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for _ in range(5):
        props = client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job_id)["jobProperties"]
        seen.append(props["jobStatus"])
        assert "endedAt" not in props
    assert seen == ["IN_PROGRESS"] * 5
    listed = client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, jobStatus="IN_PROGRESS")["jobSummaries"]
    assert [s["jobId"] for s in listed] == [job_id]
    while control(server.url, "GET", "transitions").json()["pending"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = control(server.url, "POST", "transitions/advance", {"datastoreId": SEED_DATASTORE, "jobId": job_id})
    assert r.json()["applied"] == 1
    props = client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job_id)["jobProperties"]
    assert props["jobStatus"] == "COMPLETED" and "endedAt" in props
    assert control(server.url, "GET", "transitions").json()["importJob"] == "manual"


def test_manual_reads_mode_releases_after_n_reads(servers):
    server = servers.start()
    client = boto_client(server.url)
    control(server.url, "PUT", "transitions", {"importJob": "manual:2"})
    job_id = start_job(client, "s3://bucket/in/", "s3://bucket/out/")
    seen = []
    props = wait_for_job(client, SEED_DATASTORE, job_id, seen=seen)
    assert props["jobStatus"] == "FAILED"
    assert seen[-3:-1] == ["IN_PROGRESS", "IN_PROGRESS"], seen


def test_planned_outcome_fails_the_next_job(servers):
    server = servers.start()
    client = boto_client(server.url)
    control(server.url, "POST", "outcomes", {"operation": "StartDICOMImportJob", "datastoreId": SEED_DATASTORE,
                                               "message": "INTERNAL_ERROR: planned import failure"})
    job_id = start_job(client, "s3://bucket/in/", "s3://bucket/out/")
    props = wait_for_job(client, SEED_DATASTORE, job_id)
    assert props["jobStatus"] == "FAILED" and props["message"] == "INTERNAL_ERROR: planned import failure"
    failed = client.list_dicom_import_jobs(datastoreId=SEED_DATASTORE, jobStatus="FAILED")["jobSummaries"]
    assert failed[0]["message"] == "INTERNAL_ERROR: planned import failure"
    # One-shot.
    assert control(server.url, "GET", "outcomes").json()["outcomes"] == []


def test_export_reset_load_keeps_jobs(servers):
    server = servers.start()
    client = boto_client(server.url)
    job_id = start_job(client, "s3://bucket/in/", "s3://bucket/out/", jobName="kept")
    before = wait_for_job(client, SEED_DATASTORE, job_id)
    exported = control(server.url, "GET", "fixtures").json()
    jobs = [j for d in exported["datastores"] for j in d.get("importJobs", [])]
    assert [j["jobId"] for j in jobs] == [job_id]
    control(server.url, "POST", "reset", {"to": "empty"})
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job_id)
    control(server.url, "POST", "fixtures", exported, expect=201)
    after = client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job_id)["jobProperties"]
    assert after == before


def test_cli_start_get_list(servers, tmp_path):
    root = tmp_path / "s3"
    (root / "inbox" / "in").mkdir(parents=True)
    server = servers.start(extra=["--s3-dir", str(root)])
    started = cli_json(server.url, "start-dicom-import-job", "--datastore-id", SEED_DATASTORE, "--job-name", "cli-job",
                       "--data-access-role-arn", ROLE_ARN, "--input-s3-uri", "s3://inbox/in/",
                       "--output-s3-uri", "s3://inbox/out/")
    assert started["jobStatus"] == "SUBMITTED"
    deadline = time.monotonic() + 60
    while True:
        got = cli_json(server.url, "get-dicom-import-job", "--datastore-id", SEED_DATASTORE, "--job-id", started["jobId"])
        if got["jobProperties"]["jobStatus"] in ("COMPLETED", "FAILED"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert got["jobProperties"]["jobStatus"] == "COMPLETED"
    listed = cli_json(server.url, "list-dicom-import-jobs", "--datastore-id", SEED_DATASTORE)
    assert listed["jobSummaries"][0]["jobName"] == "cli-job"
    rc, _, err = run_cli(server.url, "get-dicom-import-job", "--datastore-id", SEED_DATASTORE, "--job-id", "0" * 32)
    assert rc != 0 and "ResourceNotFoundException" in err


# ---------------------------------------------------------------------------
# SigV4: the emulator's S3 requests carry signatures botocore itself computes the same.
# ---------------------------------------------------------------------------


class StandInS3:
    """A recording S3 stand-in for --s3-endpoint: every listing is empty, PUTs are kept and read back by GET, and
    a GET whose key ends with `hold_suffix` waits until `release` is set (a slow S3)."""

    def __init__(self, hold_suffix: str | None = None):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.recorded = []
        self.objects = {}
        self.holding = threading.Event()
        self.release = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, body=b"", status=200):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                stand_in.recorded.append(("GET", self.path, dict(self.headers), b""))
                path = self.path.split("?")[0]
                if path in stand_in.objects:
                    if hold_suffix and path.endswith(hold_suffix):
                        stand_in.holding.set()
                        stand_in.release.wait(30)
                    return self.answer(stand_in.objects[path])
                if "?" not in self.path:
                    return self.answer(b"<Error><Code>NoSuchKey</Code></Error>", 404)
                self.answer(b'<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>')

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stand_in.recorded.append(("PUT", self.path, dict(self.headers), body))
                stand_in.objects[self.path.split("?")[0]] = body
                self.answer()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.release.set()
        self.server.shutdown()


def test_s3_requests_are_sigv4_signed_like_botocore_signs_them(servers):
    """A recording S3 stand-in as --s3-endpoint (moto does not check signatures by default): every request the
    emulator sends is re-signed with botocore's S3SigV4Auth from the same headers, and the signatures must match."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    stand_in = StandInS3()
    endpoint = stand_in.endpoint
    recorded = stand_in.recorded
    try:
        server = servers.start(extra=["--s3-endpoint", endpoint])
        client = boto_client(server.url)
        props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://in-bucket/some prefix/", "s3://out-bucket/res/"))
        assert props["jobStatus"] == "COMPLETED", props
    finally:
        stand_in.stop()
    methods = [r[0] for r in recorded]
    assert methods.count("GET") >= 2 and methods.count("PUT") == 3, methods
    credentials = Credentials("test", "test")
    for method, path, headers, body in recorded:
        lower = {k.lower(): v for k, v in headers.items()}
        authorization = lower["authorization"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=test/")
        signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        request = AWSRequest(method=method, url=endpoint + path, data=body,
                             headers={name: lower[name] for name in signed})
        request.context["timestamp"] = lower["x-amz-date"]
        auth = S3SigV4Auth(credentials, "s3", "us-east-1")
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        assert authorization.endswith("Signature=" + expected), (method, path, canonical)


def test_web_view_reads_job_output_off_the_loop(servers):
    """The namespace page reads each finished job's output folder from S3. While that read is slow, the loop goes on
    answering (health within a second); the page answers when the read is done, with the manifest's counts."""
    import threading

    stand_in = StandInS3(hold_suffix="job-output-manifest.json")
    try:
        server = servers.start(extra=["--s3-endpoint", stand_in.endpoint])
        client = boto_client(server.url)
        props = wait_for_job(client, SEED_DATASTORE, start_job(client, "s3://in-bucket/in/", "s3://out-bucket/res/"))
        assert props["jobStatus"] == "COMPLETED", props
        page = []
        reader = threading.Thread(target=lambda: page.append(raw_request(
            server.url, "GET", "/_healthimaging/ui/namespaces/123456789012/us-east-1", timeout=60)))
        reader.start()
        assert stand_in.holding.wait(20), ("the page never read the job's manifest", [r[:2] for r in stand_in.recorded])
        started = time.monotonic()
        health = raw_request(server.url, "GET", "/_healthimaging/health", timeout=10)
        waited = time.monotonic() - started
        assert health.status == 200 and waited < 1.0, f"health waited {waited:.2f}s behind a slow S3 read"
        assert reader.is_alive(), "the page answered before its S3 read was done"
        stand_in.release.set()
        reader.join(30)
        assert page and page[0].status == 200
        assert "ScannedFiles: 0" in page[0].body.decode()
    finally:
        stand_in.stop()
