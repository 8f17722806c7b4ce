"""The web view against cross-site requests (docs/hardening.md, "Web view"), in raw HTTP: a form POST that comes
from another site — a foreign Origin, Sec-Fetch-Site cross-site, or no form token — is refused and changes
nothing, with and without --control-token; every error page escapes what it echoes and sends nosniff (and the
CSP when it is HTML)."""

from __future__ import annotations

import json

import pytest

from conftest import SEED_DATASTORE, SEED_IMAGE_SET, raw_request
from test_web_ui import form_token

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EVIL = "<script>alert(1)</script>"


def state(url, headers=None) -> bytes:
    h = {"Authorization": "Bearer s3cret"} if headers else {}
    r = raw_request(url, "GET", "/_healthimaging/fixtures", headers=h)
    assert r.status == 200, r
    return r.body


def faults(url, headers=None) -> list:
    h = {"Authorization": "Bearer s3cret"} if headers else {}
    return raw_request(url, "GET", "/_healthimaging/faults", headers=h).json()["rules"]


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_a_cross_site_form_post_is_refused_and_changes_nothing(servers, token):
    s = servers.start(extra=("--control-token", token) if token else ())
    url = s.url
    cookie = {"Cookie": f"hil_token={token}"} if token else {}
    csrf = form_token(url, cookie or None)
    host = url.split("://", 1)[1]
    before = state(url, token)
    reset = b"scope=all&to=empty&csrf=" + csrf.encode()
    add = b"operation=GetImageSet&latencyMs=5&csrf=" + csrf.encode()
    refused = [
        ({"Origin": "http://evil.example"}, reset),                       # a foreign page, token and all
        ({"Origin": "null"}, reset),                                      # a sandboxed or file: page
        ({"Origin": f"http://{host}.evil.example"}, reset),               # a look-alike host
        ({"Sec-Fetch-Site": "cross-site"}, reset),                        # the browser says so
        ({"Sec-Fetch-Site": "same-site", "Origin": f"http://{host}"}, reset),  # another port of the same host
        ({"Origin": f"http://{host}"}, b"scope=all&to=empty"),            # same origin but no form token
        ({}, b"scope=all&to=empty&csrf=" + b"0" * 32),                     # a wrong form token
        ({"Origin": "http://evil.example"}, add),
        ({"Origin": "http://<script>alert(1)</script>"}, add),           # what it echoes is escaped
    ]
    for extra, body in refused:
        path = "/_healthimaging/ui/reset" if b"scope" in body else "/_healthimaging/ui/faults"
        for accept in ({}, {"Accept": "text/html"}):
            r = raw_request(url, "POST", path, headers={**FORM, **cookie, **extra, **accept}, body=body)
            assert r.status == 403, (extra, body, r)
            assert r.headers["x-amzn-errortype"] == "AccessDeniedException"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert b"<script" not in r.body
            if accept:
                assert r.headers["content-type"].startswith("text/html")
                assert "default-src 'none'" in r.headers["content-security-policy"]
            else:
                assert r.json()["__type"] == "AccessDeniedException"
    assert state(url, token) == before
    assert faults(url, token) == []
    # The same form from the view itself goes through.
    r = raw_request(url, "POST", "/_healthimaging/ui/faults",
                    headers={**FORM, **cookie, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}, body=add)
    assert r.status == 303, r
    assert [rule["operation"] for rule in faults(url, token)] == ["GetImageSet"]
    r = raw_request(url, "POST", "/_healthimaging/ui/reset", headers={**FORM, **cookie, "Origin": f"http://{host}"}, body=reset)
    assert r.status == 303, r
    assert json.loads(state(url, token)) == {"datastores": []}


def test_every_form_carries_the_form_token(servers):
    s = servers.start()
    r = raw_request(s.url, "GET", "/_healthimaging/ui")
    token = form_token(s.url)
    body = r.body.decode()
    forms = body.split("<form")[1:]
    posts = [f for f in forms if 'method="post"' in f]
    assert len(posts) >= 2
    for form in posts:
        assert f'name="csrf" value="{token}"' in form.split("</form>")[0], form[:200]
    page = raw_request(s.url, "GET", "/_healthimaging/ui/namespaces/123456789012/us-east-1").body.decode()
    assert f'name="csrf" value="{token}"' in page
    # A new server start has another token.
    assert form_token(servers.start().url) != token


def test_error_pages_escape_what_they_echo_and_send_nosniff(servers):
    s = servers.start(extra=("--control-token", "s3cret"))
    url = s.url
    auth = {"Authorization": "Bearer s3cret"}
    # The frame-preview 404 (JSON) echoes the frame id: escaped, nosniff.
    path = (f"/_healthimaging/ui/namespaces/123456789012/us-east-1/datastores/{SEED_DATASTORE}/imageSets/"
            f"{SEED_IMAGE_SET}/frames/%3Cscript%3Ealert(1)%3C%2Fscript%3E.png")
    r = raw_request(url, "GET", path, headers=auth)
    assert r.status == 404
    assert b"<script" not in r.body and b"\\u003cscript\\u003e" in r.body
    assert EVIL in r.json()["message"]  # the same text to a JSON reader
    assert r.headers["x-content-type-options"] == "nosniff"
    # The HTML image-set 404 escapes the ids and sends the CSP.
    r = raw_request(url, "GET", "/_healthimaging/ui/namespaces/123456789012/us-east-1/datastores/%3Cb%3E/imageSets/%3Cscript%3E",
                    headers=auth)
    assert r.status == 404 and r.headers["content-type"].startswith("text/html")
    assert b"<script>" not in r.body and b"&lt;script&gt;" in r.body
    assert r.headers["x-content-type-options"] == "nosniff" and "default-src 'none'" in r.headers["content-security-policy"]
    # The HTML 401 page: CSP and nosniff too.
    r = raw_request(url, "GET", "/_healthimaging/ui?x=<script>", headers={"Accept": "text/html"})
    assert r.status == 401 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff" and "default-src 'none'" in r.headers["content-security-policy"]
    assert b"<script>" not in r.body
    # A JSON API error that echoes the path: escaped, nosniff.
    r = raw_request(url, "GET", "/nothing/%3Cscript%3E")
    assert r.status >= 400 and b"<script" not in r.body and r.headers["x-content-type-options"] == "nosniff"
    # The redirect after a form POST carries the headers too.
    token = form_token(url, auth)
    r = raw_request(url, "POST", "/_healthimaging/ui/faults", headers={**FORM, **auth},
                    body=b"operation=GetImageSet&latencyMs=5&csrf=" + token.encode())
    assert r.status == 303 and r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]
