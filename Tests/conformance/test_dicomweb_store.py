"""STOW-RS (StoreDICOM, StoreDICOMStudy) as DICOMweb clients use it: pydicom's corpus stored with dicomweb-client's
``store_instances`` (the client unmodified, through ``HealthImagingLocal.dicomweb()``), multipart framing variants
and refusals in raw HTTP, the size limit, StoreDICOMStudy's study check, re-stores making new versions, and the
Store Instances Response Module checked tag by tag (VRs, values, the 200 / 202 / 409 split)."""

from __future__ import annotations

import io
import re
import zlib

import pytest

from conftest import SEED_DATASTORE, raw_request
from http_raw import check_json_error
from import_helpers import CI_SLICE, corpus_dir, corpus_files, frame_checksums, metadata

pytestmark = pytest.mark.timeout(300)

DICOM_JSON = "application/dicom+json"
BOUNDARY = "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1"  # the one dicomweb-client uses


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def instance(name: str = "CT_small.dcm", **changes):
    """A pydicom dataset read from the corpus with fresh UIDs (unless given) and ``changes`` applied."""
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(corpus_dir() / name)
    ds.SOPInstanceUID = changes.pop("SOPInstanceUID", generate_uid())
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = changes.pop("StudyInstanceUID", generate_uid())
    ds.SeriesInstanceUID = changes.pop("SeriesInstanceUID", generate_uid())
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    return ds


def part10(ds, enforce: bool = True) -> bytes:
    """Part 10 bytes; ``enforce=False`` keeps the file meta as set (pydicom would rewrite it from the data set)."""
    import pydicom

    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=enforce)
    return buffer.getvalue()


def dwc_body(parts: list[bytes], boundary: str = BOUNDARY) -> bytes:
    """dicomweb-client's exact framing: a leading CRLF, no final CRLF."""
    out = b""
    for p in parts:
        out += b"\r\n--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p
    return out + b"\r\n--" + boundary.encode() + b"--"


def stow(server, body: bytes, content_type: str | None, study: str | None = None, datastore: str = SEED_DATASTORE,
         headers: dict | None = None):
    path = f"/datastore/{datastore}/studies" + (f"/{study}" if study else "")
    h = {"Accept": DICOM_JSON}
    if content_type is not None:
        h["Content-Type"] = content_type
    h.update(headers or {})
    return raw_request(server.url, "POST", path, headers=h, body=body)


def multipart_type(boundary: str = BOUNDARY) -> str:
    return f'multipart/related; type="application/dicom"; boundary="{boundary}"'


def referenced(answer: dict) -> list[dict]:
    return answer.get("00081199", {}).get("Value", [])


def failed(answer: dict) -> list[dict]:
    return answer.get("00081198", {}).get("Value", [])


def value(item: dict, tag: str):
    return item[tag]["Value"][0]


def search_all(client, datastore: str) -> list[dict]:
    found, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = client.search_image_sets(datastoreId=datastore, **kw)
        found += page["imageSetsMetadataSummaries"]
        token = page.get("nextToken")
        if not token:
            return found


def image_set_of(client, datastore: str, sop: str) -> tuple[str, dict, dict]:
    """(image set id, document, instance object) of the image set holding ``sop`` (latest versions)."""
    for summary in search_all(client, datastore):
        doc = metadata(client, datastore, summary["imageSetId"])
        for series in doc["Study"]["Series"].values():
            if sop in series["Instances"]:
                return summary["imageSetId"], doc, series["Instances"][sop]
    raise AssertionError(f"{sop} is in no image set")


# ---------------------------------------------------------------------------
# The corpus through the real client
# ---------------------------------------------------------------------------

