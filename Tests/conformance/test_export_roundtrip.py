"""GET /_healthimaging/fixtures → reset → POST /_healthimaging/fixtures over real HTTP: after the round trip
every read operation gives boto3 the same answer (and the same bytes on the wire), for a state built through
the API — datastore settings and tags, updated and copied metadata, a failed copy, a deleted image set, image-set
tags — in a namespace of its own."""

from __future__ import annotations

import json
import urllib.parse

import jsonschema

from conftest import ROOT, SEED_DATASTORE, boto_client, raw_request
from lifecycle_helpers import document, seed_image_set

ACCOUNT = "111111111111"
REGION = "eu-west-1"
SCOPE = f"account={ACCOUNT}&region={REGION}"
# Signatures are not verified: the credential scope alone names the namespace of a raw request.
AUTH = {"Authorization": f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20240101/{REGION}/medical-imaging/aws4_request, "
                         "SignedHeaders=host, Signature=00"}
KMS = "arn:aws:kms:eu-west-1:111111111111:key/12345678-90ab-cdef-1234-567890abcdef"
LAMBDA = "arn:aws:lambda:eu-west-1:111111111111:function:authorizer"


def control(url, method, path, body: bytes | None = None):
    sep = "&" if "?" in path else "?"
    return raw_request(url, method, f"/_healthimaging/{path}{sep}{SCOPE}",
                       headers={"Content-Type": "application/json"}, body=body)


def raw(url, method, path, body: bytes | None = None):
    r = raw_request(url, method, path, headers=AUTH, body=body)
    assert r.status == 200, r
    return r.body


def without_access_times(value):
    """`value` without its lastAccessedAt members: the reads below include GetImageSetMetadata, an access that moves
    lastAccessedAt (storage tiers), so the reads after the load see the accesses the reads before it made. That
    lastAccessedAt itself round trips is test_clock_and_tiers.py::test_fixtures_and_export_carry_tiers."""
    if isinstance(value, bytes):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return json.dumps(without_access_times(parsed), sort_keys=True).encode()
    if isinstance(value, dict):
        return {k: without_access_times(v) for k, v in value.items() if k != "lastAccessedAt"}
    if isinstance(value, list):
        return [without_access_times(v) for v in value]
    return value


def attrs(payload: dict) -> bytes:
    """An updatableAttributes / removableAttributes blob (boto3 base64-encodes it)."""
    return json.dumps({"SchemaVersion": 1.1, **payload}).encode()


def build_state(url, c):
    ds = c.create_datastore(datastoreName="export-roundtrip", tags={"team": "imaging", "env": "ci"},
                            kmsKeyArn=KMS, lambdaAuthorizerArn=LAMBDA,
                            losslessStorageFormat="JPEG_2000_LOSSLESS")["datastoreId"]
    nameless = c.create_datastore()["datastoreId"]
    source = control(url, "POST", f"datastores/{ds}/imageSets",
                     json.dumps({"metadata": document("CT"), "isPrimary": True}).encode())
    assert source.status == 201, source
    source = source.json()["imageSetId"]
    target = control(url, "POST", f"datastores/{ds}/imageSets",
                     json.dumps({"metadata": document("MR"), "tags": {"kind": "target"}}).encode()).json()["imageSetId"]
    plain = control(url, "POST", f"datastores/{ds}/imageSets", b"{}").json()["imageSetId"]

    update = {"DICOMUpdates": {"updatableAttributes": attrs({"Patient": {"DICOM": {"PatientName": "Roe^Ann"}}})}}
    c.update_image_set_metadata(datastoreId=ds, imageSetId=source, latestVersionId="1", updateImageSetMetadataUpdates=update)
    c.update_image_set_metadata(datastoreId=ds, imageSetId=source, latestVersionId="2", force=True,
                                updateImageSetMetadataUpdates={"DICOMUpdates": {"removableAttributes": attrs(
                                    {"Study": {"DICOM": {"AccessionNumber": "A1"}}})}})
    info = {"sourceImageSet": {"latestVersionId": "3"}, "destinationImageSet": {"imageSetId": target, "latestVersionId": "1"}}
    c.copy_image_set(datastoreId=ds, sourceImageSetId=source, copyImageSetInformation=info)  # COPY_FAILED
    info["destinationImageSet"]["latestVersionId"] = "2"
    c.copy_image_set(datastoreId=ds, sourceImageSetId=source, force=True, copyImageSetInformation=info)
    copied = c.copy_image_set(datastoreId=ds, sourceImageSetId=source, copyImageSetInformation={
        "sourceImageSet": {"latestVersionId": "3"}})["destinationImageSetProperties"]["imageSetId"]
    c.tag_resource(resourceArn=image_set_arn(ds, copied), tags={"origin": "copy", "z": "1"})
    c.delete_image_set(datastoreId=ds, imageSetId=plain)

    image_sets = {}
    for image_set in (source, target, plain, copied):
        pages = c.get_paginator("list_image_set_versions").paginate(datastoreId=ds, imageSetId=image_set)
        image_sets[image_set] = [v["versionId"] for p in pages for v in p["imageSetPropertiesList"]]
    assert image_sets[source] == ["3", "2", "1"] and image_sets[target] == ["3", "2", "1"]
    return ds, nameless, image_sets


def datastore_arn(ds):
    return f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/{ds}"


