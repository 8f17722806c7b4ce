"""Fixture files: a bad one stops the binary with a message that names the
file, the JSON path and the reason; good ones load and serve."""

from __future__ import annotations

import copy
import json
import re
import subprocess

import pytest

from conftest import (
    ROOT,
    SEED_FIXTURE,
    binary_path,
    boto_client,
    datastore,
    generated_versions,
    hex_id,
    image_set,
    list_path,
    load_expected,
    raw_request,
    write_fixture,
)

DS = "d0000000000000000000000000000001"
IS = "e0000000000000000000000000000001"


def base_fixture() -> dict:
    return {"datastores": [datastore(DS, [image_set(IS, 3)], name="bad-fixture-test")]}


def run_binary(*args, timeout=30):
    b = binary_path()
    if not b.exists():
        pytest.fail(f"binary not found at {b}", pytrace=False)
    try:
        p = subprocess.run(
            [str(b), "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(
            f"the binary kept running with a bad fixture (started listening?) stdout={e.stdout!r} stderr={e.stderr!r}",
            pytrace=False,
        )
    return p


def expect_rejected(path, *, json_path=None, reason_any=(), extra_args=()):
    p = run_binary("--fixtures", str(path), *extra_args)
    diag = f"rc={p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    assert p.returncode != 0, diag
    assert "http://" not in p.stdout, f"printed a URL for a bad fixture\n{diag}"
    assert str(path) in p.stderr, f"stderr does not name the file {path}\n{diag}"
    if json_path is not None:
        assert json_path in p.stderr, f"stderr does not name the JSON path {json_path}\n{diag}"
    if reason_any:
        assert any(re.search(r, p.stderr, re.I) for r in reason_any), f"no reason like {reason_any}\n{diag}"
    return p


def write(tmp_path, doc, name="bad.json") -> object:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def test_bad_image_set_state_enum(tmp_path):
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["versions"][1]["imageSetState"] = "BOGUS"
    expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].imageSets[0].versions[1].imageSetState",
        reason_any=(r"BOGUS", r"ACTIVE"),
    )


def test_bad_workflow_status_enum(tmp_path):
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["versions"][0]["ImageSetWorkflowStatus"] = "DONE"
    expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].imageSets[0].versions[0].ImageSetWorkflowStatus",
        reason_any=(r"DONE", r"COPY_FAILED|UPDATED"),
    )


def test_bad_image_set_id_pattern(tmp_path):
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["imageSetId"] = "EA92B0D8838C72A3F25D00D13616F87E"
    expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].imageSets[0].imageSetId",
        reason_any=(r"EA92B0D8838C72A3F25D00D13616F87E", r"\[0-9a-z\]\{32\}", r"pattern|invalid|malformed"),
    )


def test_bad_datastore_id_pattern(tmp_path):
    doc = base_fixture()
    doc["datastores"][0]["datastoreId"] = "short"
    expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].datastoreId",
        reason_any=(r"short", r"\[0-9a-z\]\{32\}", r"pattern|invalid|malformed"),
    )


def test_bad_version_id_pattern(tmp_path):
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["versions"][2]["versionId"] = "v1"
    expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].imageSets[0].versions[2].versionId",
        reason_any=(r"v1", r"\\d\+", r"pattern|invalid|digit"),
    )


def test_bad_id_in_a_later_datastore(tmp_path):
    doc = base_fixture()
    doc["datastores"].append(datastore(hex_id(7), [image_set("x" * 31, 1)]))
    expect_rejected(write(tmp_path, doc), json_path="$.datastores[1].imageSets[0].imageSetId")


def test_malformed_json(tmp_path):
    text = json.dumps(base_fixture(), indent=2)
    text = text[: len(text) // 2]  # cut in the middle
    expect_rejected(write(tmp_path, text), reason_any=(r"json", r"line|column|offset|byte", r"unexpected|parse|syntax|invalid"))


def test_not_json_at_all(tmp_path):
    expect_rejected(write(tmp_path, "datastores: []\n"), reason_any=(r"json|parse|syntax|invalid|unexpected",))


def test_missing_required_field(tmp_path):
    doc = base_fixture()
    del doc["datastores"][0]["imageSets"][0]["versions"][1]["versionId"]
    p = expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].imageSets[0].versions[1]",
        reason_any=(r"missing|required",),
    )
    assert "versionId" in p.stderr, p.stderr


def test_missing_datastores_key(tmp_path):
    expect_rejected(write(tmp_path, {"datastore": []}), reason_any=(r"datastores",))


@pytest.mark.parametrize("value", [True, {"seconds": 1}, [1680027126.436], "yesterday"])
def test_wrong_type_or_unreadable_timestamp(tmp_path, value):
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["versions"][0]["createdAt"] = value
    expect_rejected(
        write(tmp_path, doc),
        json_path="$.datastores[0].imageSets[0].versions[0].createdAt",
    )