def test_store_the_corpus_with_dicomweb_client(servers):
    """pydicom's corpus slice stored in one store_instances call; every instance referenced, its RetrieveURL
    absolute on the listening address, and (synchronously) its metadata and frame checksums already there,
    computed as an import job computes them."""
    import pydicom

    server = servers.start()
    files = corpus_files(CI_SLICE)
    assert len(files) >= 8, "pydicom's bundled test files are missing"
    datasets = [pydicom.dcmread(f) for f in files]
    # One request without chunked transfer (chunk_size above the body), so this test does not depend on S2.
    client = server.dicomweb(SEED_DATASTORE, chunk_size=1 << 30)
    answer = client.store_instances(datasets)
    refs = {value(item, "00081155"): item for item in (i.to_json_dict() for i in answer.ReferencedSOPSequence)}
    assert "FailedSOPSequence" not in answer, answer
    assert set(refs) == {str(ds.SOPInstanceUID) for ds in datasets}
    for ds in datasets:
        url = value(refs[str(ds.SOPInstanceUID)], "00081190")
        assert url.startswith(server.url + f"/datastore/{SEED_DATASTORE}/studies/{ds.StudyInstanceUID}/series/"), url
        assert url.split("?")[0].endswith(f"/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}")
    boto = server.client()
    for path, ds in zip(files, datasets):
        _, _, entry = image_set_of(boto, SEED_DATASTORE, str(ds.SOPInstanceUID))
        expected = frame_checksums(path)
        frames = entry.get("ImageFrames", [])
        if expected is None:
            assert frames == [], path.name
            continue
        assert entry["StoredTransferSyntaxUID"] and entry["ChecksumType"] == "DECOMPRESSED"
        got = [f["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"] for f in frames]
        assert got == expected, path.name


def test_store_over_one_megabyte_goes_chunked_and_is_stored(servers):
    """dicomweb-client sends bodies over chunk_size (1,000,000 bytes by default) with Transfer-Encoding: chunked."""
    server = servers.start()
    datasets = [instance() for _ in range(30)]  # CT_small: about 39 kB each
    body_size = sum(len(part10(d)) for d in datasets)
    assert body_size > 1_000_000, body_size
    answer = server.dicomweb(SEED_DATASTORE).store_instances(datasets)
    assert [i.ReferencedSOPInstanceUID for i in answer.ReferencedSOPSequence] == [d.SOPInstanceUID for d in datasets]


def test_namespace_dicomweb_stores_into_that_namespace(servers):
    server = servers.start()
    other = server.namespace("111122223333")
    other.load({"datastores": [{"datastoreId": "b" * 32, "datastoreName": "other", "imageSets": []}]})
    ds = instance()
    client = other.dicomweb("b" * 32)
    assert client.base_url == f"{server.url}/datastore/{'b' * 32}"
    answer = client.store_instances([ds])
    assert answer.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert len(search_all(other.client(), "b" * 32)) == 1
    # The default namespace has no such datastore: the same call there is a 404 (raised by the client).
    import requests

    with pytest.raises(requests.HTTPError) as caught:
        server.dicomweb("b" * 32).store_instances([instance()])
    assert caught.value.response.status_code == 404


# ---------------------------------------------------------------------------
# Framing variants (raw HTTP)
# ---------------------------------------------------------------------------

