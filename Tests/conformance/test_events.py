"""EventBridge events (docs/events-and-time.md, "Events").

A real consumer chain: moto's server (S3 + EventBridge + SQS in one process) with a rule on
``source: aws.medical-imaging`` targeting an SQS queue; the emulator started with ``--eventbridge-endpoint``
pointing at moto. The tests act with boto3, read the queue with boto3 and compare every event's ``detail`` with
what GetDatastore / GetImageSet / GetDICOMImportJob answer at that moment (transitions held in ``manual`` mode,
so "that moment" is a state that stays put). Then fault rules (drop, duplicate) as the consumer sees them, the
PutEvents requests themselves (signature, order, retries, delay, reorder) against a recording server, and the
control plane's ring (filters, since, DELETE, reset, ring size).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, boto_client, raw_request
from import_helpers import ROLE_ARN, corpus_files, s3_client, wait_for_job
from lifecycle_helpers import control, set_transitions, wait_for

pytestmark = pytest.mark.timeout(300)

ACCOUNT = "123456789012"
REGION = "us-east-1"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def aws(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}))


class Consumer:
    """An EventBridge rule on the default bus → an SQS queue, read with boto3 as a pipeline's consumer does."""

    def __init__(self, moto: str, pattern: dict):
        self.sqs = aws("sqs", moto)
        self.events = aws("events", moto)
        name = f"hil-{uuid.uuid4().hex[:10]}"
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.rule = name
        self.events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
        self.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])

    def close(self):
        self.events.remove_targets(Rule=self.rule, Ids=["queue"])
        self.events.delete_rule(Name=self.rule)

    def receive(self, count: int, timeout: float = 20.0) -> list[dict]:
        """Exactly the next ``count`` events (fails on fewer within ``timeout``)."""
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"only {len(got)} of {count} events arrived: {[e['detail-type'] for e in got]}"
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return got

    def drain(self, quiet: float = 1.5) -> list[dict]:
        """Everything that arrives until the queue has been empty for ``quiet`` seconds."""
        got: list[dict] = []
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            for message in messages:
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if messages:
                last = time.monotonic()
            else:
                time.sleep(0.1)
        return got


@pytest.fixture
def consumer(moto):
    made = []

    def make(pattern=None):
        c = Consumer(moto, pattern or {"source": ["aws.medical-imaging"]})
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def events(url: str, query: str = "") -> dict:
    r = control(url, "GET", "events" + (("?" + query) if query else ""))
    return r.json()


def settled(url: str, timeout: float = 20.0) -> dict:
    """/events once no event is pending delivery."""
    return wait_for(lambda: events(url), lambda got: all(e["delivery"]["status"] != "pending" for e in got["events"]),
                    timeout=timeout, interval=0.1)[0]


def check_envelope(event: dict, detail_type: str, resource: str):
    assert event["detail-type"] == detail_type, event
    assert event["source"] == "aws.medical-imaging"
    assert event["version"] == "0"
    assert UUID4.match(event["id"]), event["id"]
    # moto's default target template leaves out "account" (AWS writes it; the ring's envelope has it).
    assert event.get("account", ACCOUNT) == ACCOUNT and event["region"] == REGION
    assert TIME.match(event["time"]), event["time"]
    assert event["resources"] == [resource]
    assert event["detail"]["imagingVersion"] == "1.0"


def datastore_arn(ds: str) -> str:
    return f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/{ds}"


def image_set_arn(ds: str, image_set: str) -> str:
    return f"{datastore_arn(ds)}/imageset/{image_set}"


def agrees_with_datastore(client, event: dict, ds: str, detail_type: str):
    check_envelope(event, detail_type, datastore_arn(ds))
    props = client.get_datastore(datastoreId=ds)["datastoreProperties"]
    assert event["detail"] == {"imagingVersion": "1.0", "datastoreId": ds, "datastoreName": props["datastoreName"],
                               "datastoreStatus": props["datastoreStatus"]}


