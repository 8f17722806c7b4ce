"""Raw-socket helpers for the HTTP hardening tests: send exact bytes, read exactly what comes back,
and tell whether the server closed the connection."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse


class Answer:
    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, version: str):
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.version = version

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.version} {self.status} {self.reason} {self.header_list} {self.body[:300]!r}>"


def connect(url: str, timeout: float = 10) -> socket.socket:
    u = urllib.parse.urlsplit(url)
    return socket.create_connection((u.hostname, u.port), timeout=timeout)


class Reader:
    """Reads HTTP answers off one socket, keeping what follows for the next."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        if self.eof:
            return False
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def answer(self, head_request: bool = False, timeout: float = 10) -> Answer:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if time.monotonic() > deadline or not self._fill(deadline):
                raise AssertionError(f"no complete answer head (eof={self.eof}); got {self.buf[:300]!r}")
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        m = re.match(r"(HTTP/1\.[01]) (\d{3}) ?(.*)", lines[0])
        assert m, f"not an HTTP answer: {self.buf[:300]!r}"
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        answer = Answer(int(m.group(2)), m.group(3), headers, b"", m.group(1))
        length = answer.headers.get("content-length")
        if head_request or answer.status in (100, 204, 304):
            self.buf = rest
            return answer
        assert length is not None, f"answer without Content-Length: {answer!r}"
        n = int(length)
        while len(rest) < n:
            if time.monotonic() > deadline or not self._fill(deadline):
                raise AssertionError(f"body shorter than Content-Length {n}: {rest[:200]!r}")
            rest = self.buf.partition(b"\r\n\r\n")[2]
        answer.body = rest[:n]
        self.buf = rest[n:]
        return answer

    def closed(self, timeout: float = 5) -> bool:
        """Whether the server closes the connection (EOF or reset) within ``timeout`` with nothing more sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.buf:
                return False
            if not self._fill(deadline) and self.eof:
                return not self.buf
        return False


def exchange(url: str, data: bytes, timeout: float = 10) -> tuple[Answer, Reader]:
    sock = connect(url, timeout)
    sock.sendall(data)
    reader = Reader(sock)
    return reader.answer(timeout=timeout), reader


def check_json_error(answer: Answer, status: int, code: str | None = None):
    assert answer.status == status, answer
    assert answer.headers.get("content-type") == "application/json", answer
    doc = answer.json()
    assert doc["__type"] == answer.headers["x-amzn-errortype"], answer
    if code:
        assert doc["__type"] == code, answer
    assert doc["message"], answer
    return doc


def dribble(sock: socket.socket, reader: Reader, piece: bytes, times: int = 12, every: float = 0.5) -> None:
    """Sends `piece` every `every` seconds, `times` times (each is progress; the whole is not), until the server closes."""
    for _ in range(times):
        try:
            sock.sendall(piece)
        except OSError:
            break
        time.sleep(every)
        if reader.closed(timeout=0.01):
            break