def framing_variants(p: bytes):
    b = "XyZ123"
    yield "dicomweb-client (leading CRLF, quoted type and boundary, no final CRLF)", multipart_type(), dwc_body([p])
    yield ("AWS DIMSE proxy (no type, unquoted boundary, final CRLF)", f"multipart/related; boundary={b}",
           b"--" + b.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n--" + b.encode() + b"--\r\n")
    yield ("preamble, epilogue, unquoted type", f"multipart/related; type=application/dicom; boundary={b}",
           b"this is a preamble\r\n--" + b.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p
           + b"\r\n--" + b.encode() + b"--\r\nan epilogue\r\n")
    yield ("a part without headers, transport padding", f"Multipart/Related; boundary=\"{b}\"",
           b"--" + b.encode() + b"  \t\r\n\r\n" + p + b"\r\n--" + b.encode() + b"--")
    yield ("part Content-Type with a transfer-syntax parameter", f"multipart/related; boundary={b}",
           b"--" + b.encode() + b"\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\n"
           b"Content-Location: x\r\n\r\n" + p + b"\r\n--" + b.encode() + b"--")
    yield "single Part 10 body", "application/dicom", p


@pytest.mark.parametrize("index", range(6))
def test_multipart_framing_variants_are_accepted(servers, index):
    server = servers.start()
    ds = instance()
    name, content_type, body = list(framing_variants(part10(ds)))[index]
    r = stow(server, body, content_type)
    assert r.status == 200, (name, r)
    assert r.headers["content-type"] == DICOM_JSON
    refs = referenced(r.json())
    assert [value(i, "00081155") for i in refs] == [ds.SOPInstanceUID], name


def test_several_parts_and_a_boundary_lookalike_inside_a_part(servers):
    """Three instances in one body; the boundary string preceded by CRLF inside a part's bytes (followed by other
    bytes) is content, not a delimiter."""
    server = servers.start()
    b = "BOUNDARY"
    datasets = [instance() for _ in range(3)]
    datasets[1].ImageComments = "x"  # placeholder, replaced by raw bytes below
    parts = [part10(d) for d in datasets]
    # Put "\r\n--BOUNDARYxyz" inside the second part's ImageComments value (an LT, even length).
    marker = b"\r\n--" + b.encode() + b"xyz!"
    datasets[1].ImageComments = marker.decode("latin-1")
    parts[1] = part10(datasets[1])
    assert marker in parts[1]
    body = b"".join(b"--" + b.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts)
    body += b"--" + b.encode() + b"--"
    r = stow(server, body, f"multipart/related; type=\"application/dicom\"; boundary={b}")
    assert r.status == 200, r
    assert [value(i, "00081155") for i in referenced(r.json())] == [d.SOPInstanceUID for d in datasets]


@pytest.mark.parametrize("content_type,body,status,code", [
    (None, b"x", 415, "UnsupportedMediaTypeException"),
    ("text/plain", b"x", 415, "UnsupportedMediaTypeException"),
    ("application/dicom+json", b"[]", 415, "UnsupportedMediaTypeException"),
    ('multipart/related; type="application/dicom+xml"; boundary=B', b"--B\r\n\r\nx\r\n--B--", 415,
     "UnsupportedMediaTypeException"),
    ("multipart/related; boundary=B", b"--B\r\nContent-Type: application/json\r\n\r\n{}\r\n--B--", 415,
     "UnsupportedMediaTypeException"),
    ('multipart/related; type="application/dicom"', b"--B\r\n\r\nx\r\n--B--", 400, "ValidationException"),
    ("multipart/related; boundary=B", b"no delimiter here", 400, "ValidationException"),
    ("multipart/related; boundary=B", b"--B\r\nContent-Type: application/dicom\r\n\r\nDATA", 400, "ValidationException"),
    ("multipart/related; boundary=B", b"--B\r\nContent-Type: application/dicom\r\n\r\nDATA\r\n--B", 400,
     "ValidationException"),
    ("multipart/related; boundary=B", b"--B\r\nContent-Type application/dicom\r\n\r\nDATA\r\n--B--", 400,
     "ValidationException"),
    ("multipart/related; boundary=B", b"--B--", 400, "ValidationException"),
    ("application/dicom", b"", 400, "ValidationException"),
])
def test_unsupported_types_and_bad_framing_are_json_errors(server, content_type, body, status, code):
    r = stow(server, body, content_type)
    check_json_error(r, status, code)


def test_unknown_datastore_and_bad_path_values(server):
    ds = part10(instance())
    check_json_error(stow(server, ds, "application/dicom", datastore="f" * 32), 404, "ResourceNotFoundException")
    check_json_error(stow(server, ds, "application/dicom", datastore="nope"), 400, "ValidationException")
    check_json_error(stow(server, ds, "application/dicom", study="1.2.abc"), 400, "ValidationException")
    check_json_error(stow(server, ds, "application/dicom", study="1." + "2" * 70), 400, "ValidationException")
    r = raw_request(server.url, "GET", f"/datastore/{SEED_DATASTORE}/studies/1.2.3/nothing")
    assert r.status in (404, 405, 501) and r.headers.get("x-amzn-errortype"), r


def test_a_store_over_the_limit_is_a_json_413(servers):
    server = servers.start(extra=["--max-store-bytes", "60000"])
    small = part10(instance())
    assert len(small) < 60000
    assert stow(server, small, "application/dicom").status == 200
    big = dwc_body([small, small, small])
    assert len(big) > 60000
    check_json_error(stow(server, big, multipart_type()), 413, "RequestEntityTooLargeException")


# ---------------------------------------------------------------------------
# The Store Instances Response Module, exactly
# ---------------------------------------------------------------------------

def test_response_module_all_stored_is_200_with_exact_tags_and_vrs(servers):
    server = servers.start()
    a = instance()
    b = instance(StudyInstanceUID=a.StudyInstanceUID, SeriesInstanceUID=a.SeriesInstanceUID)
    r = stow(server, dwc_body([part10(a), part10(b)]), multipart_type(),
             headers={"Host": "evil.example:1"})  # RetrieveURL never comes from Host
    assert r.status == 200 and r.headers["content-type"] == DICOM_JSON, r
    answer = r.json()
    assert list(answer) == ["00081190", "00081199"], answer
    base = f"{server.url}/datastore/{SEED_DATASTORE}"
    assert answer["00081190"] == {"vr": "UR", "Value": [f"{base}/studies/{a.StudyInstanceUID}"]}
    assert answer["00081199"]["vr"] == "SQ"
    items = answer["00081199"]["Value"]
    assert [list(i) for i in items] == [["00081150", "00081155", "00081190"]] * 2
    for item, ds in zip(items, (a, b)):
        assert item["00081150"] == {"vr": "UI", "Value": [ds.SOPClassUID]}
        assert item["00081155"] == {"vr": "UI", "Value": [ds.SOPInstanceUID]}
        assert item["00081190"] == {"vr": "UR", "Value": [
            f"{base}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"]}


def test_response_module_partial_is_202_and_none_stored_is_409(servers):
    server = servers.start()
    good = instance()
    broken_ds = instance()
    broken_sop, broken_class = broken_ds.SOPInstanceUID, broken_ds.SOPClassUID
    broken = part10(broken_ds)
    # Keep the file meta (its group length is the UL value at offset 140), then cut the data set inside the
    # first element's value: DCMTK cannot read the rest.
    meta_end = 144 + int.from_bytes(broken[140:144], "little")
    broken = broken[: meta_end + 10]
    r = stow(server, dwc_body([part10(good), broken]), multipart_type())
    assert r.status == 202 and r.headers["content-type"] == DICOM_JSON, r
    answer = r.json()
    assert list(answer) == ["00081190", "00081198", "00081199"], answer
    [fail] = answer["00081198"]["Value"]
    assert list(fail) == ["00081150", "00081155", "00081190", "00081197"], fail
    assert fail["00081150"] == {"vr": "UI", "Value": [broken_class]}
    assert fail["00081155"] == {"vr": "UI", "Value": [broken_sop]}
    assert fail["00081197"] == {"vr": "US", "Value": [0xC000]}
    # The part did not parse: its study and series are unknown, so its RetrieveURL is present but empty.
    assert fail["00081190"] == {"vr": "UR"}
    assert [value(i, "00081155") for i in referenced(answer)] == [good.SOPInstanceUID]
    # Nothing stored: 409, FailedSOPSequence only, no study URL.
    r = stow(server, dwc_body([broken]), multipart_type())
    assert r.status == 409 and r.headers["content-type"] == DICOM_JSON, r
    assert list(r.json()) == ["00081198"], r.json()
    assert value(failed(r.json())[0], "00081197") == 0xC000
    # Not DICOM at all: the item is there, with empty UIDs.
    r = stow(server, b"not dicom", "application/dicom")
    assert r.status == 409, r
    [item] = failed(r.json())
    assert item["00081150"] == {"vr": "UI"} and item["00081155"] == {"vr": "UI"}
    assert item["00081197"] == {"vr": "US", "Value": [0xC000]}


def test_a_sop_class_mismatch_between_meta_and_data_set_is_a_b007_warning(servers):
    server = servers.start()
    ds = instance()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"  # MR Image Storage; the data set says CT
    data = part10(ds, enforce=False)
    assert b"1.2.840.10008.5.1.4.1.1.4\x00" in data[:400]
    r = stow(server, data, "application/dicom")
    assert r.status == 202, r
    [item] = referenced(r.json())
    assert list(item) == ["00081150", "00081155", "00081190", "00081196"]
    assert item["00081196"] == {"vr": "US", "Value": [0xB007]}
    assert item["00081150"] == {"vr": "UI", "Value": [ds.SOPClassUID]}


def test_pixel_data_kept_untranscoded_is_a_b100_warning(servers):
    """pydicom's rtdose.dcm (32-bit samples, which the frame codecs do not store) is stored with its pixel data as
    it came, as an import stores it: 202, WarningReason 0xB100 in its ReferencedSOPSequence item."""
    path = corpus_dir() / "rtdose.dcm"
    if not path.exists():
        pytest.skip("pydicom's rtdose.dcm is not installed")
    server = servers.start()
    r = stow(server, path.read_bytes(), "application/dicom")
    assert r.status == 202, r
    [item] = referenced(r.json())
    assert item["00081196"] == {"vr": "US", "Value": [0xB100]}
    assert not failed(r.json())


# ---------------------------------------------------------------------------
# StoreDICOMStudy, versions, primary / non-primary
# ---------------------------------------------------------------------------

def test_store_dicom_study_fails_instances_of_another_study(servers):
    server = servers.start()
    boto = server.client()
    target = instance()
    stranger = instance()
    study = target.StudyInstanceUID
    r = stow(server, dwc_body([part10(target), part10(stranger)]), multipart_type(), study=study)
    assert r.status == 202, r
    answer = r.json()
    assert answer["00081190"] == {"vr": "UR", "Value": [f"{server.url}/datastore/{SEED_DATASTORE}/studies/{study}"]}
    assert [value(i, "00081155") for i in referenced(answer)] == [target.SOPInstanceUID]
    [fail] = failed(answer)
    assert value(fail, "00081155") == stranger.SOPInstanceUID and value(fail, "00081197") == 0xA900
    with pytest.raises(AssertionError):
        image_set_of(boto, SEED_DATASTORE, stranger.SOPInstanceUID)  # not stored
    # Only strangers: 409, nothing stored.
    before = len(search_all(boto, SEED_DATASTORE))
    r = stow(server, dwc_body([part10(instance())]), multipart_type(), study=study)
    assert r.status == 409 and value(failed(r.json())[0], "00081197") == 0xA900, r
    assert len(search_all(boto, SEED_DATASTORE)) == before
    # The client's own study_instance_uid argument posts to /studies/{study}.
    ok = instance(StudyInstanceUID=study)
    answer = server.dicomweb(SEED_DATASTORE).store_instances([ok], study_instance_uid=study)
    assert answer.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ok.SOPInstanceUID


def test_re_storing_an_instance_makes_a_new_version(servers):
    server = servers.start()
    boto = server.client()
    ds = instance()
    first = stow(server, part10(ds), "application/dicom")
    assert first.status == 200, first
    image_set_id, _, _ = image_set_of(boto, SEED_DATASTORE, ds.SOPInstanceUID)
    assert boto.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=image_set_id)["versionId"] == "1"
    ds.SeriesDescription = "stored again"
    again = stow(server, part10(ds), "application/dicom")
    assert again.status == 200, again
    assert value(referenced(again.json())[0], "00081190") == value(referenced(first.json())[0], "00081190")
    same_id, doc, _ = image_set_of(boto, SEED_DATASTORE, ds.SOPInstanceUID)
    assert same_id == image_set_id
    got = boto.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=image_set_id)
    assert got["versionId"] == "2" and got["imageSetState"] == "ACTIVE"
    assert doc["Study"]["Series"][ds.SeriesInstanceUID]["DICOM"]["SeriesDescription"] == "stored again"


