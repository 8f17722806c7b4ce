"""Issue 9 item 7: a control plane that can't be misaimed or misused — namespaces validated, unknown query
parameters refused, resets/faults/modes/journal/health scoped to the caller's namespace, --control-plane off,
--control-token, a usable URL and a warning for a non-loopback bind; the journal never writes duplicate keys."""

from __future__ import annotations

import json

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import SEED_DATASTORE, SEED_FIXTURE, SEED_IMAGE_SET, boto_client, list_path, raw_request

ALICE = "111111111111"
SEED = SEED_FIXTURE.read_bytes()


def control(url, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    return raw_request(url, method, "/_healthimaging/" + path, headers={"Content-Type": "application/json", **(headers or {})},
                       body=data)


def signed_headers(url, method, path, access_key, region="us-east-1", body=b""):
    """An Authorization header made by botocore's SigV4 signer, as a client signed with ``access_key`` sends it."""
    request = botocore.awsrequest.AWSRequest(method=method, url=url + path, data=body)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(access_key, "secret"), "medical-imaging", region).add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-amz-date")}


def health(url, query=""):
    r = control(url, "GET", "health" + query)
    assert r.status == 200, r
    return r.json()


def load_alice(url):
    r = raw_request(url, "POST", f"/_healthimaging/fixtures?account={ALICE}", body=SEED)
    assert r.status == 201, r


@pytest.mark.parametrize("query, named", [
    ("account=11111111111", "account"), ("account=abc", "account"), ("account=1111111111111", "account"),
    ("region=nowhere", "region"), ("region=US-EAST-1", "region"), ("region=us-east-12", "region"),
])
def test_misaimed_account_or_region_is_refused_naming_it(server, query, named):
    before = health(server.url)["datastores"]
    r = raw_request(server.url, "POST", f"/_healthimaging/fixtures?{query}", body=SEED)
    assert r.status == 400, r
    assert r.headers["x-amzn-errortype"] == "ValidationException"
    assert r.json()["message"].startswith(named + ":"), r.json()
    assert health(server.url)["datastores"] == before
    assert health(server.url)["total"]["datastores"] == 1


def test_region_names_of_every_partition_are_accepted(server):
    for region in ("us-gov-west-1", "us-iso-east-1", "us-isob-east-1", "eu-central-2", "ap-southeast-4"):
        assert control(server.url, "GET", f"health?region={region}").status == 200, region


def test_unknown_query_parameter_is_refused_and_resets_nothing(fresh_server):
    url = fresh_server.url
    load_alice(url)
    r = control(url, "POST", f"reset?acount={ALICE}", {"to": "empty"})
    assert r.status == 400, r
    assert r.json()["__type"] == "ValidationException" and r.json()["message"].startswith("acount:"), r.json()
    assert health(url)["total"]["datastores"] == 2
    # a parameter one endpoint takes is still unknown to another
    r = control(url, "GET", "faults?limit=3")
    assert r.status == 400 and "limit:" in r.json()["message"], r
    r = control(url, "GET", f"health?account={ALICE}&account=222222222222")
    assert r.status == 400 and "given more than once" in r.json()["message"], r


def test_a_signed_reset_resets_the_callers_namespace_and_scope_all_resets_everything(fresh_server):
    url = fresh_server.url
    load_alice(url)
    body = json.dumps({"to": "empty"}).encode()
    r = raw_request(url, "POST", "/_healthimaging/reset", body=body,
                    headers=signed_headers(url, "POST", "/_healthimaging/reset", ALICE, body=body))
    assert r.status == 200, r
    assert r.json()["scope"] == f"{ALICE}/us-east-1" and r.json()["datastores"] == 0
    assert health(url, f"?account={ALICE}")["datastores"] == 0
    assert health(url)["datastores"] == 1  # the default namespace is untouched
    load_alice(url)
    r = control(url, "POST", "reset?scope=all", {"to": "empty"})
    assert r.status == 200 and r.json()["scope"] == "all", r
    assert health(url)["total"]["datastores"] == 0
    r = control(url, "POST", f"reset?scope=all&account={ALICE}")
    assert r.status == 400 and r.json()["message"].startswith("scope:"), r


def test_an_unsigned_reset_without_a_namespace_resets_the_default_one(fresh_server):
    url = fresh_server.url
    load_alice(url)
    r = control(url, "POST", "reset", {"to": "empty"})
    assert r.status == 200 and r.json()["scope"] == "123456789012/us-east-1", r
    assert health(url)["datastores"] == 0
    assert health(url, f"?account={ALICE}")["datastores"] == 1


