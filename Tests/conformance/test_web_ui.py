"""The web view at /_healthimaging/ui, in a real browser: Debian's chromium, headless, driven by selenium (pinned
in requirements.txt) through Debian's chromedriver — Service('/usr/bin/chromedriver'), so selenium-manager never
runs and nothing is downloaded. The screenshot goes to Tests/conformance/artifacts/ui.png (gitignored)."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest

from conftest import HERE, datastore, generated_versions, raw_request, write_fixture

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = HERE / "artifacts"

DS = "d5000000000000000000000000000001"
IS = "15000000000000000000000000000001"
EVIL = "<script>document.title='pwned';window.__pwned=1</script>"
QUOTED_MESSAGE = "copy said \"no\" & 'never' - 1:2"  # the Message pattern allows " & ' but not < >


@pytest.fixture
def ui_server(servers, tmp_path):
    versions = generated_versions(IS, 3)
    versions[0].update(ImageSetWorkflowStatus="COPY_FAILED", message=QUOTED_MESSAGE, isPrimary=True)
    versions[1].update(imageSetState="LOCKED", ImageSetWorkflowStatus="UPDATING")
    metadata = {"SchemaVersion": "1.1", "DatastoreID": DS, "ImageSetID": IS,
                "Patient": {"DICOM": {"PatientName": EVIL, "PatientID": "P<1>"}},
                "Study": {"DICOM": {"StudyInstanceUID": "1.2.3", "StudyDescription": "</pre><b>bold</b>"},
                          "Series": {}}}
    path = write_fixture(tmp_path / "ui.json", [
        dict(datastore(DS, [{"imageSetId": IS, "versions": versions, "metadata": metadata}], name="ui-store"))])
    return servers.start(fixtures=(path,))


@pytest.fixture
def browser():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed (scripts/test installs chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    def refuse(*_a, **_k):
        raise AssertionError("selenium-manager must not run")

    original = selenium_manager.SeleniumManager.binary_paths
    selenium_manager.SeleniumManager.binary_paths = refuse
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-proxy-server", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        selenium_manager.SeleniumManager.binary_paths = original


def click_and_wait(browser, element):
    """Click a link or submit button and wait until the next page has replaced this one and finished loading.

    The old page is marked with a window property before the click; the wait ends when a window without the mark
    reports readyState complete. While the navigation runs, chromedriver may answer any command with an error
    (a stale element, or "unhandled inspector error: Cannot find context" when the old context is torn down
    mid-command — a CI run once failed on that inside staleness_of), so those errors mean "not yet"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__beforeClick = true")
    element.click()

    def replaced(b):
        return b.execute_script("return window.__beforeClick !== true && document.readyState === 'complete'")

    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(replaced)


CSRF = re.compile(rb'name="csrf" value="([0-9a-f]+)"')


def form_token(url, headers=None) -> str:
    """The per-server form token every state-changing form of the view carries (UI+CrossSite.swift)."""
    r = raw_request(url, "GET", "/_healthimaging/ui", headers=headers)
    assert r.status == 200, r
    return CSRF.search(r.body).group(1).decode()


def control_json(url, method, path, body=None):
    r = raw_request(url, method, path, headers={"Content-Type": "application/json"},
                    body=json.dumps(body).encode() if body is not None else None)
    assert r.status < 300, r
    return r.json()