def test_a_conflicting_instance_goes_non_primary_and_its_url_names_the_image_set(servers):
    server = servers.start()
    boto = server.client()
    ds = instance()
    assert stow(server, part10(ds), "application/dicom").status == 200
    other = instance(StudyInstanceUID=ds.StudyInstanceUID, SeriesInstanceUID=ds.SeriesInstanceUID,
                     PatientID="SOMEONE-ELSE")
    r = stow(server, part10(other), "application/dicom")
    assert r.status == 200, r
    url = value(referenced(r.json())[0], "00081190")
    m = re.search(r"\?imageSetId=([0-9a-f]{32})$", url)
    assert m, url
    got = boto.get_image_set(datastoreId=SEED_DATASTORE, imageSetId=m.group(1))
    assert got["isPrimary"] is False
    primary_url = value(referenced(stow(server, part10(instance(StudyInstanceUID=ds.StudyInstanceUID,
                        SeriesInstanceUID=ds.SeriesInstanceUID)), "application/dicom").json())[0], "00081190")
    assert "?" not in primary_url


def test_stow_is_journaled_under_its_iam_action_names(servers):
    server = servers.start()
    ds = instance()
    stow(server, part10(ds), "application/dicom")
    stow(server, part10(instance(StudyInstanceUID=ds.StudyInstanceUID)), "application/dicom", study=ds.StudyInstanceUID)
    ops = [e.get("operation") for e in server.journal()]
    assert "StoreDICOM" in ops and "StoreDICOMStudy" in ops, ops