def agrees_with_image_set(client, event: dict, ds: str, detail_type: str, source_arn: str | None = None):
    image_set = event["detail"]["imageSetId"]
    check_envelope(event, detail_type, image_set_arn(ds, image_set))
    got = client.get_image_set(datastoreId=ds, imageSetId=image_set)
    expected = {"imagingVersion": "1.0", "isPrimary": got.get("isPrimary", True), "imageSetVersion": got["versionId"],
                "datastoreId": ds, "imageSetId": image_set, "imageSetState": got["imageSetState"],
                "imageSetWorkflowStatus": got["imageSetWorkflowStatus"]}
    if source_arn:
        expected["sourceImageSetArn"] = source_arn
    assert event["detail"] == expected


def agrees_with_job(client, event: dict, ds: str, job_id: str, detail_type: str, output_prefix: str):
    check_envelope(event, detail_type, datastore_arn(ds))
    props = client.get_dicom_import_job(datastoreId=ds, jobId=job_id)["jobProperties"]
    assert props["outputS3Uri"].startswith(output_prefix)
    assert event["detail"] == {"imagingVersion": "1.0", "datastoreId": ds, "jobId": job_id, "jobName": props["jobName"],
                               "jobStatus": props["jobStatus"], "inputS3Uri": props["inputS3Uri"],
                               "outputS3Uri": output_prefix}


def advance(url: str, **target):
    return control(url, "POST", "transitions/advance", target).json()["applied"]


# ---------------------------------------------------------------------------
# The consumer chain.
# ---------------------------------------------------------------------------


