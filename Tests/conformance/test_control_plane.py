"""The test-control plane (/_healthimaging/...) driven over real HTTP, with the
real aws CLI and boto3 as the clients whose behaviour it shapes."""

from __future__ import annotations

import json
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import (
    SEED_DATASTORE,
    SEED_FIXTURE,
    SEED_IMAGE_SET,
    ServerStartError,
    boto_client,
    list_path,
    raw_request,
    run_cli,
)

VERSIONS = f"/_healthimaging/datastores/{SEED_DATASTORE}/imageSets/{SEED_IMAGE_SET}/versions"
LIST_ARGS = ("list-image-set-versions", "--datastore-id", SEED_DATASTORE, "--image-set-id", SEED_IMAGE_SET)


def control(url, method, path, body=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    return raw_request(url, method, path, headers={"Content-Type": "application/json"}, body=data)


def add_rule(url, rule):
    r = control(url, "POST", "/_healthimaging/faults", rule)
    assert r.status == 201, r
    return r.json()["rules"][0]


def journal(url, **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    r = control(url, "GET", "/_healthimaging/journal" + (f"?{q}" if q else ""))
    assert r.status == 200, r
    return r.json()["entries"]


def list_raw(url, **query):
    return raw_request(url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET, **query))


def test_health_reports_counts_and_readiness(fresh_server):
    r = control(fresh_server.url, "GET", "/_healthimaging/health")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["status"] == "ready"
    assert (body["datastores"], body["imageSets"], body["versions"]) == (1, 1, 4)
    assert body["uptimeSeconds"] >= 0
    assert "version" in body


def test_boto3_standard_retries_ride_out_two_throttles(fresh_server):
    url = fresh_server.url
    add_rule(url, {"operation": "ListImageSetVersions",
                   "error": {"code": "ThrottlingException", "message": "Rate exceeded"}, "times": 2})
    client = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test").client(
        "medical-imaging", region_name="us-east-1", endpoint_url=url,
        config=Config(inject_host_prefix=False, retries={"mode": "standard", "total_max_attempts": 3}))
    response = client.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert [v["versionId"] for v in response["imageSetPropertiesList"]] == ["4", "3", "2", "1"]
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    entries = journal(url, operation="ListImageSetVersions")
    assert [e["status"] for e in entries] == [429, 429, 200]
    assert [e["errorCode"] for e in entries][:2] == ["ThrottlingException", "ThrottlingException"]
    assert [e["faultInjected"] for e in entries] == [True, True, False]
    rules = control(url, "GET", "/_healthimaging/faults").json()["rules"]
    assert rules[0]["remaining"] == 0 and rules[0]["fired"] == 2