# ---------------------------------------------------------------------------
# Self-consistent metadata: the document describes the stored frames
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    # big-endian RGB, colour-by-plane: the stored frame is interleaved
    ("ExplVR_BigEnd.dcm", {"PlanarConfiguration": 0, "PhotometricInterpretation": "RGB", "BitsAllocated": 8}),
    # native YBR_FULL_422: expanded to one Y Cb Cr triple per pixel
    ("SC_ybr_full_422_uncompressed.dcm", {"PhotometricInterpretation": "YBR_FULL", "PlanarConfiguration": 0}),
    # a binary segmentation: stored as it is (packed bits, Explicit VR Little Endian), so BitsAllocated stays 1
    ("liver_1frame.dcm", {"BitsAllocated": 1, "BitsStored": 1, "HighBit": 0}),
    # JPEG 2000 lossless with the reversible colour transform: OpenJPEG's samples are RGB
    ("GDCMJ2K_TextGBR.dcm", {"PhotometricInterpretation": "RGB"}),
    # lossy JPEG kept in its original encoding: the source's values describe the stored bytes
    ("SC_rgb_dcmtk_+eb+cy+np.dcm", {"PhotometricInterpretation": "YBR_FULL_422"}),
])
def test_the_document_describes_the_stored_frames(servers, name, expected):
    import pydicom

    path = corpus_dir() / name
    if not path.exists():
        pytest.fail(f"{name} is not in pydicom's test files")
    server = servers.start()
    ds = pydicom.dcmread(path)
    r = stow(server, path.read_bytes(), "application/dicom")
    assert r.status == 200, r
    _, _, entry = image_set_of(server.client(), SEED_DATASTORE, str(ds.SOPInstanceUID))
    for keyword, want in expected.items():
        assert entry["DICOM"][keyword] == want, (name, keyword, entry["DICOM"].get(keyword))
    # The stored frames are the samples pydicom decodes without colour conversion (so the values above describe
    # them): pydicom would otherwise turn YBR into RGB.
    checksums = [f["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"] for f in entry["ImageFrames"]]
    if entry["StoredTransferSyntaxUID"] != "1.2.840.10008.1.2.4.50":
        ds.pixel_array_options(as_rgb=False)
        array = ds.pixel_array
        if int(getattr(ds, "NumberOfFrames", 1) or 1) == 1:
            array = array[None, ...]
        dtype = f"<u{1 if ds.BitsAllocated <= 8 else 2}"
        assert checksums == [zlib.crc32(frame.astype(dtype).tobytes()) for frame in array], name