def test_a_consumer_gets_every_state_change_agreeing_with_the_api_at_that_moment(servers, moto, consumer):
    files = corpus_files(["CT_small.dcm", "MR_small.dcm"])
    assert len(files) == 2, "pydicom's test files are needed"
    queue = consumer()
    server = servers.start(fixtures=(), extra=["--s3-endpoint", moto, "--eventbridge-endpoint", moto])
    url = server.url
    client = boto_client(url)
    set_transitions(url, datastore="manual", imageSet="manual", importJob="manual")

    # Datastore: Creating (as GetDatastore says while held), then Created.
    ds = client.create_datastore(datastoreName="events-store")["datastoreId"]
    [creating] = queue.receive(1)
    agrees_with_datastore(client, creating, ds, "Data Store Creating")
    assert creating["detail"]["datastoreStatus"] == "CREATING"
    assert advance(url, datastoreId=ds) == 1
    [created] = queue.receive(1)
    agrees_with_datastore(client, created, ds, "Data Store Created")
    assert created["detail"]["datastoreStatus"] == "ACTIVE"

    # Import: Submitted, In Progress, one Image Set Created per image set (two series → two), then Completed.
    s3 = s3_client(moto)
    bucket = f"hil-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for f in files:
        s3.put_object(Bucket=bucket, Key=f"in/{f.name}", Body=f.read_bytes())
    job_id = client.start_dicom_import_job(
        jobName="events-job", datastoreId=ds, dataAccessRoleArn=ROLE_ARN, inputS3Uri=f"s3://{bucket}/in/",
        outputS3Uri=f"s3://{bucket}/out/")["jobId"]
    first = queue.receive(4)
    types = [e["detail-type"] for e in first]
    assert types[:2] == ["Import Job Submitted", "Import Job In Progress"], types
    assert sorted(types[2:]) == ["Image Set Created", "Image Set Created"], types
    check_envelope(first[0], "Import Job Submitted", datastore_arn(ds))
    assert first[0]["detail"]["jobStatus"] == "SUBMITTED" and first[0]["detail"]["jobId"] == job_id
    # Held IN_PROGRESS by the manual mode: the job says what In Progress said.
    agrees_with_job(client, first[1], ds, job_id, "Import Job In Progress", f"s3://{bucket}/out/")
    created_sets = []
    for event in first[2:]:
        agrees_with_image_set(client, event, ds, "Image Set Created")
        assert event["detail"]["imageSetVersion"] == "1" and event["detail"]["isPrimary"] is True
        created_sets.append(event["detail"]["imageSetId"])
    assert advance(url, datastoreId=ds, jobId=job_id) == 1
    [completed] = queue.receive(1)
    agrees_with_job(client, completed, ds, job_id, "Import Job Completed", f"s3://{bucket}/out/")
    assert completed["detail"]["jobStatus"] == "COMPLETED"
    # The image sets the job reports are those announced.
    props = wait_for_job(client, ds, job_id)
    manifest = s3.get_object(Bucket=bucket, Key=props["outputS3Uri"].split(bucket + "/", 1)[1] + "SUCCESS/success.ndjson")
    reported = {json.loads(line)["importResponse"]["imageSetId"] for line in manifest["Body"].read().splitlines()}
    assert reported == set(created_sets)

    # Update: Updating (LOCKED, version 2), then Updated.
    target, other = created_sets
    updates = {"DICOMUpdates": {"updatableAttributes": json.dumps(
        {"SchemaVersion": 1.1, "Patient": {"DICOM": {"PatientName": "Events^Test"}}}).encode()}}
    client.update_image_set_metadata(datastoreId=ds, imageSetId=target, latestVersionId="1",
                                     updateImageSetMetadataUpdates=updates)
    [updating] = queue.receive(1)
    agrees_with_image_set(client, updating, ds, "Image Set Updating")
    assert (updating["detail"]["imageSetState"], updating["detail"]["imageSetVersion"]) == ("LOCKED", "2")
    advance(url, datastoreId=ds, imageSetId=target)
    [updated] = queue.receive(1)
    agrees_with_image_set(client, updated, ds, "Image Set Updated")
    assert updated["detail"]["imageSetWorkflowStatus"] == "UPDATED"

    # Copy into a new image set: Copying (destination, with the source's ARN) and Copying With Read Only Access
    # (source), then Copied for both.
    copy = client.copy_image_set(datastoreId=ds, sourceImageSetId=target,
                                 copyImageSetInformation={"sourceImageSet": {"latestVersionId": "2"}})
    dest = copy["destinationImageSetProperties"]["imageSetId"]
    copying, read_only = queue.receive(2)
    agrees_with_image_set(client, copying, ds, "Image Set Copying", source_arn=image_set_arn(ds, target))
    assert copying["detail"]["imageSetId"] == dest
    agrees_with_image_set(client, read_only, ds, "Image Set Copying With Read Only Access")
    assert read_only["detail"]["imageSetId"] == target
    advance(url, datastoreId=ds)
    copied = queue.receive(2)
    assert sorted(e["detail"]["imageSetId"] for e in copied) == sorted([dest, target])
    for event in copied:
        agrees_with_image_set(client, event, ds, "Image Set Copied")

    # Delete every image set: Deleting, then Deleted; then the datastore: Deleting, Deleted.
    for image_set in (dest, target, other):
        client.delete_image_set(datastoreId=ds, imageSetId=image_set)
        [deleting] = queue.receive(1)
        agrees_with_image_set(client, deleting, ds, "Image Set Deleting")
        advance(url, datastoreId=ds, imageSetId=image_set)
        [deleted] = queue.receive(1)
        agrees_with_image_set(client, deleted, ds, "Image Set Deleted")
        assert deleted["detail"]["imageSetState"] == "DELETED"
    client.delete_datastore(datastoreId=ds)
    [deleting] = queue.receive(1)
    agrees_with_datastore(client, deleting, ds, "Data Store Deleting")
    advance(url, datastoreId=ds)
    [gone] = queue.receive(1)
    agrees_with_datastore(client, gone, ds, "Data Store Deleted")

    # Nothing more, and the ring says every event was delivered once.
    assert queue.drain() == []
    ring = settled(url)
    assert len(ring["events"]) == 21
    assert all(e["delivery"] == {"status": "delivered", "attempts": 1, "copies": 1, "error": None} for e in ring["events"])