def test_iso8601_timestamps_in_fixtures_are_served_as_epoch_seconds(servers):
    """Fixtures may carry ISO 8601 strings (as aws CLI v2 prints them); the
    API always answers epoch seconds with the millisecond fraction."""
    versions = generated_versions(IS, 2)
    versions[0]["createdAt"] = "2023-03-28T18:12:06.436Z"
    versions[0]["updatedAt"] = "2023-03-28T18:50:36.304000+00:00"
    s = servers.start_with([datastore(DS, [{"imageSetId": IS, "versions": versions}])])
    r = raw_request(s.url, "POST", list_path(DS, IS))
    assert r.status == 200, r
    first = r.json()["imageSetPropertiesList"][0]
    assert first["createdAt"] == 1680027126.436
    assert first["updatedAt"] == 1680029436.304
    assert '"createdAt":1680027126.436' in r.body.decode().replace(" ", "")


def test_fixture_directory(servers, tmp_path):
    """--fixtures also takes a directory of *.json files."""
    d = tmp_path / "fixtures.d"
    d.mkdir()
    write_fixture(d / "a.json", [datastore(DS, [image_set(IS, 2)])])
    other_ds, other_is = hex_id(0xD2), hex_id(0xE2)
    write_fixture(d / "b.json", [datastore(other_ds, [image_set(other_is, 4)])])
    s = servers.start(fixtures=(d,))
    c = boto_client(s.url)
    assert len(c.list_image_set_versions(datastoreId=DS, imageSetId=IS)["imageSetPropertiesList"]) == 2
    assert len(c.list_image_set_versions(datastoreId=other_ds, imageSetId=other_is)["imageSetPropertiesList"]) == 4


def test_version_of_another_image_set(tmp_path):
    """A version whose imageSetId is not its image set's id."""
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["versions"][1]["imageSetId"] = hex_id(99)
    expect_rejected(write(tmp_path, doc), json_path="$.datastores[0].imageSets[0].versions[1].imageSetId")


def test_missing_fixture_file(tmp_path):
    expect_rejected(tmp_path / "does-not-exist.json")


def test_second_fixture_file_bad(tmp_path):
    doc = base_fixture()
    doc["datastores"][0]["imageSets"][0]["versions"][0]["imageSetState"] = "NOPE"
    bad = write(tmp_path, doc, "second.json")
    expect_rejected(
        bad,
        json_path="$.datastores[0].imageSets[0].versions[0].imageSetState",
        extra_args=("--fixtures", str(SEED_FIXTURE)),
    )


def test_seed_fixture_file_matches_the_page():
    """fixtures/seed.json holds the example's versions in the API's form."""
    doc = json.loads(SEED_FIXTURE.read_text())
    (ds,) = doc["datastores"]
    assert ds["datastoreId"] == "12345678901234567890123456789012"
    assert ds["datastoreName"] == "seed"
    (iset,) = ds["imageSets"]
    assert iset["imageSetId"] == "ea92b0d8838c72a3f25d00d13616f87e"
    expected = load_expected("list-image-set-versions.json")["imageSetPropertiesList"]
    assert sorted(iset["versions"], key=lambda v: -int(v["versionId"])) == expected


def test_generated_fixture_serves(servers):
    versions = generated_versions(IS, 3)
    s = servers.start_with([datastore(DS, [{"imageSetId": IS, "versions": copy.deepcopy(versions)}])])
    got = boto_client(s.url).list_image_set_versions(datastoreId=DS, imageSetId=IS)
    assert [v["versionId"] for v in got["imageSetPropertiesList"]] == ["3", "2", "1"]


# ---------------------------------------------------------------------------
# A bad fixture and --db: a new database file is not left behind; an existing one is left as it was.
# ---------------------------------------------------------------------------


def bad_late_fixture(tmp_path):
    """Valid until its last image set, so that a one-pass load has already inserted the rest when it fails."""
    doc = {"datastores": [datastore(DS, [image_set(hex_id(i, "late"), 2) for i in range(1, 40)], name="late")]}
    doc["datastores"][0]["imageSets"][-1]["versions"][1]["imageSetState"] = "BOGUS"
    return write(tmp_path, doc, "late.json")


def test_a_bad_fixture_leaves_no_new_database_behind(tmp_path):
    db = tmp_path / "new.db"
    expect_rejected(bad_late_fixture(tmp_path), json_path="$.datastores[0].imageSets[38].versions[1].imageSetState",
                    extra_args=("--db", str(db)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.json"], list(tmp_path.iterdir())


def test_a_bad_fixture_leaves_an_existing_database_as_it_was(servers, tmp_path):
    db = tmp_path / "kept.db"
    good = write_fixture(tmp_path / "good.json", [datastore(hex_id(9, "kept"), [image_set(hex_id(9, "set"), 3)])])
    servers.start(fixtures=(good,), db=db).stop()  # loads and persists the good fixture, stops cleanly
    before = db.read_bytes()
    expect_rejected(bad_late_fixture(tmp_path), json_path="$.datastores[0].imageSets[38].versions[1].imageSetState",
                    extra_args=("--db", str(db)))
    assert db.read_bytes() == before, "the existing database changed"
    assert not (tmp_path / "kept.db-wal").exists() or (tmp_path / "kept.db-wal").stat().st_size == 0