def test_web_view_in_chromium(ui_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url = ui_server.url
    # an API call whose query carries markup: the journal shows it as text
    raw_request(url, "POST", f"/datastore/{DS}/imageSet/{IS}/listImageSetVersions?"
                + urllib.parse.urlencode({"nextToken": EVIL}))

    browser.get(url + "/_healthimaging/ui")
    assert browser.title.startswith("Overview")
    rows = browser.find_elements(By.CSS_SELECTOR, "#namespaces tr")
    assert any("123456789012" in r.text and "us-east-1" in r.text for r in rows)

    # add a fault rule through the form
    form = browser.find_element(By.ID, "add-fault")
    Select(form.find_element(By.NAME, "operation")).select_by_visible_text("GetImageSet")
    Select(form.find_element(By.NAME, "errorCode")).select_by_visible_text("ThrottlingException")
    form.find_element(By.NAME, "message").send_keys("slow down <b>now</b>")
    form.find_element(By.NAME, "times").send_keys("2")
    form.find_element(By.NAME, "datastoreId").send_keys(DS)
    click_and_wait(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    table = browser.find_element(By.ID, "fault-rules")
    assert "GetImageSet" in table.text and "slow down <b>now</b>" in table.text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ui.png"))
    rules = control_json(url, "GET", "/_healthimaging/faults")["rules"]
    assert len(rules) == 1
    assert rules[0]["operation"] == "GetImageSet" and rules[0]["datastoreId"] == DS
    assert rules[0]["error"] == {"code": "ThrottlingException", "message": "slow down <b>now</b>", "status": 429}
    assert rules[0]["remaining"] == 2

    # a bad rule is refused with the JSON path message, on a page
    form = browser.find_element(By.ID, "add-fault")
    Select(form.find_element(By.NAME, "operation")).select_by_visible_text("ListImageSetVersions")
    Select(form.find_element(By.NAME, "errorCode")).select_by_visible_text("ServiceQuotaExceededException")
    click_and_wait(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "is not an error of ListImageSetVersions" in browser.find_element(By.ID, "error").text
    assert len(control_json(url, "GET", "/_healthimaging/faults")["rules"]) == 1

    # open the image set from the namespace page and find its versions
    browser.get(url + "/_healthimaging/ui")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "123456789012"))
    assert "ui-store" in browser.find_element(By.CSS_SELECTOR, "h2.datastore").text
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, IS))
    versions = browser.find_elements(By.CSS_SELECTOR, "#versions tr.version")
    assert [v.find_element(By.CSS_SELECTOR, "td").text for v in versions] == ["3", "2", "1"]
    assert "COPY_FAILED" in versions[0].text and "primary" in versions[0].text
    assert versions[0].find_element(By.CSS_SELECTOR, "td.message").text == QUOTED_MESSAGE
    assert "fail" in versions[0].find_element(By.XPATH, ".//span[text()='COPY_FAILED']").get_attribute("class")
    assert "busy" in versions[1].find_element(By.XPATH, ".//span[text()='LOCKED']").get_attribute("class")
    assert "2023-03-28" in versions[2].text  # createdAt 1680027126.436 shown as a date
    document = browser.find_element(By.ID, "metadata-document").text
    assert EVIL in document and "</pre><b>bold</b>" in document  # markup shown as text
    assert browser.execute_script("return window.__pwned === undefined && document.querySelectorAll('b').length === 0")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ui-image-set.png"))

    # the journal: newest first, filterable, markup in the query as text
    browser.get(url + "/_healthimaging/ui/journal?refresh=0")
    journal = browser.find_element(By.ID, "journal")
    assert EVIL in journal.text
    assert "favicon" not in journal.text  # the pages name an inline icon
    browser.save_screenshot(str(ARTIFACTS / "ui-journal.png"))
    assert browser.execute_script("return window.__pwned === undefined")
    browser.get(url + "/_healthimaging/ui/journal?operation=GetImageSet&refresh=0")
    assert browser.find_element(By.ID, "journal-empty")

    # delete the rule from the page
    browser.get(url + "/_healthimaging/ui")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#fault-rules button[type=submit]"))
    assert browser.find_element(By.ID, "no-faults")
    assert control_json(url, "GET", "/_healthimaging/faults")["rules"] == []
    browser.save_screenshot(str(ARTIFACTS / "ui-after-delete.png"))
    assert browser.title != "pwned"


def test_every_value_is_escaped_in_the_html(ui_server):
    url = ui_server.url
    raw_request(url, "POST", f"/datastore/{DS}/imageSet/{IS}/listImageSetVersions?"
                + urllib.parse.urlencode({"nextToken": EVIL}))
    pages = [
        f"/_healthimaging/ui/namespaces/123456789012/us-east-1/datastores/{DS}/imageSets/{IS}",
        "/_healthimaging/ui/journal",
    ]
    for page in pages:
        r = raw_request(url, "GET", page)
        assert r.status == 200 and r.headers["content-type"].startswith("text/html")
        body = r.body.decode()
        assert "<script" not in body.lower(), page
        assert "&lt;script&gt;" in body, page
        assert "'none'" in r.headers["content-security-policy"]
    body = raw_request(url, "GET", pages[0]).body.decode()
    assert "copy said &quot;no&quot; &amp; &#39;never&#39;" in body
    assert "&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;" in body