def test_a_failed_copy_and_update_announce_their_failure(servers, moto, consumer):
    queue = consumer({"source": ["aws.medical-imaging"], "detail": {"datastoreId": [SEED_DATASTORE]}})
    server = servers.start(extra=["--eventbridge-endpoint", moto])
    url, client = server.url, boto_client(server.url)
    control(url, "POST", "outcomes", {"operation": "UpdateImageSetMetadata", "datastoreId": SEED_DATASTORE})
    latest = client.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["versionId"]
    client.update_image_set_metadata(
        datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId=latest,
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": b'{"SchemaVersion":1.1,"Patient":{"DICOM":{"PatientName":"X"}}}'}})
    updating, failed = queue.receive(2)
    assert (updating["detail-type"], failed["detail-type"]) == ("Image Set Updating", "Image Set Update Failed")
    agrees_with_image_set(client, failed, SEED_DATASTORE, "Image Set Update Failed")
    assert failed["detail"]["imageSetState"] == "ACTIVE"

    control(url, "POST", "outcomes", {"operation": "CopyImageSet", "datastoreId": SEED_DATASTORE})
    latest = client.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["versionId"]
    client.copy_image_set(datastoreId=SEED_DATASTORE, sourceImageSetId=SEED_IMAGE_SET,
                          copyImageSetInformation={"sourceImageSet": {"latestVersionId": latest}})
    got = queue.receive(3)
    assert [e["detail-type"] for e in got] == ["Image Set Copying", "Image Set Copying With Read Only Access",
                                               "Image Set Copy Failed"]
    agrees_with_image_set(client, got[2], SEED_DATASTORE, "Image Set Copy Failed")
    # The source goes back to its earlier status, which no detail-type announces.
    assert queue.drain() == []


def test_drop_and_duplicate_faults_are_what_the_consumer_sees(servers, moto, consumer):
    queue = consumer({"source": ["aws.medical-imaging"], "detail": {"datastoreId": [SEED_DATASTORE]}})
    server = servers.start(extra=["--eventbridge-endpoint", moto])
    url, client = server.url, boto_client(server.url)
    rules = control(url, "POST", "faults", {"rules": [
        {"detailType": "Image Set Updated", "effect": "drop", "times": 1},
        {"detailType": "Image Set Updating", "effect": "duplicate", "times": 1},
    ]}, expect=201).json()["rules"]
    assert [(r["detailType"], r["effect"], r["remaining"]) for r in rules] == [
        ("Image Set Updated", "drop", 1), ("Image Set Updating", "duplicate", 1)]
    for name in ("A", "B"):
        latest = client.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["versionId"]
        client.update_image_set_metadata(
            datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId=latest,
            updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(
                {"SchemaVersion": 1.1, "Patient": {"DICOM": {"PatientName": name}}}).encode()}})
    ring = settled(url)
    got = queue.drain(quiet=2.0)
    seen = sorted((e["detail-type"], e["detail"]["imageSetVersion"]) for e in got)
    v = int(ring["events"][0]["event"]["detail"]["imageSetVersion"])
    # The first Updating twice, the first Updated never; the second update's two events once each.
    assert seen == sorted([("Image Set Updating", str(v)), ("Image Set Updating", str(v)),
                           ("Image Set Updating", str(v + 1)), ("Image Set Updated", str(v + 1))])
    # A duplicate is the same entry sent twice: EventBridge gives each its own id.
    dup = [e for e in got if e["detail"]["imageSetVersion"] == str(v) and e["detail-type"] == "Image Set Updating"]
    assert dup[0]["detail"] == dup[1]["detail"] and dup[0]["id"] != dup[1]["id"]
    # The ring keeps all four, with the rule and what happened.
    statuses = [(e["event"]["detail-type"], e["delivery"]["status"], e["delivery"]["copies"],
                 e["fault"] and e["fault"]["effect"]) for e in ring["events"]]
    assert statuses == [("Image Set Updating", "delivered", 2, "duplicate"), ("Image Set Updated", "dropped", 0, "drop"),
                        ("Image Set Updating", "delivered", 1, None), ("Image Set Updated", "delivered", 1, None)]
    assert [r["fired"] for r in control(url, "GET", "faults").json()["rules"]] == [1, 1]