def test_fault_rules_act_on_their_namespace_only(fresh_server):
    url = fresh_server.url
    load_alice(url)
    alice, default = boto_client(url, access_key=ALICE), boto_client(url)
    rule = {"operation": "ListImageSetVersions", "error": {"code": "ThrottlingException"}}
    assert control(url, "POST", "faults", rule).status == 201
    with pytest.raises(default.exceptions.ThrottlingException):
        default.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    alice.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert control(url, "DELETE", "faults").status == 200
    assert control(url, "POST", f"faults?account={ALICE}", rule).status == 201
    with pytest.raises(alice.exceptions.ThrottlingException):
        alice.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    default.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert control(url, "GET", "faults").json()["rules"] == []
    listed = control(url, "GET", f"faults?account={ALICE}").json()
    assert (listed["account"], len(listed["rules"])) == (ALICE, 1)


def test_transition_modes_act_on_their_namespace_only(fresh_server):
    url = fresh_server.url
    r = control(url, "PUT", f"transitions?account={ALICE}", {"datastore": "manual"})
    assert r.status == 200 and r.json()["datastore"] == "manual", r
    assert control(url, "GET", "transitions").json()["datastore"] == "immediate"
    created = boto_client(url).create_datastore(datastoreName="default-ns")
    assert boto_client(url).get_datastore(datastoreId=created["datastoreId"])["datastoreProperties"]["datastoreStatus"] == "ACTIVE"
    alice = boto_client(url, access_key=ALICE)
    mine = alice.create_datastore(datastoreName="alice")
    assert alice.get_datastore(datastoreId=mine["datastoreId"])["datastoreProperties"]["datastoreStatus"] == "CREATING"
    assert control(url, "GET", f"transitions?account={ALICE}").json()["pending"] == 1
    assert control(url, "GET", "transitions").json()["pending"] == 0


def test_journal_and_health_count_the_callers_namespace(fresh_server):
    url = fresh_server.url
    load_alice(url)
    boto_client(url, access_key=ALICE).list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    boto_client(url).list_datastores()
    mine = control(url, "GET", "journal").json()["entries"]
    assert [e["operation"] for e in mine] == ["ListDatastores"]
    hers = control(url, "GET", f"journal?account={ALICE}").json()["entries"]
    assert [(e["account"], e["operation"]) for e in hers] == [(ALICE, "ListImageSetVersions")]
    assert len(control(url, "GET", "journal?scope=all").json()["entries"]) == 2
    assert control(url, "DELETE", f"journal?account={ALICE}").status == 200
    assert len(control(url, "GET", "journal?scope=all").json()["entries"]) == 1
    h = health(url, f"?account={ALICE}&region=us-east-1")
    assert (h["account"], h["datastores"], h["versions"]) == (ALICE, 1, 4)
    assert h["total"] == {"namespaces": 2, "datastores": 2, "imageSets": 2, "versions": 8}
    assert health(url, "?account=222222222222")["datastores"] == 0


def test_journal_writes_repeated_query_keys_as_one_array(fresh_server):
    url = fresh_server.url
    arn = f"arn:aws:medical-imaging:us-east-1:123456789012:datastore/{SEED_DATASTORE}"
    boto_client(url).untag_resource(resourceArn=arn, tagKeys=["a", "b"])
    r = control(url, "GET", "journal?operation=UntagResource")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate JSON keys {keys} in {r.body!r}"
        return dict(pairs)

    entry = json.loads(r.body, object_pairs_hook=no_duplicates)["entries"][0]
    assert entry["query"] == {"tagKeys": ["a", "b"]}


def test_control_plane_off_answers_like_an_unknown_path(servers):
    s = servers.start(extra=("--control-plane", "off"))
    for method, path in (("GET", "health"), ("POST", "reset"), ("GET", "ui"), ("GET", "journal")):
        r = control(s.url, method, path)
        assert r.status == 404 and r.headers["x-amzn-errortype"] == "UnknownOperationException", (path, r)
    assert raw_request(s.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).status == 200


def test_control_token_guards_every_control_route(servers):
    s = servers.start(extra=("--control-token", "s3cret-token"))
    for method, path in (("GET", "health"), ("POST", "reset"), ("GET", "ui"), ("GET", "nothing")):
        r = control(s.url, method, path)
        assert r.status == 401 and r.headers["x-amzn-errortype"] == "UnauthorizedException", (path, r)
        assert r.json()["__type"] == "UnauthorizedException" and r.headers["www-authenticate"].startswith("Bearer")
        r = control(s.url, method, path, headers={"Authorization": "Bearer wrong"})
        assert r.status == 403 and r.headers["x-amzn-errortype"] == "AccessDeniedException", (path, r)
    ok = control(s.url, "GET", "health", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status == 200 and ok.json()["datastores"] == 1
    # the API itself needs no token
    assert raw_request(s.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).status == 200


def test_a_non_loopback_bind_prints_a_usable_url_and_a_warning(servers):
    s = servers.start(extra=("--host", "0.0.0.0"))  # conftest requires the line http://127.0.0.1:PORT
    assert health(s.url)["status"] == "ready"
    err = s.stderr_text()
    assert "warning" in err and "0.0.0.0" in err and "control plane" in err and "--control-token" in err, err
    quiet = servers.start()
    assert "warning" not in quiet.stderr_text()