def image_set_arn(ds, image_set):
    return f"{datastore_arn(ds)}/imageset/{image_set}"


SEARCHES = [
    {},
    {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "P-0001"}]}]},
    {"filters": [{"operator": "EQUAL", "values": [{"isPrimary": True}]}]},
    {"sort": {"sortOrder": "ASC", "sortField": "createdAt"}},
]


def read_everything(url, c, ds, nameless, image_sets):
    """boto3's parsed answer (minus ResponseMetadata) and the raw body of every read operation."""
    parsed, bodies = {}, {}

    def boto(name, **kw):
        r = getattr(c, name)(**kw)
        r.pop("ResponseMetadata")
        if "imageSetMetadataBlob" in r:
            r["imageSetMetadataBlob"] = r["imageSetMetadataBlob"].read()
        parsed[f"{name} {json.dumps(kw, sort_keys=True)}"] = r

    boto("list_datastores")
    boto("list_datastores", maxResults=1)
    boto("list_datastores", datastoreStatus="ACTIVE")
    bodies["ListDatastores"] = raw(url, "GET", "/datastore")
    for d in (ds, nameless):
        boto("get_datastore", datastoreId=d)
        boto("list_tags_for_resource", resourceArn=datastore_arn(d))
        bodies[f"GetDatastore {d}"] = raw(url, "GET", f"/datastore/{d}")
        bodies[f"ListTagsForResource {d}"] = raw(url, "GET", "/tags/" + urllib.parse.quote(datastore_arn(d), safe=""))
    for image_set, versions in sorted(image_sets.items()):
        base = f"/datastore/{ds}/imageSet/{image_set}"
        boto("get_image_set", datastoreId=ds, imageSetId=image_set)
        boto("get_image_set_metadata", datastoreId=ds, imageSetId=image_set)
        boto("list_image_set_versions", datastoreId=ds, imageSetId=image_set)
        boto("list_image_set_versions", datastoreId=ds, imageSetId=image_set, maxResults=1)
        boto("list_tags_for_resource", resourceArn=image_set_arn(ds, image_set))
        bodies[f"ListImageSetVersions {image_set}"] = raw(url, "POST", f"{base}/listImageSetVersions")
        bodies[f"ListImageSetVersions {image_set} page"] = raw(url, "POST", f"{base}/listImageSetVersions?maxResults=1")
        for v in versions:
            boto("get_image_set", datastoreId=ds, imageSetId=image_set, versionId=v)
            boto("get_image_set_metadata", datastoreId=ds, imageSetId=image_set, versionId=v)
            bodies[f"GetImageSet {image_set} {v}"] = raw(url, "POST", f"{base}/getImageSet?version={v}")
            bodies[f"GetImageSetMetadata {image_set} {v}"] = raw(url, "POST", f"{base}/getImageSetMetadata?version={v}")
    for i, criteria in enumerate(SEARCHES):
        boto("search_image_sets", datastoreId=ds, searchCriteria=criteria)
        boto("search_image_sets", datastoreId=ds, searchCriteria=criteria, maxResults=1)
        bodies[f"SearchImageSets {i}"] = raw(url, "POST", f"/datastore/{ds}/searchImageSets", json.dumps(criteria).encode())
    return parsed, bodies


def test_export_reset_load_gives_every_read_the_same_answer(fresh_server):
    url = fresh_server.url
    c = boto_client(url, region_name=REGION, access_key=ACCOUNT)
    ds, nameless, image_sets = build_state(url, c)
    before = read_everything(url, c, ds, nameless, image_sets)
    assert before[0][f"get_datastore {json.dumps({'datastoreId': ds})}"]["datastoreProperties"]["losslessStorageFormat"] \
        == "JPEG_2000_LOSSLESS"

    exported = control(url, "GET", "fixtures")
    assert exported.status == 200, exported
    document_ = exported.json()
    assert [d["datastoreId"] for d in document_["datastores"]] == sorted([ds, nameless])
    exported_ds = next(d for d in document_["datastores"] if d["datastoreId"] == ds)
    assert exported_ds["tags"] == {"env": "ci", "team": "imaging"}
    assert (exported_ds["kmsKeyArn"], exported_ds["lambdaAuthorizerArn"]) == (KMS, LAMBDA)
    jsonschema.validate(document_, json.loads((ROOT / "fixtures" / "fixture.schema.json").read_text()))

    reset = control(url, "POST", "reset", json.dumps({"to": "empty"}).encode())
    assert reset.status == 200, reset
    assert c.list_datastores()["datastoreSummaries"] == []
    # the default namespace (the seed fixture) is untouched by a scoped reset
    assert raw_request(url, "GET", f"/datastore/{SEED_DATASTORE}").status == 200

    loaded = control(url, "POST", "fixtures", exported.body)
    assert loaded.status == 201, loaded
    after = read_everything(url, c, ds, nameless, image_sets)

    assert after[0].keys() == before[0].keys()
    for key in before[0]:
        assert without_access_times(after[0][key]) == without_access_times(before[0][key]), key
    assert after[1].keys() == before[1].keys()
    for key in before[1]:
        assert without_access_times(after[1][key]) == without_access_times(before[1][key]), key
    assert without_access_times(control(url, "GET", "fixtures").body) == without_access_times(exported.body)