# ---------------------------------------------------------------------------
# The PutEvents requests themselves, against a recording server.
# ---------------------------------------------------------------------------


class Recorder:
    """An HTTP server that records PutEvents calls and answers 200 — or a planned number of 500s first."""

    def __init__(self, failures: int = 0, always_fail: bool = False):
        recorder = self
        self.requests: list[tuple[dict, dict, bytes]] = []
        self.failures = failures
        self.always_fail = always_fail
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with recorder.lock:
                    fail = recorder.always_fail or recorder.failures > 0
                    if recorder.failures > 0:
                        recorder.failures -= 1
                    recorder.requests.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body), body))
                if fail:
                    answer = b'{"__type":"InternalException","message":"planned"}'
                    self.send_response(500)
                else:
                    answer = b'{"FailedEntryCount":0,"Entries":[{"EventId":"x"}]}'
                    self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def entries(self) -> list[dict]:
        with self.lock:
            return [entry for _, body, _ in self.requests for entry in body["Entries"]]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder():
    made = []

    def make(**kw):
        r = Recorder(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def update(client, name: str):
    latest = client.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["versionId"]
    client.update_image_set_metadata(
        datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId=latest,
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(
            {"SchemaVersion": 1.1, "Patient": {"DICOM": {"PatientName": name}}}).encode()}})


def test_put_events_is_signed_json_1_1_on_the_default_bus_in_order(servers, recorder):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    rec = recorder()
    server = servers.start(extra=["--eventbridge-endpoint", rec.url])
    client = boto_client(server.url)
    for name in ("A", "B", "C"):
        update(client, name)
    settled(server.url)
    assert len(rec.requests) == 6
    for headers, body, raw in rec.requests:
        assert headers["x-amz-target"] == "AWSEvents.PutEvents"
        assert headers["content-type"] == "application/x-amz-json-1.1"
        authorization = headers["authorization"]
        assert re.match(r"AWS4-HMAC-SHA256 Credential=test/\d{8}/us-east-1/events/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$",
                        authorization), authorization
        signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        assert {"host", "content-type", "x-amz-date", "x-amz-target"} <= set(signed)
        # botocore's signer, given the same request, computes the same signature (the key pair is test/test).
        request = AWSRequest(method="POST", url=rec.url + "/", data=raw, headers={n: headers[n] for n in signed})
        request.context["timestamp"] = headers["x-amz-date"]
        auth = SigV4Auth(Credentials("test", "test"), "events", "us-east-1")
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        assert authorization.endswith("Signature=" + expected)
        # One entry per call, for the default bus.
        assert set(body) == {"Entries"} and len(body["Entries"]) == 1
        entry = body["Entries"][0]
        assert set(entry) == {"Source", "DetailType", "Detail", "Resources", "Time", "EventBusName"}
        assert entry["Source"] == "aws.medical-imaging" and entry["EventBusName"] == "default"
        assert isinstance(entry["Time"], int) and isinstance(entry["Detail"], str)
    # In publication order, with the ring's detail and resources.
    ring = events(server.url)["events"]
    assert [e["DetailType"] for e in rec.entries()] == [e["event"]["detail-type"] for e in ring]
    assert [json.loads(e["Detail"]) for e in rec.entries()] == [e["event"]["detail"] for e in ring]
    assert [e["Resources"] for e in rec.entries()] == [e["event"]["resources"] for e in ring]