def test_cli_shows_the_injected_error_code_and_message(fresh_server):
    add_rule(fresh_server.url, {"operation": "ListImageSetVersions", "datastoreId": SEED_DATASTORE,
                                "error": {"code": "AccessDeniedException", "message": "You shall not pass"}})
    rc, out, err = run_cli(fresh_server.url, *LIST_ARGS)
    assert rc != 0
    assert "AccessDeniedException" in err and "You shall not pass" in err, err
    # boto3 parses it the same way, with the model's status
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto_client(fresh_server.url).list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    error = caught.value.response
    assert error["Error"] == {"Code": "AccessDeniedException", "Message": "You shall not pass"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_rule_for_another_image_set_does_not_fire(fresh_server):
    add_rule(fresh_server.url, {"operation": "ListImageSetVersions", "imageSetId": "0" * 32,
                                "error": {"code": "ConflictException"}})
    assert list_raw(fresh_server.url).status == 200


def test_latency_rule_trips_the_cli_read_timeout(fresh_server):
    add_rule(fresh_server.url, {"operation": "ListImageSetVersions", "latencyMs": 2000, "times": 1})
    started = time.monotonic()
    rc, out, err = run_cli(fresh_server.url, *LIST_ARGS, "--cli-read-timeout", "1")
    assert rc != 0
    assert "timeout" in err.lower() or "timed out" in err.lower(), err
    assert time.monotonic() - started < 10
    # the delay held back one answer only; the server answers others meanwhile and afterwards
    assert control(fresh_server.url, "GET", "/_healthimaging/health").status == 200
    assert list_raw(fresh_server.url).status == 200


def test_latency_only_rule_delays_the_real_answer(fresh_server):
    add_rule(fresh_server.url, {"operation": "ListImageSetVersions", "latencyMs": 300, "times": 1})
    started = time.monotonic()
    r = list_raw(fresh_server.url)
    assert r.status == 200 and len(r.json()["imageSetPropertiesList"]) == 4
    assert time.monotonic() - started >= 0.3
    assert journal(fresh_server.url)[-1]["latencyMs"] >= 300


def test_runtime_copy_failed_version_shows_in_the_cli(fresh_server):
    message = "INVALID_REQUEST:  Study of SourceImageSet and DestinationImageSet don't match."
    r = control(fresh_server.url, "PATCH", f"{VERSIONS}/3", {"ImageSetWorkflowStatus": "COPY_FAILED", "message": message})
    assert r.status == 200, r
    r = control(fresh_server.url, "POST", VERSIONS, {"imageSetState": "LOCKED", "ImageSetWorkflowStatus": "UPDATING"})
    assert r.status == 201, r
    assert r.json()["versionId"] == "5"
    rc, out, err = run_cli(fresh_server.url, *LIST_ARGS)
    assert rc == 0, err
    items = {v["versionId"]: v for v in json.loads(out)["imageSetPropertiesList"]}
    assert items["3"]["ImageSetWorkflowStatus"] == "COPY_FAILED"
    assert items["3"]["message"] == message
    assert items["5"]["imageSetState"] == "LOCKED" and items["5"]["ImageSetWorkflowStatus"] == "UPDATING"
    assert items["5"]["createdAt"] == items["1"]["createdAt"]
    assert list(items) == ["5", "4", "3", "2", "1"]
    # null clears an optional member
    r = control(fresh_server.url, "PATCH", f"{VERSIONS}/3", {"message": None, "ImageSetWorkflowStatus": "UPDATED"})
    assert r.status == 200 and "message" not in r.json()


def test_export_reset_load_round_trips_byte_for_byte(fresh_server):
    url = fresh_server.url
    control(url, "POST", VERSIONS, {"imageSetState": "ACTIVE", "ImageSetWorkflowStatus": "UPDATED",
                                    "overrides": {"forced": True}, "isPrimary": True})
    answers = [list_raw(url).body, list_raw(url, maxResults=2).body]
    exported = control(url, "GET", "/_healthimaging/fixtures")
    assert exported.status == 200
    assert control(url, "POST", "/_healthimaging/reset", {"to": "empty"}).status == 200
    assert list_raw(url).status == 404
    loaded = control(url, "POST", "/_healthimaging/fixtures", raw=exported.body)
    assert loaded.status == 201, loaded
    # equal to the byte, page tokens included (the token key belongs to the database, not to its content)
    assert list_raw(url).body == answers[0]
    again = list_raw(url, maxResults=2).body
    assert json.loads(again)["imageSetPropertiesList"] == json.loads(answers[1])["imageSetPropertiesList"]
    assert again == answers[1]
    assert control(url, "GET", "/_healthimaging/fixtures").body == exported.body


def test_reset_to_startup_restores_fixtures_faults_and_clears_the_journal(servers, tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"seed": 1, "rules": [
        {"operation": "GetImageSet", "error": {"code": "ThrottlingException"}, "times": 1}]}))
    s = servers.start(extra=("--faults", str(faults)))
    assert control(s.url, "GET", "/_healthimaging/faults").json()["rules"][0]["operation"] == "GetImageSet"
    control(s.url, "DELETE", "/_healthimaging/faults")
    control(s.url, "PATCH", f"{VERSIONS}/1", {"imageSetState": "DELETED"})
    list_raw(s.url)
    r = control(s.url, "POST", "/_healthimaging/reset")
    assert r.status == 200 and r.json()["versions"] == 4
    assert journal(s.url) == []
    assert len(control(s.url, "GET", "/_healthimaging/faults").json()["rules"]) == 1
    assert list_raw(s.url).json()["imageSetPropertiesList"][-1]["imageSetState"] == "ACTIVE"