def test_ui_routes_and_form_errors(ui_server):
    url = ui_server.url
    token = form_token(url).encode()
    r = raw_request(url, "GET", "/_healthimaging/ui/namespaces/123456789012/us-east-1/datastores/x/imageSets/y")
    assert r.status == 404 and b"does not exist" in r.body and r.headers["content-type"].startswith("text/html")
    r = raw_request(url, "POST", "/_healthimaging/ui/faults",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    body=b"operation=GetImageSet&latencyMs=abc&csrf=" + token)
    assert r.status == 400 and b"latencyMs" in r.body
    r = raw_request(url, "POST", "/_healthimaging/ui/faults/123456789012/us-east-1/rule-99/delete",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"csrf=" + token)
    assert r.status == 404
    r = raw_request(url, "POST", "/_healthimaging/ui/reset", headers={"Content-Type": "application/x-www-form-urlencoded"},
                    body=b"scope=all&to=empty&csrf=" + token)
    assert r.status == 303 and r.headers["location"] == "/_healthimaging/ui"
    assert control_json(url, "GET", "/_healthimaging/fixtures") == {"datastores": []}
    r = raw_request(url, "DELETE", "/_healthimaging/ui")
    assert r.status == 405


def test_the_view_is_behind_the_control_token(servers):
    s = servers.start(extra=("--control-token", "s3cret"))
    url = s.url
    r = raw_request(url, "GET", "/_healthimaging/ui", headers={"Accept": "text/html,*/*"})
    assert r.status == 401 and r.headers["content-type"].startswith("text/html") and b"?token=" in r.body
    assert r.headers["x-amzn-errortype"] == "UnauthorizedException"
    r = raw_request(url, "GET", "/_healthimaging/ui")  # not a browser: the control plane's JSON error
    assert r.status == 401 and r.json()["__type"] == "UnauthorizedException"
    r = raw_request(url, "GET", "/_healthimaging/ui?token=wrong")
    assert r.status in (401, 403)
    assert "set-cookie" not in r.headers
    # the bearer header works as for every control route
    assert raw_request(url, "GET", "/_healthimaging/ui", headers={"Authorization": "Bearer s3cret"}).status == 200
    # ?token= once, then the cookie
    r = raw_request(url, "GET", "/_healthimaging/ui?token=s3cret")
    assert r.status == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("hil_token=s3cret;") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    r = raw_request(url, "GET", "/_healthimaging/ui/journal", headers={"Cookie": "other=1; hil_token=s3cret"})
    assert r.status == 200
    token = form_token(url, {"Cookie": "hil_token=s3cret"}).encode()
    r = raw_request(url, "POST", "/_healthimaging/ui/faults", headers={
        "Cookie": "hil_token=s3cret", "Content-Type": "application/x-www-form-urlencoded"},
        body=b"operation=GetImageSet&latencyMs=5&csrf=" + token)
    assert r.status == 303
    # the cookie opens the view only, not the JSON control plane
    assert raw_request(url, "GET", "/_healthimaging/faults", headers={"Cookie": "hil_token=s3cret"}).status == 401
    rules = raw_request(url, "GET", "/_healthimaging/faults", headers={"Authorization": "Bearer s3cret"}).json()["rules"]
    assert [r["operation"] for r in rules] == ["GetImageSet"]
    # an unknown query parameter is refused like on every control route
    r = raw_request(url, "GET", "/_healthimaging/ui?tokne=s3cret", headers={"Authorization": "Bearer s3cret"})
    assert r.status == 400


def test_the_view_is_gone_with_the_control_plane_off(servers):
    s = servers.start(extra=("--control-plane", "off"))
    r = raw_request(s.url, "GET", "/_healthimaging/ui")
    assert r.status == 404 and not r.headers["content-type"].startswith("text/html")
