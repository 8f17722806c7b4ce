"""Streamed request bodies over raw sockets (seam S2): on the routes that stream (the STOW-RS routes and the
`/dicom` import shortcut) a body sent with Content-Length or `Transfer-Encoding: chunked` goes to a
temporary file as it arrives — chunk extensions skipped, trailers dropped, the route's own limit, JSON 413
over it, JSON 400 for broken chunk framing, the documented timeout for a slow body, memory bounded, and the
file gone once the answer is sent. Chunked bodies elsewhere keep their 501."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import SEED_DATASTORE, list_path, raw_request
from fixture_files import rss_kib
from http_raw import Reader, check_json_error, connect, dribble
from import_helpers import corpus_files

DICOM = f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom"


@pytest.fixture
def body_dir(tmp_path, monkeypatch) -> Path:
    """The servers started by the test write their streamed bodies here ($TMPDIR)."""
    path = tmp_path / "bodies"
    path.mkdir()
    monkeypatch.setenv("TMPDIR", str(path))
    return path


def chunked(data: bytes, size: int, extension: bool = True) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        ext = f';n={i // size};q="a b"' if extension and (i // size) % 2 == 0 else ""
        out += f"{len(piece):x}{ext}\r\n".encode() + piece + b"\r\n"
    return out


def head(path: str, *headers: str) -> bytes:
    return ("\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]) + "\r\n\r\n").encode()


def test_chunked_import_with_extensions_and_trailers_equals_a_content_length_one(servers, body_dir):
    server = servers.start()
    data = corpus_files(["CT_small.dcm"])[0].read_bytes()
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head(DICOM + "?inputFile=chunked.dcm", "Transfer-Encoding: chunked", "Trailer: X-Checksum")
                     + chunked(data, 1000) + b"0\r\nX-Checksum: 12345\r\n\r\n")
        first = reader.answer(timeout=60)
        assert first.status == 201, first
        # The same connection goes on with a Content-Length body of the same file: a second version.
        sock.sendall(head(DICOM + "?inputFile=plain.dcm", f"Content-Length: {len(data)}") + data)
        second = reader.answer(timeout=60)
        assert second.status == 200, second
    finally:
        sock.close()
    a, b = first.json(), second.json()
    assert a["imageSetId"] == b["imageSetId"] and a["sopInstanceUID"] == b["sopInstanceUID"]
    assert len(a["frameIds"]) == len(b["frameIds"]) == 1
    assert list(body_dir.iterdir()) == [], "a body file outlived its answer"


def test_chunked_elsewhere_keeps_its_501(server):
    sock = connect(server.url)
    try:
        sock.sendall(head(list_path(SEED_DATASTORE, "0" * 32), "Transfer-Encoding: chunked") + b"2\r\n{}\r\n0\r\n\r\n")
        check_json_error(Reader(sock).answer(), 501, "NotImplementedException")
    finally:
        sock.close()


def test_chunked_body_over_the_limit_is_json_413(servers, body_dir):
    server = servers.start(extra=["--max-import-file-bytes", "100000"])
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        # 96 KiB in chunks, then one chunk that passes 100,000 bytes: refused on its size line.
        sock.sendall(head(DICOM, "Transfer-Encoding: chunked") + chunked(b"x" * 98304, 8192)
                     + b"2000\r\n")
        answer = reader.answer()
        doc = check_json_error(answer, 413, "RequestEntityTooLargeException")
        assert "100000 bytes" in doc["message"]
        assert answer.headers.get("connection") == "close"
        assert reader.closed()
    finally:
        sock.close()
    # By Content-Length, at once from the head.
    sock = connect(server.url)
    try:
        sock.sendall(head(DICOM, "Content-Length: 100001"))
        check_json_error(Reader(sock).answer(), 413, "RequestEntityTooLargeException")
    finally:
        sock.close()
    assert list(body_dir.iterdir()) == []
    assert raw_request(server.url, "GET", "/_healthimaging/health").status == 200


@pytest.mark.parametrize("body", [
    b"zz\r\n", b"-5\r\n", b"\r\n", b"5 5\r\nhello\r\n", b"0x10\r\n", b"1" * 17 + b"\r\n",
    b"5\r\nhelloWORLD\r\n0\r\n\r\n", b"2\r\nok\r\n0\r\nno colon here\r\n\r\n", b"3;\x01\r\nabc\r\n",
])
def test_malformed_chunk_framing_is_json_400_and_closes(servers, body_dir, body):
    server = servers.start()
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head(DICOM, "Transfer-Encoding: chunked") + body)
        doc = check_json_error(reader.answer(), 400, "BadRequestException")
        assert "chunk" in doc["message"] or "trailer" in doc["message"], doc
        assert reader.closed()
    finally:
        sock.close()
    assert list(body_dir.iterdir()) == []


def test_slow_chunked_body_is_dropped_after_the_body_timeout(servers, body_dir):
    server = servers.start(extra=["--header-timeout", "1", "--body-timeout", "1"])
    sock = connect(server.url)
    try:
        started = time.monotonic()
        sock.sendall(head(DICOM, "Transfer-Encoding: chunked"))
        reader = Reader(sock)
        dribble(sock, reader, b"1\r\nx\r\n")  # one byte chunk every 0.5 s: each is progress, the whole body is not
        assert reader.eof, "a body dribbled for 6 s was still being read"
        assert not reader.buf, "the timeout is a close without an answer (libevent 2.1 has no 408)"
        assert time.monotonic() - started < 6.5
    finally:
        sock.close()
    time.sleep(0.2)
    assert list(body_dir.iterdir()) == [], "a dropped body left its file"
    assert raw_request(server.url, "GET", "/_healthimaging/health").status == 200


def test_expect_continue_on_a_streamed_route(servers, body_dir):
    server = servers.start()
    data = corpus_files(["CT_small.dcm"])[0].read_bytes()
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head(DICOM, f"Content-Length: {len(data)}", "Expect: 100-continue"))
        assert reader.answer(head_request=True).status == 100
        sock.sendall(data)
        assert reader.answer(timeout=60).status == 201
    finally:
        sock.close()


# A large body (512 MiB here; STREAM_MIB=1024 for the 1 GB figure) streamed in 1 MiB chunks: the server's RSS
# stays flat. The body ends in a broken chunk, so the answer is the HTTP room's 400 and no import runs: what
# is measured is the streaming alone.
def test_a_large_chunked_upload_keeps_memory_flat(servers, body_dir):
    server = servers.start(extra=["--max-import-file-bytes", str(4 << 30), "--body-timeout", "300"])
    pid = server.proc.pid
    assert raw_request(server.url, "GET", "/_healthimaging/health").status == 200
    before = rss_kib(pid, "VmRSS")
    mib = int(os.environ.get("STREAM_MIB", "512"))
    piece = b"%x\r\n" % (1 << 20) + os.urandom(1 << 20) + b"\r\n"
    sock = connect(server.url, timeout=60)
    peak_file = 0
    try:
        sock.sendall(head(DICOM, "Transfer-Encoding: chunked"))
        for i in range(mib):
            sock.sendall(piece)
            if i % 64 == 63:
                files = list(body_dir.iterdir())
                assert len(files) == 1
                peak_file = max(peak_file, files[0].stat().st_size)
        sock.sendall(b"nonsense\r\n")
        check_json_error(Reader(sock).answer(timeout=60), 400, "BadRequestException")
    finally:
        sock.close()
    peak = rss_kib(pid, "VmHWM")
    print(f"streamed {mib} MiB: RSS before {before // 1024} MiB, peak {peak // 1024} MiB, file reached {peak_file >> 20} MiB")
    assert peak_file >= (mib - 64) << 20, "the body did not go to the file as it arrived"
    assert peak - before < 64 * 1024, f"peak RSS {peak // 1024} MiB while streaming, {(peak - before) // 1024} MiB above the start"
    time.sleep(0.2)
    assert list(body_dir.iterdir()) == []