@pytest.mark.parametrize("rule, field", [
    ({"operation": "ListImageSetVersion", "error": {"code": "ThrottlingException"}}, "$.operation"),
    ({"operation": "ListImageSetVersions", "error": {"code": "ServiceQuotaExceededException"}}, "$.error.code"),
    ({"operation": "ListImageSetVersions", "error": {"code": "TeapotException"}}, "$.error.code"),
    ({"operation": "ListImageSetVersions", "latencyMs": 10, "times": 0}, "$.times"),
    ({"operation": "ListImageSetVersions", "latencyMs": 10, "probability": 1.5}, "$.probability"),
    ({"operation": "ListImageSetVersions", "latencyMs": -1}, "$.latencyMs"),
    ({"operation": "ListImageSetVersions", "latencyMs": 10, "datastoreId": "ABC"}, "$.datastoreId"),
    ({"operation": "ListImageSetVersions", "latencyMs": 10, "colour": "red"}, "$.colour"),
    ({"operation": "ListImageSetVersions"}, "$"),
])
def test_a_bad_rule_is_refused_naming_the_field_and_changes_nothing(server, rule, field):
    r = control(server.url, "POST", "/_healthimaging/faults", rule)
    assert r.status == 400, r
    assert r.headers["x-amzn-errortype"] == "ValidationException"
    assert field + ":" in r.json()["message"], r.json()
    assert control(server.url, "GET", "/_healthimaging/faults").json()["rules"] == []


def test_a_batch_of_rules_is_all_or_nothing(fresh_server):
    r = control(fresh_server.url, "POST", "/_healthimaging/faults", {"rules": [
        {"operation": "GetImageSet", "latencyMs": 5},
        {"operation": "GetImageSet", "error": {"code": "Nope"}}]})
    assert r.status == 400 and "$.rules[1].error.code" in r.json()["message"]
    assert control(fresh_server.url, "GET", "/_healthimaging/faults").json()["rules"] == []


@pytest.mark.parametrize("body, field", [
    ({"imageSetState": "FROZEN"}, "$.imageSetState"),
    ({"ImageSetWorkflowStatus": "BROKEN"}, "$.ImageSetWorkflowStatus"),
    ({"message": "semicolons; are not in the pattern"}, "$.message"),
    ({"imageSetWorkflowStatus": "COPIED"}, "$.imageSetWorkflowStatus"),
    ({"versionId": "9"}, "$.versionId"),
    ({"overrides": {"forced": "yes"}}, "$.overrides.forced"),
])
def test_a_bad_state_is_refused_naming_the_field_and_changes_nothing(server, body, field):
    before = list_raw(server.url).body
    r = control(server.url, "PATCH", f"{VERSIONS}/2", body)
    assert r.status == 400, r
    assert field + ":" in r.json()["message"], r.json()
    assert list_raw(server.url).body == before


def test_state_injection_on_missing_things_is_404(server):
    assert control(server.url, "PATCH", f"{VERSIONS}/99", {"imageSetState": "LOCKED"}).status == 404
    other = f"/_healthimaging/datastores/{SEED_DATASTORE}/imageSets/{'0' * 32}/versions"
    assert control(server.url, "POST", other, {"imageSetState": "LOCKED"}).status == 404