def test_retries_back_off_then_deliver_and_give_up_after_five(servers, recorder):
    rec = recorder(failures=2)
    server = servers.start(extra=["--eventbridge-endpoint", rec.url])
    client = boto_client(server.url)
    update(client, "A")
    ring = settled(server.url)["events"]
    assert ring[0]["delivery"]["status"] == "delivered" and ring[0]["delivery"]["attempts"] == 3
    # In order: the second event waited for the first one's retries.
    assert [e["DetailType"] for e in rec.entries()] == ["Image Set Updating"] * 3 + ["Image Set Updated"]

    dead = recorder(always_fail=True)
    server = servers.start(extra=["--eventbridge-endpoint", dead.url])
    began = time.monotonic()
    update(boto_client(server.url), "B")
    # The call never waits for delivery: waiting would take the first event's back-off alone, 3 s.
    assert time.monotonic() - began < 3
    ring = settled(server.url, timeout=30)["events"]
    assert [e["delivery"]["status"] for e in ring] == ["failed", "failed"]
    assert ring[0]["delivery"]["attempts"] == 5 and "500" in ring[0]["delivery"]["error"]


def test_an_unreachable_endpoint_never_fails_or_slows_the_api(servers):
    from import_helpers import free_port
    server = servers.start(extra=["--eventbridge-endpoint", f"http://127.0.0.1:{free_port()}"])
    client = boto_client(server.url)
    began = time.monotonic()
    for name in "ABCDE":
        update(client, name)
    # A liveness bound: waiting for delivery would cost each of the 10 events its 3 s of back-off.
    assert time.monotonic() - began < 10
    ring = events(server.url)["events"]
    assert len(ring) == 10 and ring[0]["delivery"]["status"] in ("pending", "failed")


def test_delay_and_reorder_faults_change_the_order_delivered(servers, recorder):
    rec = recorder()
    server = servers.start(extra=["--eventbridge-endpoint", rec.url])
    url, client = server.url, boto_client(server.url)
    control(url, "POST", "faults", {"detailType": "Image Set Updating", "effect": "reorder", "times": 1}, expect=201)
    update(client, "A")  # Updating (held until the next event is sent), Updated
    settled(url)
    assert [e["DetailType"] for e in rec.entries()] == ["Image Set Updated", "Image Set Updating"]

    control(url, "POST", "faults", {"detailType": "Image Set Updating", "effect": "delay", "delayMs": 800, "times": 1}, expect=201)
    update(client, "B")
    update(client, "C")
    settled(url)
    versions = [(e["DetailType"], json.loads(e["Detail"])["imageSetVersion"]) for e in rec.entries()[2:]]
    first = int(versions[0][1]) if versions[0][0] == "Image Set Updated" else None
    assert first is not None, versions
    # B's Updating comes last, after C's two events.
    assert versions == [("Image Set Updated", str(first)), ("Image Set Updating", str(first + 1)),
                        ("Image Set Updated", str(first + 1)), ("Image Set Updating", str(first))]
    ring = events(url, "detailType=Image%20Set%20Updating")["events"]
    assert [e["fault"] and e["fault"]["effect"] for e in ring] == ["reorder", "delay", None]
    assert ring[1]["fault"]["delayMs"] == 800


# ---------------------------------------------------------------------------
# The ring on the control plane.
# ---------------------------------------------------------------------------