def test_a_store_of_more_parts_than_one_batch_keeps_every_instance_in_order(servers):
    """300 instances of one series (more than the 256 parts the server hands to the import pool at once): every one
    referenced in request order, all in the series' one primary image set."""
    server = servers.start()
    first = instance()
    datasets = [first] + [instance(StudyInstanceUID=first.StudyInstanceUID, SeriesInstanceUID=first.SeriesInstanceUID)
                          for _ in range(299)]
    answer = server.dicomweb(SEED_DATASTORE).store_instances(datasets)
    assert [i.ReferencedSOPInstanceUID for i in answer.ReferencedSOPSequence] == [d.SOPInstanceUID for d in datasets]
    assert "FailedSOPSequence" not in answer
    summaries = search_all(server.client(), SEED_DATASTORE)
    holding = [s for s in summaries if s["DICOMTags"].get("DICOMSeriesInstanceUID") == first.SeriesInstanceUID
               or s["DICOMTags"].get("DICOMStudyInstanceUID") == first.StudyInstanceUID]
    assert len(holding) == 1, holding
    doc = metadata(server.client(), SEED_DATASTORE, holding[0]["imageSetId"])
    assert len(doc["Study"]["Series"][first.SeriesInstanceUID]["Instances"]) == 300


def test_after_the_answer_qido_and_wado_see_the_instances(servers):
    """Synchronous: right after StoreDICOM answers, QIDO-RS finds every instance and WADO-RS returns it."""
    import pydicom

    server = servers.start()
    client = server.dicomweb(SEED_DATASTORE)
    datasets = [pydicom.dcmread(p) for p in corpus_files(["CT_small.dcm", "MR_small.dcm", "SC_rgb_rle.dcm"])]
    client.store_instances(datasets)
    for ds in datasets:
        found = client.search_for_instances(study_instance_uid=str(ds.StudyInstanceUID))
        assert str(ds.SOPInstanceUID) in {pydicom.Dataset.from_json(f).SOPInstanceUID for f in found}
        got = client.retrieve_instance(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
        assert got.SOPInstanceUID == ds.SOPInstanceUID


@pytest.mark.parametrize("name", ["ExplVR_BigEnd.dcm", "SC_ybr_full_422_uncompressed.dcm", "liver_1frame.dcm",
                                  "GDCMJ2K_TextGBR.dcm"])
def test_a_rebuilt_part10_is_self_consistent(servers, name):
    """Stored by STOW, read back whole by GetDICOMInstance (Explicit VR Little Endian) and decoded by pydicom, a
    third-party rebuilder: PhotometricInterpretation, PlanarConfiguration and BitsAllocated agree with the pixel
    data, whose samples are the source's (as pydicom decodes the source without colour conversion)."""
    import numpy as np
    import pydicom

    path = corpus_dir() / name
    server = servers.start()
    client = server.dicomweb(SEED_DATASTORE)
    source = pydicom.dcmread(path)
    client.store_instances([source])
    rebuilt = client.retrieve_instance(str(source.StudyInstanceUID), str(source.SeriesInstanceUID),
                                       str(source.SOPInstanceUID), media_types=(("application/dicom", "1.2.840.10008.1.2.1"),))
    rows, cols, spp = int(rebuilt.Rows), int(rebuilt.Columns), int(rebuilt.SamplesPerPixel)
    frames = int(getattr(rebuilt, "NumberOfFrames", 1) or 1)
    bits = int(rebuilt.BitsAllocated)
    expected_bytes = rows * cols * spp * frames * bits // 8
    assert len(rebuilt.PixelData) in (expected_bytes, expected_bytes + 1), (name, len(rebuilt.PixelData), expected_bytes)
    if spp == 3:
        assert int(rebuilt.PlanarConfiguration) == 0, name
    source.pixel_array_options(as_rgb=False)
    rebuilt.pixel_array_options(as_rgb=False)
    want, got = source.pixel_array, rebuilt.pixel_array
    if str(source.PhotometricInterpretation) in ("YBR_RCT", "YBR_ICT"):
        assert str(rebuilt.PhotometricInterpretation) == "RGB", name
    assert np.array_equal(got.astype(np.int64), want.astype(np.int64)), name