def test_a_bad_fixture_is_refused_naming_the_field_and_loads_nothing(server):
    doc = {"datastores": [
        {"datastoreId": "a" * 32, "imageSets": []},
        {"datastoreId": "b" * 32, "imageSets": [{"imageSetId": "c" * 32, "versions": [
            {"imageSetId": "c" * 32, "versionId": "1", "imageSetState": "ACTIVE", "ImageSetWorkflowStatus": "SHINY"}]}]}]}
    r = control(server.url, "POST", "/_healthimaging/fixtures", doc)
    assert r.status == 400, r
    assert "$.datastores[1].imageSets[0].versions[0].ImageSetWorkflowStatus:" in r.json()["message"]
    health = control(server.url, "GET", "/_healthimaging/health").json()
    assert health["datastores"] == 1
    # a datastore that exists already refuses the whole document too
    clash = {"datastores": [{"datastoreId": "d" * 32}, {"datastoreId": SEED_DATASTORE}]}
    r = control(server.url, "POST", "/_healthimaging/fixtures", clash)
    assert r.status == 400 and "$.datastores[1].datastoreId" in r.json()["message"]
    assert control(server.url, "GET", "/_healthimaging/health").json()["datastores"] == 1
    r = control(server.url, "POST", "/_healthimaging/fixtures", raw=b"{not json")
    assert r.status == 400 and r.json()["message"].startswith("$:")


def test_two_access_keys_see_separate_data(fresh_server):
    url = fresh_server.url
    seed = json.loads(SEED_FIXTURE.read_text())
    r = raw_request(url, "POST", "/_healthimaging/fixtures?account=111111111111",
                    body=json.dumps(seed).encode())
    assert r.status == 201, r
    alice = boto_client(url, access_key="111111111111")
    bob = boto_client(url, access_key="222222222222")
    assert len(alice.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)["imageSetPropertiesList"]) == 4
    with pytest.raises(bob.exceptions.ResourceNotFoundException):
        bob.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    # the same account in another region is another namespace too
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto_client(url, access_key="111111111111", region_name="eu-west-1").list_image_set_versions(
            datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # a state change in alice's namespace is invisible to the default one
    control(url, "PATCH", f"{VERSIONS}/4?account=111111111111", {"ImageSetWorkflowStatus": "COPY_FAILED", "message": "x"})
    default = boto_client(url).list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert default["imageSetPropertiesList"][0]["ImageSetWorkflowStatus"] == "UPDATED"
    # and the journal knows who asked (every namespace with scope=all; by default the caller's only)
    accounts = [e["account"] for e in journal(url, operation="ListImageSetVersions", scope="all")]
    assert accounts[:2] == ["111111111111", "222222222222"]
    assert [e["account"] for e in journal(url, operation="ListImageSetVersions", account="222222222222")] == ["222222222222"]
    # a scoped reset leaves the other namespaces alone
    r = control(url, "POST", "/_healthimaging/reset?account=111111111111", {"to": "empty"})
    assert r.status == 200 and r.json()["datastores"] == 0
    assert control(url, "GET", "/_healthimaging/health").json()["total"]["datastores"] == 1
    assert list_raw(url).status == 200


def test_probability_is_repeatable_for_a_seed(servers, tmp_path):
    def outcomes():
        faults = tmp_path / "faults.json"
        faults.write_text(json.dumps({"seed": 42, "rules": [
            {"operation": "ListImageSetVersions", "error": {"code": "InternalServerException"}, "probability": 0.5}]}))
        s = servers.start(extra=("--faults", str(faults)))
        return [list_raw(s.url).status for _ in range(24)]
    first, second = outcomes(), outcomes()
    assert first == second
    assert 500 in first and 200 in first


def test_a_bad_faults_file_stops_startup(servers, tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"rules": [{"operation": "GetImageSet", "error": {"code": "Boom"}}]}))
    with pytest.raises(ServerStartError) as caught:
        servers.start(extra=("--faults", str(faults)))
    assert "faults.json" in str(caught.value) and "$.rules[0].error.code" in str(caught.value)


def test_unknown_control_endpoint_and_method_are_json(server):
    r = control(server.url, "GET", "/_healthimaging/nothing")
    assert r.status == 404 and r.headers["x-amzn-errortype"] == "UnknownOperationException"
    r = control(server.url, "PUT", "/_healthimaging/health")
    assert r.status == 405 and r.json()["__type"] == "MethodNotAllowedException"
    r = control(server.url, "GET", "/_healthimaging/journal?operation=Nope")
    assert r.status == 400
