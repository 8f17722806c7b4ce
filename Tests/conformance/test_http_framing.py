"""HTTP framing over raw sockets (issue 9, item 6): only the routes' methods are read as requests, HEAD has
no body, every answer has a Content-Length, malformed or conflicting framing is refused in JSON and the
connection closed, and no request can ride inside another one's body."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, list_path, raw_request
from http_raw import Reader, check_json_error, connect, exchange

RESET = b"POST /_healthimaging/reset?to=empty HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"


def datastores(url) -> list:
    r = raw_request(url, "GET", "/datastore")
    assert r.status == 200, r
    return r.json()["datastoreSummaries"]


def assert_not_reset(url):
    ids = [d["datastoreId"] for d in datastores(url)]
    assert SEED_DATASTORE in ids, f"a smuggled reset ran: datastores now {ids}"


def head(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------
# HEAD
# ---------------------------------------------------------------------------


def test_head_answers_with_the_gets_content_length_and_no_body(server):
    get = raw_request(server.url, "GET", "/datastore")
    assert get.status == 200
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head("HEAD", "/datastore"))
        answer = reader.answer(head_request=True)
        assert answer.status == 200, answer
        assert answer.headers.get("content-length") == str(len(get.body)), answer
        # No body bytes follow: the next answer on the connection starts right away.
        sock.sendall(head("GET", "/_healthimaging/health"))
        nxt = reader.answer()
        assert nxt.status == 200 and nxt.json()["status"] == "ready", nxt
    finally:
        sock.close()


def test_head_of_an_error_has_no_body_either(server):
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head("HEAD", "/no/such/route"))
        answer = reader.answer(head_request=True)
        assert answer.status == 404 and int(answer.headers["content-length"]) > 0, answer
        sock.sendall(head("GET", "/_healthimaging/health"))
        assert reader.answer().status == 200
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# Methods the routes do not use: JSON 501, Connection: close, body never read.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "FOO", "PROPFIND"])
def test_unsupported_method_is_json_501_and_closes(server, method):
    answer, reader = exchange(server.url, head(method, "/datastore"))
    check_json_error(answer, 501, "NotImplementedException")
    assert answer.headers.get("connection", "").strip().lower() == "close", answer
    assert reader.closed(), "the connection stayed open after a refused method"


def test_connect_is_answered_with_a_length_and_closed_at_once(server):
    started = time.monotonic()
    answer, reader = exchange(server.url, b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n")
    check_json_error(answer, 501, "NotImplementedException")
    assert "content-length" in answer.headers, answer
    assert reader.closed(timeout=5), "CONNECT held the connection open"
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------------
# Smuggling: a request hidden in a body libevent would not have read.
# ---------------------------------------------------------------------------

SMUGGLERS = {
    "HEAD": head("HEAD", "/datastore", f"Content-Length: {len(RESET)}", body=RESET),
    "TRACE": head("TRACE", "/datastore", f"Content-Length: {len(RESET)}", body=RESET),
    "CONNECT": b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\n" + f"Content-Length: {len(RESET)}\r\n\r\n".encode() + RESET,
    "unknown method": head("FOO", "/datastore", f"Content-Length: {len(RESET)}", body=RESET),
    "space before colon": head("POST", "/datastore/x/searchImageSets", f"Content-Length : {len(RESET)}", body=RESET),
    "plus sign": head("POST", "/datastore", "Content-Length: +0", body=RESET),
    "conflicting lengths": head("POST", "/datastore", "Content-Length: 0", f"Content-Length: {len(RESET)}", body=RESET),
    "length and chunked": head("POST", "/datastore", f"Content-Length: {len(RESET)}", "Transfer-Encoding: chunked",
                               body=b"0\r\n\r\n" + RESET),
    "chunked": head("POST", "/datastore", "Transfer-Encoding: chunked", body=b"0\r\n\r\n" + RESET),
    "folded header": head("POST", "/datastore", "X-A: 1", " Content-Length: 5", body=RESET),
    "HTTP/1.0 close": b"GET /datastore HTTP/1.0\r\n\r\n" + RESET,
    "client asked close": head("GET", "/datastore", "Connection: close", body=RESET),
}


@pytest.mark.parametrize("case", sorted(SMUGGLERS))
def test_smuggled_reset_never_runs(fresh_server, case):
    url = fresh_server.url
    sock = connect(url)
    try:
        sock.sendall(SMUGGLERS[case])
        reader = Reader(sock)
        first = reader.answer(head_request=case == "HEAD")
        # Whatever the first answer, nothing after it: the connection closes without a second one.
        assert reader.closed(timeout=5), f"{case}: a second answer or an open connection after {first!r}: {reader.buf[:300]!r}"
    finally:
        sock.close()
    time.sleep(0.2)
    assert_not_reset(url)


@pytest.mark.parametrize("value", ["+2", "-1", "0x10", "1e3", "", "2, 2", "２"])
def test_malformed_content_length_is_400_and_closes(server, value):
    answer, reader = exchange(server.url, head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET),
                                               f"Content-Length: {value}", body=b"{}"))
    check_json_error(answer, 400, "BadRequestException")
    assert "Content-Length" in answer.json()["message"], answer
    assert reader.closed()


def test_conflicting_content_lengths_are_400_and_close(server):
    answer, reader = exchange(server.url, head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET),
                                               "Content-Length: 2", "Content-Length: 3", body=b"{} "))
    check_json_error(answer, 400, "BadRequestException")
    assert "conflicting" in answer.json()["message"]
    assert reader.closed()


def test_repeated_equal_content_length_is_accepted(server):
    answer, _ = exchange(server.url, head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET),
                                          "Content-Length: 2", "Content-Length: 2", body=b"{}"))
    assert answer.status == 200, answer


def test_space_before_colon_is_400_and_closes(server):
    answer, reader = exchange(server.url, head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET),
                                               "Content-Length : 2", body=b"{}"))
    check_json_error(answer, 400, "BadRequestException")
    assert reader.closed()


# ---------------------------------------------------------------------------
# Targets and versions.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["//", "//datastore", "//evil.example/datastore", "///x"])
def test_double_slash_target_is_answered_in_json(server, target):
    answer, _ = exchange(server.url, head("GET", target))
    check_json_error(answer, 404, "UnknownOperationException")


@pytest.mark.parametrize("line", [b"GARBAGE\r\n\r\n", b"GET /datastore\r\n\r\n", b"GET /datastore HTTP/2.0\r\n\r\n",
                                  b"GET  /datastore HTTP/1.1\r\n\r\n", b"GET datastore HTTP/1.1\r\n\r\n",
                                  b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"])
def test_unreadable_request_line_is_json_400(server, line):
    answer, reader = exchange(server.url, line)
    check_json_error(answer, 400, "BadRequestException")
    assert reader.closed()


def test_http10_is_answered_with_a_length_and_closed(server):
    answer, reader = exchange(server.url, b"GET /datastore HTTP/1.0\r\n\r\n")
    assert answer.status == 200, answer
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert reader.closed()


def test_http10_keep_alive_stays_open(server):
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(b"GET /datastore HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert reader.answer().status == 200
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# Every answer has a Content-Length; pipelining keeps order.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("request_bytes", [
    head("GET", "/datastore"), head("GET", "/nope"), head("PUT", "/datastore"), head("OPTIONS", "/"),
    head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET), "Content-Length: 1", body=b"{"),
    head("GET", "/_healthimaging/health", "Connection: close"), b"GET /datastore HTTP/1.0\r\n\r\n",
])
def test_every_answer_has_a_content_length(server, request_bytes):
    answer, _ = exchange(server.url, request_bytes)
    assert answer.headers.get("content-length") == str(len(answer.body)), answer


def test_pipelined_requests_are_answered_in_order(server):
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head("GET", "/_healthimaging/health") + head("GET", "/nope") + head("GET", "/datastore")
                     + b"\r\n" + head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET), "Content-Length: 2", body=b"{}"))
        statuses = [reader.answer().status for _ in range(4)]
        assert statuses == [200, 404, 200, 200], statuses
    finally:
        sock.close()


def test_a_large_answer_with_connection_close_arrives_whole(fresh_server):
    # 40 image sets' worth of listing is well past a socket buffer; the close must wait for all of it.
    url = fresh_server.url
    body = json.dumps({"datastores": [{"datastoreId": f"{i:032x}", "datastoreName": "n" * 200, "imageSets": []}
                                      for i in range(1, 400)]}).encode()
    r = raw_request(url, "POST", "/_healthimaging/fixtures", body=body)
    assert r.status == 201, r
    sock = connect(url)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(head("GET", "/_healthimaging/fixtures", "Connection: close"))
        time.sleep(0.5)  # let the server hit a full socket buffer before we read
        reader = Reader(sock)
        answer = reader.answer(timeout=20)
        assert answer.status == 200 and len(answer.body) == int(answer.headers["content-length"]) > 100_000, answer
        json.loads(answer.body)
        assert reader.closed()
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# Replies completed later (a latency fault holds the reply through the same path as a deferred reply,
# Sources/HealthImagingHTTP/Responder.swift): the connection is held, pipelined requests wait their turn, and a client that
# leaves first costs nothing.
# ---------------------------------------------------------------------------


def add_latency(url: str, millis: int, times: int):
    r = raw_request(url, "POST", "/_healthimaging/faults",
                    body=json.dumps({"operation": "ListImageSetVersions", "latencyMs": millis, "times": times}).encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status in (200, 201), r


def test_a_held_reply_keeps_pipelined_answers_in_order(fresh_server):
    add_latency(fresh_server.url, 300, 1)
    listing = head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET), "Content-Length: 0")
    sock = connect(fresh_server.url)
    try:
        started = time.monotonic()
        sock.sendall(listing + head("GET", "/_healthimaging/health"))
        reader = Reader(sock)
        first = reader.answer()
        assert first.status == 200 and "imageSetPropertiesList" in first.json(), first
        # held for the injected 300 ms (less a timer's granularity: libevent's cached loop time)
        assert time.monotonic() - started >= 0.25
        second = reader.answer()
        assert second.status == 200 and "imageSetPropertiesList" not in second.json(), second
    finally:
        sock.close()


def test_a_long_pipelined_burst_behind_a_held_reply_is_answered_whole_and_in_order(fresh_server):
    # 2,000 requests (~200 KiB, past the 88 KiB the server reads ahead while a reply is held): reading pauses
    # and resumes, nothing is lost or reordered.
    add_latency(fresh_server.url, 200, 1)
    listing = head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET), "Content-Length: 0")
    burst = [head("GET", "/nope" if i % 3 == 0 else "/_healthimaging/health", f"X-N: {i}") for i in range(2000)]
    sock = connect(fresh_server.url)
    try:
        reader = Reader(sock)
        sock.sendall(listing + b"".join(burst))
        first = reader.answer(timeout=10)
        assert first.status == 200 and "imageSetPropertiesList" in first.json(), first
        statuses = [reader.answer(timeout=10).status for _ in burst]
        assert statuses == [404 if i % 3 == 0 else 200 for i in range(2000)]
    finally:
        sock.close()


def test_a_client_that_half_closes_after_its_requests_gets_every_answer(server):
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head("GET", "/_healthimaging/health") + head("GET", "/datastore"))
        sock.shutdown(socket.SHUT_WR)
        assert [reader.answer().status for _ in range(2)] == [200, 200]
        assert reader.closed()
    finally:
        sock.close()


def test_a_client_that_leaves_before_a_held_reply_costs_nothing(fresh_server):
    add_latency(fresh_server.url, 200, 5)
    listing = head("POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET), "Content-Length: 0")
    for _ in range(5):
        sock = connect(fresh_server.url)
        sock.sendall(listing)
        sock.close()
    time.sleep(0.5)  # every held reply is sent (into a closed connection) by now
    assert fresh_server.proc.poll() is None
    assert raw_request(fresh_server.url, "GET", "/_healthimaging/health").status == 200
    assert raw_request(fresh_server.url, "POST", list_path(SEED_DATASTORE, SEED_IMAGE_SET)).status == 200
    assert len(os.listdir(f"/proc/{fresh_server.proc.pid}/fd")) < 64


# ---------------------------------------------------------------------------
# Absolute-form targets (RFC 9112 §3.2.2: a server MUST accept them) and HEAD refusals without a body.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "http://127.0.0.1/_healthimaging/health",
    "HTTP://example.com:8080/_healthimaging/health",
    "https://localhost/_healthimaging/health?region=us-east-1",
])
def test_absolute_form_target_is_answered_and_the_connection_stays_open(server, target):
    sock = connect(server.url)
    try:
        reader = Reader(sock)
        sock.sendall(head("GET", target))
        answer = reader.answer()
        assert answer.status == 200 and answer.json()["status"] == "ready", answer
        assert answer.headers.get("connection") is None, answer
        sock.sendall(head("GET", "/_healthimaging/health"))
        assert reader.answer().status == 200
    finally:
        sock.close()


def test_absolute_form_routes_by_path_only(server):
    r = raw_request(server.url, "POST", f"http://somewhere.example{list_path(SEED_DATASTORE, SEED_IMAGE_SET)}?maxResults=1")
    assert r.status == 200, r
    assert len(r.json()["imageSetPropertiesList"]) == 1
    answer, _ = exchange(server.url, head("GET", "http://127.0.0.1"))
    check_json_error(answer, 404, "UnknownOperationException")


def read_to_eof(sock, timeout=10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("case,status", [
    ("uri 20 KiB", 414), ("uri 100 KiB", 414), ("header 70 KiB", 431), ("header 100 KiB", 431),
])
def test_oversized_head_of_a_head_request_is_refused_without_a_body(fresh_server, case, status):
    if case.startswith("uri"):
        size = 20 if "20" in case else 100
        data = head("HEAD", "/datastore/" + "a" * size * 1024)
    else:
        size = 70 if "70" in case else 100
        data = head("HEAD", "/datastore", f"X-Big: {'b' * size * 1024}")
    sock = connect(fresh_server.url)
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = read_to_eof(sock)
    finally:
        sock.close()
    answer_head, separator, rest = received.partition(b"\r\n\r\n")
    assert separator, received[:300]
    assert answer_head.startswith(f"HTTP/1.1 {status} ".encode()), answer_head
    assert b"\r\nContent-Length: " in answer_head and b"Content-Length: 0\r\n" not in answer_head + b"\r\n", answer_head
    assert rest == b"", f"a HEAD answer carried {len(rest)} body bytes: {rest[:100]!r}"
    assert raw_request(fresh_server.url, "GET", "/_healthimaging/health").status == 200
