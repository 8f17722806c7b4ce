"""The web view's import jobs and frame previews: a DICOM import job through --s3-dir (one good file, one bad) and
one file through the control plane's one-file import, then the namespace page shows the job with its counts and
failure line, the image-set page shows <img> previews that load in chromium, and the PNG route serves a PNG whose
IHDR size is the stored frame's resolution level that fits in 256 pixels. Screenshot: artifacts/ui-frames.png."""

from __future__ import annotations

import json
import shutil
import struct
import zlib

from conftest import HERE, SEED_DATASTORE, boto_client, raw_request
from import_helpers import ROLE_ARN, metadata, read_output_dir, wait_for_job
from test_web_ui import ARTIFACTS, browser, click_and_wait  # noqa: F401  (the browser fixture)

SAMPLES = HERE.parent.parent / "fixtures" / "s3" / "healthimaging-local-samples" / "dicom"
NAMESPACE_PAGE = "/_healthimaging/ui/namespaces/123456789012/us-east-1"


def png_facts(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, pixels) of an 8-bit, non-interlaced PNG, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and interlace == 0 and colour in (0, 2)
    channels = 1 if colour == 0 else 3
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (width * channels + 1)
    rows = [raw[r * (width * channels + 1):(r + 1) * (width * channels + 1)] for r in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter None on every row
    return width, height, channels, b"".join(row[1:] for row in rows)


def expected_size(frame: dict) -> tuple[int, int]:
    """The largest stored resolution level at most 256 pixels on its long side (else the smallest)."""
    levels = [(c["Width"], c["Height"]) for c in frame["PixelDataChecksumFromBaseToFullResolution"]]
    fitting = [wh for wh in levels if max(wh) <= 256]
    return max(fitting, key=lambda wh: wh[0] * wh[1]) if fitting else min(levels, key=lambda wh: wh[0] * wh[1])


def frames_of(document: dict) -> list[dict]:
    return [frame for series in document["Study"]["Series"].values() for instance in series["Instances"].values()
            for frame in instance["ImageFrames"]]


def test_import_jobs_and_frame_previews(servers, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    root = tmp_path / "s3"
    (root / "inbox" / "in").mkdir(parents=True)
    shutil.copy(SAMPLES / "ct-01-explicit-le.dcm", root / "inbox" / "in" / "ct-01-explicit-le.dcm")
    (root / "inbox" / "in" / "notes.dcm").write_bytes(b"<b>not DICOM</b>\n" * 8)
    server = servers.start(extra=["--s3-dir", str(root)])
    url = server.url
    client = boto_client(url)
    job_id = client.start_dicom_import_job(
        datastoreId=SEED_DATASTORE, dataAccessRoleArn=ROLE_ARN, jobName="ui-import",
        inputS3Uri="s3://inbox/in/", outputS3Uri="s3://inbox/out/")["jobId"]
    props = wait_for_job(client, SEED_DATASTORE, job_id)
    assert props["jobStatus"] == "COMPLETED", props
    _, success, failure = read_output_dir(root, props["outputS3Uri"])
    assert len(success) == 1 and len(failure) == 1
    ct_image_set = success[0]["importResponse"]["imageSetId"]

    # An RGB file through the one-file control endpoint.
    r = raw_request(url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom?inputFile=rgb.dcm",
                    headers={"Content-Type": "application/dicom"},
                    body=(SAMPLES / "sc-01-rgb-deflated.dcm").read_bytes())
    assert r.status in (200, 201), r.body
    rgb_image_set = json.loads(r.body)["imageSetId"]
    r = raw_request(url, "POST", f"/_healthimaging/datastores/{SEED_DATASTORE}/dicom?inputFile=jpeg.dcm",
                    body=(SAMPLES / "sc-03-rgb-jpeg-baseline.dcm").read_bytes())
    assert r.status in (200, 201), r.body
    jpeg_image_set, jpeg_frame = json.loads(r.body)["imageSetId"], json.loads(r.body)["frameIds"][0]

    # The PNG route over plain HTTP.
    for image_set, channels in ((ct_image_set, 1), (rgb_image_set, 3)):
        document = metadata(client, SEED_DATASTORE, image_set)
        frame = frames_of(document)[0]
        r = raw_request(url, "GET", f"{NAMESPACE_PAGE}/datastores/{SEED_DATASTORE}/imageSets/{image_set}/frames/{frame['ID']}.png")
        assert r.status == 200 and r.headers.get("content-type") == "image/png", (r.status, r.body[:200])
        width, height, got_channels, pixels = png_facts(r.body)
        assert (width, height) == expected_size(frame) and got_channels == channels
        assert len(set(pixels)) > 8, "a windowed preview has more than a few grey levels"
    missing = raw_request(url, "GET", f"{NAMESPACE_PAGE}/datastores/{SEED_DATASTORE}/imageSets/{ct_image_set}/frames/nope.png")
    assert missing.status == 404 and missing.headers.get("x-amzn-errortype", "").startswith("ResourceNotFound")

    # A frame kept in its original JPEG baseline encoding: no preview, said on the page and by the route.
    jpeg_page = f"{NAMESPACE_PAGE}/datastores/{SEED_DATASTORE}/imageSets/{jpeg_image_set}"
    r = raw_request(url, "GET", f"{jpeg_page}/frames/{jpeg_frame}.png")
    assert r.status == 404 and "original transfer syntax" in r.json()["message"], r
    page = raw_request(url, "GET", jpeg_page).body.decode()
    assert "No preview" in page and "1.2.840.10008.1.2.4.50" in page and f"{jpeg_frame}.png" not in page  # (it may share the image set of the RGB file)

    # The namespace page: the job row, its counts and its failure line (escaped).
    browser.get(url + NAMESPACE_PAGE)
    rows = [row for row in browser.find_elements(By.CSS_SELECTOR, "tr.import-job") if job_id in row.text]
    assert len(rows) == 1, browser.page_source[:2000]
    assert "COMPLETED" in rows[0].text and "ui-import" in rows[0].text and "s3://inbox/in/" in rows[0].text
    assert "ScannedFiles: 2" in rows[0].text and "ImportedFiles: 1" in rows[0].text
    failures = browser.find_elements(By.CSS_SELECTOR, "tr.failure")
    assert any("notes.dcm" in row.text for row in failures)
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "ui-import-jobs.png"))

    # The image-set page: the previews load in the browser.
    browser.get(url + f"{NAMESPACE_PAGE}/datastores/{SEED_DATASTORE}/imageSets/{ct_image_set}")
    images = browser.find_elements(By.CSS_SELECTOR, "img.preview")
    assert images and images[0].get_attribute("loading") == "lazy"
    browser.execute_script("arguments[0].scrollIntoView()", images[0])
    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", images[0]) > 0)
    assert browser.save_screenshot(str(ARTIFACTS / "ui-frames.png"))
    browser.get(url + f"{NAMESPACE_PAGE}/datastores/{SEED_DATASTORE}/imageSets/{rgb_image_set}")
    image = browser.find_element(By.CSS_SELECTOR, "img.preview")
    browser.execute_script("arguments[0].scrollIntoView()", image)
    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0)


def test_previews_are_behind_the_control_plane_guard(servers):
    path = f"{NAMESPACE_PAGE}/datastores/{SEED_DATASTORE}/imageSets/x/frames/y.png"
    guarded = servers.start(extra=("--control-token", "s3cret"))
    assert raw_request(guarded.url, "GET", path).status == 401
    assert raw_request(guarded.url, "GET", path, headers={"Cookie": "hil_token=s3cret"}).status == 404  # past the guard
    off = servers.start(extra=("--control-plane", "off"))
    r = raw_request(off.url, "GET", path)
    assert r.status != 200 and r.headers.get("content-type") != "image/png"
