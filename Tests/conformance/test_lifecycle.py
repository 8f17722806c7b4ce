"""The process: the URL line, options, signals, --db persistence."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import (
    SEED_FIXTURE,
    binary_path,
    SEED_DATASTORE,
    SEED_IMAGE_SET,
    URL_LINE,
    boto_client,
    list_path,
    load_expected,
    raw_request,
)


def expected_ids():
    return [i["versionId"] for i in load_expected("list-image-set-versions.json")["imageSetPropertiesList"]]


def list_ids(url, **kw):
    resp = boto_client(url).list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET, **kw)
    return [i["versionId"] for i in resp["imageSetPropertiesList"]], resp.get("nextToken")


def test_prints_its_url_and_serves_there(fresh_server):
    m = URL_LINE.match(fresh_server.url)
    assert m and 0 < int(m.group(1)) < 65536
    r = raw_request(fresh_server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.status == 200
    assert fresh_server.stop() == 0
    assert fresh_server.stdout_tail.strip() == b"", f"stdout after the URL line: {fresh_server.stdout_tail!r}"


def test_two_servers_get_different_ports(servers):
    a, b = servers.start(), servers.start()
    assert a.port != b.port
    assert list_ids(a.url)[0] == list_ids(b.url)[0] == expected_ids()


def test_sigterm_exits_0(fresh_server):
    list_ids(fresh_server.url)
    assert fresh_server.stop(signal.SIGTERM) == 0


def test_sigterm_right_after_the_url_line(servers):
    """Signal handling is in place by the time the URL is printed."""
    for _ in range(10):
        s = servers.start()
        assert s.stop(signal.SIGTERM) == 0, s.describe()


def test_sigint_exits_0(fresh_server):
    list_ids(fresh_server.url)
    assert fresh_server.stop(signal.SIGINT) == 0


def test_sigterm_with_an_idle_keep_alive_connection(fresh_server):
    u = urllib.parse.urlsplit(fresh_server.url)
    idle = socket.create_connection((u.hostname, u.port), timeout=10)
    try:
        idle.sendall(
            f"POST {list_path(SEED_DATASTORE, SEED_IMAGE_SET)} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = idle.recv(65536)
            assert chunk
            data += chunk
        assert data.startswith(b"HTTP/1.1 200")
        t0 = time.monotonic()
        assert fresh_server.stop(signal.SIGTERM, timeout=10) == 0
        assert time.monotonic() - t0 < 10
    finally:
        idle.close()


def test_sigterm_with_a_half_sent_request(fresh_server):
    u = urllib.parse.urlsplit(fresh_server.url)
    slow = socket.create_connection((u.hostname, u.port), timeout=10)
    try:
        slow.sendall(b"POST /datastore/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        time.sleep(0.2)
        assert fresh_server.stop(signal.SIGTERM, timeout=10) == 0
    finally:
        slow.close()


def test_region_and_account_options(servers):
    """Fixtures load into --account-id/--region; requests reach that namespace
    when signed for that region (with a key id that names no account) or
    unsigned; another region or account sees nothing."""
    s = servers.start(extra=("--region", "eu-west-1", "--account-id", "000000000000", "--log-level", "debug"))
    c = boto_client(s.url, region_name="eu-west-1")
    resp = c.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert [i["versionId"] for i in resp["imageSetPropertiesList"]] == expected_ids()
    r = raw_request(s.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.status == 200, r
    with pytest.raises(ClientError) as ei:
        boto_client(s.url).list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET)
    assert ei.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as ei:
        boto_client(s.url, region_name="eu-west-1", access_key="111111111111").list_image_set_versions(
            datastoreId=SEED_DATASTORE, imageSetId=SEED_IMAGE_SET
        )
    assert ei.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert s.stop() == 0


def test_bad_options_are_refused(tmp_path):
    for args in (["--account-id", "12345"], ["--region", "Not A Region"], ["--port", "-1"], ["--no-such-option"]):
        p = subprocess.run(
            [str(binary_path()), *args, "--fixtures", str(SEED_FIXTURE)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        )
        assert p.returncode != 0, (args, p.stdout, p.stderr)
        assert "http://" not in p.stdout, args
        assert p.stderr.strip(), args


def test_db_persistence_across_restarts(servers, tmp_path):
    db = tmp_path / "hil.sqlite"
    first = servers.start(db=db)
    page, token = list_ids(first.url, maxResults=1)
    assert page == ["4"] and token
    assert first.stop() == 0
    assert db.exists() and db.stat().st_size > 0

    second = servers.start(fixtures=(), db=db)
    # the data is there without any --fixtures ...
    assert list_ids(second.url)[0] == expected_ids()
    # ... and the token from the first process still works
    rest, more = list_ids(second.url, nextToken=token)
    assert rest == ["3", "2", "1"] and more is None
    r = raw_request(second.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.json() == load_expected("list-image-set-versions.json")
    assert second.stop() == 0


def test_without_db_state_is_not_shared(servers, tmp_path):
    """Without --db and without fixtures there is nothing to list."""
    s = servers.start(fixtures=())
    r = raw_request(s.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET))
    assert r.status == 404, r
    assert r.headers.get("x-amzn-errortype") == "ResourceNotFoundException"
