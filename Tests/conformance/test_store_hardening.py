"""Issue 9 (store): a durable, bounded SQLite file with one owner; idempotent restarts with --fixtures;
memory bounded by configuration (read cache, startup fixtures); fixture datastores report what the service
always reports."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

from fixture_files import rss_kib, write_many_versions_fixture
from conftest import (
    SEED_DATASTORE,
    SEED_FIXTURE,
    SEED_IMAGE_SET,
    binary_path,
    boto_client,
    datastore,
    hex_id,
    image_set,
    raw_request,
    write_fixture,
)

NS = "?account=111111111111&region=us-east-1"  # another namespace than the seed's
MiB = 1 << 20


def wal_size(db: Path) -> int:
    wal = Path(str(db) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def rss_bytes(pid: int) -> int:
    return rss_kib(pid, "VmRSS") * 1024


def run_binary(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The binary run to completion (for the ones that must refuse to start)."""
    return subprocess.run([str(binary_path()), "--port", "0", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


class Connection:
    """One keep-alive connection for many small requests."""

    def __init__(self, url: str):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def request(self, method: str, path: str, body: bytes | dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                            "Content-Length": str(len(data))})
        r = self.conn.getresponse()
        return r.status, r.read()

    def close(self):
        self.conn.close()


def bulky_document(cycle: int, image_sets: int = 20, versions: int = 50) -> dict:
    """A fixture document worth a few hundred KiB of pages once stored."""
    metadata = {"Patient": {"DICOM": {"PatientName": "X" * 600, "PatientID": str(cycle)}}, "Study": {}}
    sets = []
    for i in range(image_sets):
        s = image_set(hex_id(i, f"c{cycle}s"), versions)
        s["metadata"] = metadata
        sets.append(s)
    return {"datastores": [datastore(hex_id(cycle, "bulk"), sets)]}


# ---------------------------------------------------------------------------
# 1. Durable, bounded SQLite
# ---------------------------------------------------------------------------


def test_wal_stays_a_few_mib_under_sustained_writes_and_idle_checkpoint_copies_every_frame(servers, tmp_path):
    db = tmp_path / "hil.db"
    s = servers.start(fixtures=(SEED_FIXTURE,), db=db)
    c = Connection(s.url)
    largest = 0
    try:
        for cycle in range(40):
            status, body = c.request("POST", "/_healthimaging/fixtures" + NS, bulky_document(cycle))
            assert status == 201, body
            status, body = c.request("POST", f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSet")
            assert status == 200, body
            # small writes between the bulky ones
            for i in range(25):
                status, body = c.request("POST", "/datastore", {"clientToken": f"t{cycle}-{i}"})
                assert status == 200, body
            status, body = c.request("POST", "/_healthimaging/reset" + NS, {"to": "empty"})
            assert status == 200, body
            largest = max(largest, wal_size(db))
        # a few more writes, then reads (a cached read statement is the last thing the connection ran)
        for i in range(20):
            assert c.request("POST", "/datastore", {"clientToken": f"last-{i}"})[0] == 200
        assert c.request("GET", "/datastore")[0] == 200
        assert c.request("GET", f"/datastore/{SEED_DATASTORE}")[0] == 200
        assert c.request("POST", f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSet")[0] == 200
    finally:
        c.close()
    largest = max(largest, wal_size(db))
    print(f"largest WAL seen: {largest} bytes; database file {db.stat().st_size} bytes")
    assert largest <= 8 * MiB, f"the WAL grew to {largest} bytes under sustained writes (checkpoints stalled?)"
    # While the server idles, an outside PASSIVE checkpoint copies every frame: no read snapshot is held open.
    outside = sqlite3.connect(db)
    try:
        busy, log, copied = outside.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        outside.close()
    assert (busy, copied) == (0, log), f"outside PASSIVE checkpoint copied {copied} of {log} frames (busy={busy})"


def test_sigterm_leaves_every_write_in_the_database_file_alone(servers, tmp_path):
    db = tmp_path / "hil.db"
    s = servers.start(fixtures=(SEED_FIXTURE,), db=db)
    client = boto_client(s.url)
    made = client.create_datastore(datastoreName="after-start", clientToken="sigterm-1")["datastoreId"]
    client.tag_resource(resourceArn=client.get_datastore(datastoreId=made)["datastoreProperties"]["datastoreArn"],
                        tags={"kept": "yes"})
    assert s.stop(signal.SIGTERM) == 0
    assert wal_size(db) == 0, f"the WAL still holds {wal_size(db)} bytes after SIGTERM"
    alone = tmp_path / "copy" / "hil.db"
    alone.parent.mkdir()
    shutil.copyfile(db, alone)  # the database file only, no -wal, no -shm
    again = servers.start(fixtures=(), db=alone)
    c2 = boto_client(again.url)
    props = c2.get_datastore(datastoreId=made)["datastoreProperties"]
    assert props["datastoreName"] == "after-start"
    assert c2.list_tags_for_resource(resourceArn=props["datastoreArn"])["tags"] == {"kept": "yes"}
    assert c2.get_datastore(datastoreId=SEED_DATASTORE)["datastoreProperties"]["datastoreName"] == "seed"


def test_sigint_also_checkpoints_the_wal(servers, tmp_path):
    db = tmp_path / "hil.db"
    s = servers.start(fixtures=(SEED_FIXTURE,), db=db)
    boto_client(s.url).create_datastore(datastoreName="sigint", clientToken="sigint-1")
    assert s.stop(signal.SIGINT) == 0
    assert wal_size(db) == 0


def test_second_server_on_the_same_db_exits_2_naming_the_file_and_the_owner_pid(servers, tmp_path):
    db = tmp_path / "hil.db"
    first = servers.start(fixtures=(SEED_FIXTURE,), db=db)
    p = run_binary("--db", str(db))
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "http://" not in p.stdout
    assert str(db) in p.stderr, p.stderr
    assert f"pid {first.proc.pid}" in p.stderr, p.stderr
    # the first one still answers writes
    assert boto_client(first.url).create_datastore(datastoreName="still-mine", clientToken="own-1")["datastoreId"]


def test_owner_lock_goes_with_a_killed_process(servers, tmp_path):
    db = tmp_path / "hil.db"
    first = servers.start(fixtures=(SEED_FIXTURE,), db=db)
    first.stop(signal.SIGKILL)
    second = servers.start(fixtures=(), db=db)
    assert boto_client(second.url).get_datastore(datastoreId=SEED_DATASTORE)["datastoreProperties"]


def _database_with_data(servers, tmp_path) -> Path:
    db = tmp_path / "made" / "hil.db"
    db.parent.mkdir()
    fixture = write_fixture(tmp_path / "bulk.json", bulky_document(1, image_sets=30, versions=40)["datastores"])
    s = servers.start(fixtures=(fixture,), db=db)
    assert s.stop() == 0
    return db


def test_corrupt_page_exits_2_naming_the_path_and_the_problem(servers, tmp_path):
    db = _database_with_data(servers, tmp_path)
    broken = tmp_path / "broken.db"
    shutil.copyfile(db, broken)
    page_size = 4096
    pages = broken.stat().st_size // page_size
    assert pages > 8, pages
    rng = random.Random(9)
    with open(broken, "r+b") as f:
        f.seek((pages // 2) * page_size)
        f.write(bytes(rng.randrange(256) for _ in range(page_size)))
    p = run_binary("--db", str(broken))
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "http://" not in p.stdout
    assert str(broken) in p.stderr, p.stderr
    assert "quick_check" in p.stderr or "malformed" in p.stderr, p.stderr


def test_unopenable_db_path_exits_2_naming_the_path(tmp_path):
    path = tmp_path / "no-such-dir" / "hil.db"
    p = run_binary("--db", str(path))
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert str(path) in p.stderr, p.stderr


def test_a_file_that_is_not_a_database_exits_2_naming_the_path(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for\n" * 200)
    p = run_binary("--db", str(path))
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert str(path) in p.stderr and "not a database" in p.stderr, p.stderr


def test_newer_schema_exits_2_naming_the_path(servers, tmp_path):
    db = tmp_path / "hil.db"
    assert servers.start(fixtures=(), db=db).stop() == 0
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    p = run_binary("--db", str(db))
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert str(db) in p.stderr and "newer" in p.stderr, p.stderr


# ---------------------------------------------------------------------------
# 2. Restarts with --db and --fixtures are idempotent
# ---------------------------------------------------------------------------


def test_ci_recipe_with_db_survives_several_restarts(servers, tmp_path):
    """The README's CI recipe plus --db, restarted again and again: fixture datastores the database already has
    stay as the clients left them (one deleted stays DELETED), API-made data persists, reset brings startup back."""
    db = tmp_path / "hil.db"
    spare_id = hex_id(7, "spare")
    spare = write_fixture(tmp_path / "spare.json", [datastore(spare_id, [], name="spare")])
    fixtures = (SEED_FIXTURE, spare)
    made = []
    for round_ in range(4):
        s = servers.start(fixtures=fixtures, db=db)
        c = boto_client(s.url)
        assert raw_request(s.url, "GET", "/_healthimaging/health").status == 200
        status = {d["datastoreId"]: d["datastoreStatus"] for d in c.list_datastores()["datastoreSummaries"]}
        assert status[SEED_DATASTORE] == "ACTIVE"
        assert all(status.get(m) == "ACTIVE" for m in made), (made, status)
        # deleted in round 0, it is not brought back by a restart
        assert status[spare_id] == ("ACTIVE" if round_ == 0 else "DELETED"), (round_, status)
        seed_arn = c.get_datastore(datastoreId=SEED_DATASTORE)["datastoreProperties"]["datastoreArn"]
        tags = c.list_tags_for_resource(resourceArn=seed_arn)["tags"]
        assert tags == ({f"round{round_ - 1}": "x"} if round_ else {}), (round_, tags)
        if round_:
            c.untag_resource(resourceArn=seed_arn, tagKeys=[f"round{round_ - 1}"])
        c.tag_resource(resourceArn=seed_arn, tags={f"round{round_}": "x"})
        if round_ == 0:
            c.delete_datastore(datastoreId=spare_id)
        made.append(c.create_datastore(datastoreName=f"round{round_}", clientToken=f"round-{round_}")["datastoreId"])
        assert s.stop() == 0, s.describe()
    # reset to startup still works: the fixture datastores as the files say, nothing else
    s = servers.start(fixtures=fixtures, db=db)
    r = raw_request(s.url, "POST", "/_healthimaging/reset", body=b"{}")
    assert r.status == 200, r
    c = boto_client(s.url)
    ids = {d["datastoreId"] for d in c.list_datastores()["datastoreSummaries"]}
    assert ids == {SEED_DATASTORE, spare_id}, ids
    seed_arn = c.get_datastore(datastoreId=SEED_DATASTORE)["datastoreProperties"]["datastoreArn"]
    assert c.list_tags_for_resource(resourceArn=seed_arn)["tags"] == {}
    assert s.stop() == 0
    # and a restart after that reset changes nothing
    s = servers.start(fixtures=fixtures, db=db)
    ids = {d["datastoreId"] for d in boto_client(s.url).list_datastores()["datastoreSummaries"]}
    assert ids == {SEED_DATASTORE, spare_id}, ids


def test_reset_to_startup_rereads_the_fixture_files_and_refuses_a_broken_one_before_clearing(servers, tmp_path):
    first_id, second_id = hex_id(1, "first"), hex_id(2, "second")
    path = write_fixture(tmp_path / "live.json", [datastore(first_id, [image_set(hex_id(1, "is"), 3)])])
    s = servers.start(fixtures=(path,), db=tmp_path / "hil.db")
    c = boto_client(s.url)
    made = c.create_datastore(datastoreName="api", clientToken="api-1")["datastoreId"]
    # a broken file: the reset is refused and nothing is cleared
    path.write_text("{\"datastores\": [")
    r = raw_request(s.url, "POST", "/_healthimaging/reset", body=b"{}")
    assert r.status == 400, r
    assert str(path) in r.body.decode(), r
    assert {d["datastoreId"] for d in c.list_datastores()["datastoreSummaries"]} == {first_id, made}
    # an edited file: the reset loads what it says now
    write_fixture(path, [datastore(second_id, [])])
    r = raw_request(s.url, "POST", "/_healthimaging/reset", body=b"{}")
    assert r.status == 200, r
    assert {d["datastoreId"] for d in c.list_datastores()["datastoreSummaries"]} == {second_id}


# ---------------------------------------------------------------------------
# 4. Memory bounded by configuration
# ---------------------------------------------------------------------------


def test_read_cache_key_leaves_out_ignored_bodies_so_they_cannot_grow_memory(servers, tmp_path):
    s = servers.start(fixtures=(SEED_FIXTURE,))
    path = f"/datastore/{SEED_DATASTORE}/imageSet/{SEED_IMAGE_SET}/getImageSet"
    c = Connection(s.url)
    try:
        assert c.request("POST", path)[0] == 200
        before = rss_bytes(s.proc.pid)
        for i in range(40):
            body = (b"%08d" % i) + b"x" * (8 * MiB - 8)
            status, answer = c.request("POST", path, body)
            assert status == 200, answer[:300]
        after = rss_bytes(s.proc.pid)
    finally:
        c.close()
    grown = after - before
    print(f"RSS {before / MiB:.1f} MiB -> {after / MiB:.1f} MiB after 40 GetImageSet calls with 8 MiB bodies")
    assert grown < 100 * MiB, f"RSS grew by {grown / MiB:.0f} MiB: ignored request bodies are being kept"


def test_read_cache_budget_flag_is_validated():
    p = run_binary("--read-cache-bytes", "-1")
    assert p.returncode != 0 and "read-cache-bytes" in p.stderr, (p.returncode, p.stderr)


def test_startup_fixtures_are_not_kept_in_memory_with_db(servers, tmp_path):
    """5 x 10^4 versions loaded with --db: the server's RSS stays near that of a server with a tiny fixture (the
    parsed documents are dropped once the store holds them)."""
    big = write_many_versions_fixture(tmp_path / "big.json", 50, 1000)
    small = write_many_versions_fixture(tmp_path / "small.json", 1, 10)
    base = servers.start(fixtures=(small,), db=tmp_path / "small.db")
    base_rss = rss_bytes(base.proc.pid)
    base.stop()
    t0 = time.monotonic()
    loaded = servers.start(fixtures=(big,), db=tmp_path / "big.db")
    took = time.monotonic() - t0
    big_rss = rss_bytes(loaded.proc.pid)
    print(f"RSS with 5 x 10^4 fixture versions: {big_rss / MiB:.1f} MiB (tiny fixture: {base_rss / MiB:.1f} MiB; "
          f"fixture file {big.stat().st_size / MiB:.1f} MiB, startup {took:.1f}s)")
    assert big_rss - base_rss < 16 * MiB, f"{(big_rss - base_rss) / MiB:.0f} MiB more than with a tiny fixture"
    r = raw_request(loaded.url, "POST", f"/datastore/{hex_id(1, 'many')}/imageSet/{hex_id(5, 'm')}/listImageSetVersions?maxResults=1")
    assert r.status == 200 and r.json()["imageSetPropertiesList"][0]["versionId"] == "1000", r


# ---------------------------------------------------------------------------
# 9. Fixture datastores report createdAt, updatedAt and losslessStorageFormat
# ---------------------------------------------------------------------------


def test_fixture_datastores_report_created_updated_and_lossless_storage_format(servers, tmp_path):
    plain, dated = hex_id(1, "plain"), hex_id(2, "dated")
    given = datastore(dated, [])
    given.update({"createdAt": 1700000000.5, "losslessStorageFormat": "JPEG_2000_LOSSLESS"})
    before = time.time()
    s = servers.start_with([datastore(plain, []), given])
    after = time.time()
    c = boto_client(s.url)
    p = c.get_datastore(datastoreId=plain)["datastoreProperties"]
    assert p["losslessStorageFormat"] == "HTJ2K"
    assert before - 1 <= p["createdAt"].timestamp() <= after + 1, p
    assert p["updatedAt"] == p["createdAt"]
    d = c.get_datastore(datastoreId=dated)["datastoreProperties"]
    assert d["losslessStorageFormat"] == "JPEG_2000_LOSSLESS"
    assert d["createdAt"].timestamp() == 1700000000.5 and d["updatedAt"] == d["createdAt"]
    summaries = {x["datastoreId"]: x for x in c.list_datastores()["datastoreSummaries"]}
    for ident in (plain, dated):
        assert "createdAt" in summaries[ident] and "updatedAt" in summaries[ident], summaries[ident]
    exported = {x["datastoreId"]: x for x in raw_request(s.url, "GET", "/_healthimaging/fixtures").json()["datastores"]}
    assert exported[plain]["losslessStorageFormat"] == "HTJ2K"
    assert exported[dated]["createdAt"] == 1700000000.5
    assert "createdAt" in exported[plain] and "updatedAt" in exported[plain], exported[plain]