def test_ring_filters_since_limit_delete_and_reset(servers):
    server = servers.start(extra=["--event-ring-size", "5"])
    url, client = server.url, boto_client(server.url)
    got = events(url)
    assert got == {"lastSequence": 0, "delivery": "not-configured", "events": []}  # fixtures announce nothing
    update(client, "A")
    ds = client.create_datastore(datastoreName="second")["datastoreId"]
    got = events(url)
    assert [e["sequence"] for e in got["events"]] == [1, 2, 3, 4] and got["lastSequence"] == 4
    assert [e["event"]["detail-type"] for e in got["events"]] == [
        "Image Set Updating", "Image Set Updated", "Data Store Creating", "Data Store Created"]
    assert all(e["delivery"]["status"] == "not-configured" for e in got["events"])
    for entry in got["events"]:
        event = entry["event"]
        assert event["account"] == ACCOUNT and set(event) == {"version", "id", "detail-type", "source", "account",
                                                              "time", "region", "resources", "detail"}
        check_envelope(event, event["detail-type"], image_set_arn(SEED_DATASTORE, SEED_IMAGE_SET)
                       if event["detail-type"].startswith("Image Set") else datastore_arn(ds))
    assert len({e["event"]["id"] for e in got["events"]}) == 4
    assert [e["sequence"] for e in events(url, f"datastoreId={ds}")["events"]] == [3, 4]
    assert [e["sequence"] for e in events(url, f"imageSetId={SEED_IMAGE_SET}")["events"]] == [1, 2]
    assert [e["sequence"] for e in events(url, "detailType=Image%20Set%20Updated")["events"]] == [2]
    assert [e["sequence"] for e in events(url, "since=2")["events"]] == [3, 4]
    assert [e["sequence"] for e in events(url, "since=2&limit=1")["events"]] == [4]
    assert events(url, "since=4")["events"] == []
    # The ring keeps the newest five.
    update(client, "B")
    assert [e["sequence"] for e in events(url)["events"]] == [2, 3, 4, 5, 6]
    # Mistakes are 400s naming the parameter.
    for query, named in (("detailType=Image%20Set%20Moved", "detailType"), ("since=-1", "since"),
                         ("limit=0", "limit"), ("imageSetId=xyz", "imageSetId"), ("sinse=1", "sinse")):
        r = control(url, "GET", "events?" + query, expect=400)
        assert named in r.json()["message"], (query, r.json())
    # Another namespace's ring is its own.
    assert events(url, "account=210987654321")["events"] == []
    assert len(events(url, "scope=all")["events"]) == 5
    # DELETE empties the ring; sequences keep counting.
    assert control(url, "DELETE", "events").json() == {"cleared": 5, "lastSequence": 6}
    assert events(url)["events"] == []
    client.delete_datastore(datastoreId=ds)
    assert [e["sequence"] for e in events(url)["events"]] == [7, 8]
    # A reset empties it too (the journal's rule).
    control(url, "POST", "reset", {"to": "startup"})
    assert events(url)["events"] == []


