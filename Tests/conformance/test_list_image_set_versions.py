"""ListImageSetVersions: the seed example, the wire format, paging semantics,
and boto3's paginator over many versions."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest

from conftest import (
    BIG_N,
    DS_A,
    DS_B,
    EXPECTED_DIR,
    IS_A1,
    IS_A2,
    IS_B1,
    MULTI_DATASTORES,
    SEED_DATASTORE,
    SEED_IMAGE_SET,
    all_versions_raw,
    boto_client,
    list_path,
    load_expected,
    raw_request,
    run_cli,
    service_model,
    validate_output,
)

EXPECTED_FILE = "list-image-set-versions.json"
SEED_CMD = ("list-image-set-versions", "--datastore-id", SEED_DATASTORE, "--image-set-id", SEED_IMAGE_SET)
DECIMAL = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def expected_items():
    return load_expected(EXPECTED_FILE)["imageSetPropertiesList"]


def multi_versions(datastore_id: str, image_set_id: str) -> list[dict]:
    for ds in MULTI_DATASTORES:
        if ds["datastoreId"] == datastore_id:
            for s in ds["imageSets"]:
                if s["imageSetId"] == image_set_id:
                    return s["versions"]
    raise KeyError((datastore_id, image_set_id))


def as_boto(item: dict) -> dict:
    """The wire item as botocore parses it: timestamps become aware datetimes."""
    out = {}
    for k, v in item.items():
        if k in ("createdAt", "updatedAt", "deletedAt"):
            v = dt.datetime.fromtimestamp(v, tz=dt.timezone.utc)
        out[k] = v
    return out


# ---------------------------------------------------------------------------
# The seed command, exactly as on the CLI reference page.
# ---------------------------------------------------------------------------


def test_seed_command_output_matches_the_cli_page(server):
    rc, out, err = run_cli(server.url, *SEED_CMD)
    assert rc == 0, f"rc={rc}\nstdout: {out}\nstderr: {err}"
    assert json.loads(out) == load_expected(EXPECTED_FILE)
    # The CLI orders keys by the service model, so the text differs from the
    # page only in key order: the numbers must print exactly as on the page.
    expected_text = (EXPECTED_DIR / EXPECTED_FILE).read_text()
    assert sorted(DECIMAL.findall(out)) == sorted(DECIMAL.findall(expected_text))
    for literal in ("1680029436.304", "1680029163.325", "1680027455.944", "1680027126.436"):
        assert literal in out
    assert "INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match." in out
    assert err.strip() == ""


def test_seed_wire_body(server):
    """The raw response: status, headers, the exact JSON, timestamps written
    as epoch seconds with millisecond fractions, the capital-I key."""
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    uuid.UUID(r.headers["x-amzn-requestid"])
    body = r.json()
    assert body == load_expected(EXPECTED_FILE)
    text = r.body.decode()
    stamps = re.findall(r'"(?:createdAt|updatedAt|deletedAt)"\s*:\s*([^,}\s]+)', text)
    assert sorted(stamps) == sorted(
        ["1680027126.436"] * 4 + ["1680029436.304", "1680029163.325", "1680027455.944"]
    ), text
    assert '"ImageSetWorkflowStatus"' in text and '"imageSetWorkflowStatus"' not in text
    assert "nextToken" not in body


def test_seed_response_conforms_to_the_service_model(server):
    r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.status == 200, r
    assert validate_output("ListImageSetVersions", r.json()) == []


def test_generated_versions_conform_to_the_service_model(multi_server):
    for ds, iset in ((DS_A, IS_A1), (DS_A, IS_A2), (DS_B, IS_B1)):
        r = raw_request(multi_server.url, "POST", list_path(ds, iset, maxResults=50))
        assert r.status == 200, r
        body = r.json()
        assert validate_output("ListImageSetVersions", body) == []
        for item in body["imageSetPropertiesList"]:
            assert re.fullmatch(r"\d+", item["versionId"])
            assert item["imageSetId"] == iset


def test_service_model_oracle_is_the_pinned_one():
    """The oracle used above: the operation and shape as botocore 1.43 ships them."""
    op = service_model().operation_model("ListImageSetVersions")
    assert op.http["method"] == "POST"
    assert op.http["requestUri"] == "/datastore/{datastoreId}/imageSet/{imageSetId}/listImageSetVersions"
    props = service_model().shape_for("ImageSetProperties")
    assert set(props.required_members) == {"imageSetId", "versionId", "imageSetState"}
    assert "ImageSetWorkflowStatus" in props.members


def test_boto3_parses_the_seed(server):
    c = boto_client(server.url)
    resp = c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["imageSetPropertiesList"] == [as_boto(i) for i in expected_items()]
    assert "nextToken" not in resp
    rid = resp["ResponseMetadata"]["RequestId"]
    assert rid and rid == resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_request_ids_differ(server):
    ids = {
        raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).headers["x-amzn-requestid"]
        for _ in range(5)
    }
    assert len(ids) == 5


# ---------------------------------------------------------------------------
# Paging semantics (maxResults / nextToken) with raw HTTP and boto3.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_results", [1, 2, 3, 4, 5, 50])
def test_every_page_size_yields_the_full_list_in_order(server, max_results):
    items = all_versions_raw(server.url, SEED_DATASTORE, SEED_IMAGE_SET, max_results)
    assert items == expected_items()


def test_pages_have_exactly_max_results_items(server):
    c = boto_client(server.url)
    p1 = c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=3)
    assert [i["versionId"] for i in p1["imageSetPropertiesList"]] == ["4", "3", "2"]
    assert p1.get("nextToken")
    p2 = c.list_image_set_versions(
        datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=3, nextToken=p1["nextToken"]
    )
    assert [i["versionId"] for i in p2["imageSetPropertiesList"]] == ["1"]
    assert "nextToken" not in p2


@pytest.mark.parametrize("max_results", [4, 2])
def test_no_next_token_when_the_last_page_is_full(server, max_results):
    """A page that ends exactly at the last version carries no nextToken
    (no extra empty page)."""
    c = boto_client(server.url)
    kw = dict(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=max_results)
    seen = []
    resp = c.list_image_set_versions(**kw)
    seen += resp["imageSetPropertiesList"]
    while "nextToken" in resp:
        resp = c.list_image_set_versions(**kw, nextToken=resp["nextToken"])
        assert resp["imageSetPropertiesList"], "a page after a nextToken was empty"
        seen += resp["imageSetPropertiesList"]
    assert [i["versionId"] for i in seen] == ["4", "3", "2", "1"]


def test_next_token_is_reusable_and_page_size_may_change(server):
    c = boto_client(server.url)
    kw = dict(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    tok = c.list_image_set_versions(**kw, maxResults=1)["nextToken"]
    a = c.list_image_set_versions(**kw, maxResults=1, nextToken=tok)
    b = c.list_image_set_versions(**kw, maxResults=1, nextToken=tok)
    assert a["imageSetPropertiesList"] == b["imageSetPropertiesList"]
    assert [i["versionId"] for i in a["imageSetPropertiesList"]] == ["3"]
    c2 = c.list_image_set_versions(**kw, maxResults=2, nextToken=tok)
    assert [i["versionId"] for i in c2["imageSetPropertiesList"]] == ["3", "2"]
    rest = c.list_image_set_versions(**kw, nextToken=tok)
    assert [i["versionId"] for i in rest["imageSetPropertiesList"]] == ["3", "2", "1"]
    assert "nextToken" not in rest


def test_next_token_is_opaque_ascii_within_model_limits(server):
    c = boto_client(server.url)
    tok = c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, maxResults=1)[
        "nextToken"
    ]
    assert isinstance(tok, str) and 1 <= len(tok) <= 8192
    assert tok.isascii()
    assert tok.isprintable()


def test_max_results_boundaries_are_accepted(server):
    for n in (1, 50):
        r = raw_request(server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET, maxResults=n))
        assert r.status == 200, (n, r)
        assert len(r.json()["imageSetPropertiesList"]) == min(n, 4)


def test_default_page_size_is_50(multi_server):
    c = boto_client(multi_server.url)
    resp = c.list_image_set_versions(datastoreId=DS_B, imageSetId=IS_B1)
    assert len(resp["imageSetPropertiesList"]) == 50
    assert resp.get("nextToken")
    assert [i["versionId"] for i in resp["imageSetPropertiesList"]] == [str(v) for v in range(BIG_N, BIG_N - 50, -1)]


def test_other_image_sets_and_datastores_are_separate(multi_server):
    for ds, iset in ((DS_A, IS_A1), (DS_A, IS_A2), (DS_B, IS_B1), (SEED_DATASTORE, SEED_IMAGE_SET)):
        items = all_versions_raw(multi_server.url, ds, iset, 50)
        if ds == SEED_DATASTORE:
            assert items == expected_items()
        else:
            assert items == multi_versions(ds, iset)


# ---------------------------------------------------------------------------
# boto3's paginator over more than 100 versions.
# ---------------------------------------------------------------------------


def _paginate(url, **config):
    c = boto_client(url)
    pages = list(
        c.get_paginator("list_image_set_versions").paginate(
            datastoreId=DS_B, imageSetId=IS_B1, PaginationConfig=config
        )
    )
    return pages


def _check_all(items):
    ids = [i["versionId"] for i in items]
    assert len(ids) == len(set(ids)), "duplicate versions across pages"
    assert ids == [str(v) for v in range(BIG_N, 0, -1)], "not every version, newest first"
    assert items == [as_boto(i) for i in multi_versions(DS_B, IS_B1)]


def test_boto3_paginator_default_page_size(multi_server):
    pages = _paginate(multi_server.url)
    assert [len(p["imageSetPropertiesList"]) for p in pages] == [50, 50, 20]
    _check_all([i for p in pages for i in p["imageSetPropertiesList"]])
    assert "nextToken" not in pages[-1]


def test_boto3_paginator_page_size_7(multi_server):
    pages = _paginate(multi_server.url, PageSize=7)
    sizes = [len(p["imageSetPropertiesList"]) for p in pages]
    assert sizes == [7] * (BIG_N // 7) + ([BIG_N % 7] if BIG_N % 7 else [])
    _check_all([i for p in pages for i in p["imageSetPropertiesList"]])


def test_boto3_paginator_max_items_and_starting_token(multi_server):
    c = boto_client(multi_server.url)
    paginator = c.get_paginator("list_image_set_versions")
    items, token, rounds = [], None, 0
    while True:
        cfg = {"MaxItems": 13, "PageSize": 5}
        if token:
            cfg["StartingToken"] = token
        result = paginator.paginate(datastoreId=DS_B, imageSetId=IS_B1, PaginationConfig=cfg).build_full_result()
        got = result["imageSetPropertiesList"]
        items += got
        token = result.get("NextToken")
        rounds += 1
        assert rounds <= 20
        if not token:
            break
        assert len(got) == 13
    _check_all(items)


def test_boto3_paginator_build_full_result(multi_server):
    c = boto_client(multi_server.url)
    result = (
        c.get_paginator("list_image_set_versions")
        .paginate(datastoreId=DS_B, imageSetId=IS_B1, PaginationConfig={"PageSize": 50})
        .build_full_result()
    )
    _check_all(result["imageSetPropertiesList"])
    assert "NextToken" not in result