def test_timed_transitions_announce_their_end_on_time_without_a_read(servers):
    server = servers.start()
    url, client = server.url, boto_client(server.url)
    set_transitions(url, imageSet="timed:400")
    update(client, "A")
    assert [e["event"]["detail-type"] for e in events(url)["events"]] == ["Image Set Updating"]
    # Nobody reads the image set: the loop's sweep settles it once due, and the event follows.
    deadline = time.monotonic() + 10
    while len(events(url)["events"]) < 2:
        assert time.monotonic() < deadline, events(url)
        time.sleep(0.05)
    seen_at = time.time()
    updating, updated = events(url)["events"]
    assert updated["event"]["detail-type"] == "Image Set Updated"
    assert control(url, "GET", "transitions").json()["pending"] == 0
    time.sleep(1.0)
    got = client.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert (got["imageSetState"], got["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATED")
    # Settled by the sweep before the event was seen, not at this later read.
    assert got["updatedAt"].timestamp() <= seen_at + 0.05


def test_a_refused_call_announces_nothing_and_the_devguide_key_is_optional(servers):
    server = servers.start(extra=["--event-devguide-keys"])
    url, client = server.url, boto_client(server.url)
    with pytest.raises(client.exceptions.ConflictException):
        client.update_image_set_metadata(
            datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, latestVersionId="999",
            updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": b'{"SchemaVersion":1.1}'}})
    assert events(url)["events"] == []
    update(client, "A")
    detail = events(url)["events"][0]["event"]["detail"]
    assert detail["imagesetId"] == detail["imageSetId"] == SEED_IMAGE_SET


def test_the_dicom_shortcut_announces_its_image_sets(servers):
    """The /dicom shortcut commits through ImportCommit like jobs and STOW: one Image Set Created per new image set,
    isPrimary false for a non-primary one."""
    files = corpus_files(["CT_small.dcm"])
    server = servers.start()
    url = server.url
    data = files[0].read_bytes()
    r = raw_request(url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom?inputFile=a.dcm",
                    headers={"Content-Type": "application/dicom"}, body=data)
    assert r.status < 300, r
    created = events(url, "detailType=Image%20Set%20Created")["events"]
    assert len(created) == 1 and created[0]["event"]["detail"]["isPrimary"] is True
    # The same instance with a conflicting patient makes a non-primary image set.
    import pydicom
    from io import BytesIO
    ds = pydicom.dcmread(BytesIO(data))
    ds.PatientID = "SOMEONE-ELSE"
    out = BytesIO()
    ds.save_as(out)
    r = raw_request(url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom?inputFile=b.dcm",
                    headers={"Content-Type": "application/dicom"}, body=out.getvalue())
    assert r.status < 300, r
    created = events(url, "detailType=Image%20Set%20Created")["events"]
    assert [e["event"]["detail"]["isPrimary"] for e in created] == [True, False]
    got = boto_client(url).get_image_set(datastoreId=SEED_DATASTORE, imageSetId=created[1]["event"]["detail"]["imageSetId"])
    assert got["isPrimary"] is False
    # The Python package's helpers read and clear the same ring.
    assert [e["event"]["detail"]["isPrimary"] for e in server.events(detail_type="Image Set Created")] == [True, False]
    assert server.events(since=created[0]["sequence"]) == created[1:]
    server.clear_events()
    assert server.events() == []


def test_event_fault_rules_are_validated(server):
    for rule, named in (({"detailType": "Image Set Moved", "effect": "drop"}, "detail-type"),
                        ({"detailType": "Image Set Created", "effect": "explode"}, "effect"),
                        ({"detailType": "Image Set Created", "effect": "delay"}, "delayMs"),
                        ({"detailType": "Image Set Created", "effect": "drop", "delayMs": 5}, "delayMs"),
                        ({"detailType": "Image Set Created", "effect": "drop", "error": {"code": "X"}}, "error")):
        r = control(server.url, "POST", "faults", rule, expect=400)
        assert named in r.json()["message"], (rule, r.json())


def test_the_web_view_shows_the_event_timeline(servers):
    server = servers.start()
    url, client = server.url, boto_client(server.url)
    control(url, "POST", "faults", {"detailType": "Image Set Updated", "effect": "drop", "times": 1}, expect=201)
    update(client, "A")
    ds = client.create_datastore(datastoreName="other")["datastoreId"]
    page = raw_request(url, "GET", f"/_healthimaging/ui/namespaces/{ACCOUNT}/{REGION}/datastores/{SEED_DATASTORE}"
                                   f"/imageSets/{SEED_IMAGE_SET}").body.decode()
    timeline = page.split('<h2 id="events">')[1].split("</table>")[0]
    rows = timeline.split('<tr class="event">')[1:]
    # Newest first, with the statuses, the delivery and the rule that fired.
    assert ["Image Set Updated" in rows[0], "Image Set Updating" in rows[1]] == [True, True]
    assert "UPDATED" in rows[0] and "dropped" in rows[0] and "rule-1: drop" in rows[0]
    assert "LOCKED" in rows[1] and "not-configured" in rows[1]
    namespace = raw_request(url, "GET", f"/_healthimaging/ui/namespaces/{ACCOUNT}/{REGION}").body.decode()
    sections = namespace.split('<h2 class="datastore">')[1:]
    seed = next(s for s in sections if SEED_DATASTORE in s.split("</h2>")[0])
    other = next(s for s in sections if ds in s.split("</h2>")[0])
    assert seed.count('<tr class="event">') == 2 and "Data Store" not in seed
    assert other.count('<tr class="event">') == 2 and "Data Store Created" in other and "Data Store Creating" in other
