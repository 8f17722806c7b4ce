"""GetImageFrame with real decoders: every frame a fixture-seeded document lists is fetched with boto3 and the
aws CLI, decoded with OpenJPEG (pylibjpeg-openjpeg, auto-detected and forced JP2-family as AWS's SDK example
does) and with OpenJPH's ojph_expand (after unwrapping the JPH file, at every resolution level), and checked
against the metadata's CRC-32 per level and against the emulator's synthetic source pixels (ported below)."""
import gzip
import json
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from openjpeg.utils import decode

from conftest import boto_client, hex_id, raw_request, run_cli

DS = hex_id(0xF1, "f")
DS_J2K = hex_id(0xF2, "f")
DEFAULT_SET = hex_id(1, "a")      # no metadata: the emulator's default 512x512 CT document
RGB_SET = hex_id(2, "a")          # 8-bit RGB, two frames
SIGNED_SET = hex_id(3, "a")       # signed 16-bit, odd size
J2K_SET = hex_id(4, "b")          # in a JPEG_2000_LOSSLESS datastore
OTHER_SET = hex_id(5, "a")


def version1(image_set_id):
    return [{"imageSetId": image_set_id, "versionId": "1", "imageSetState": "ACTIVE",
             "ImageSetWorkflowStatus": "CREATED", "createdAt": 1680027126.436}]


def document(image_set_id, datastore_id, *, rows, columns, bits, stored, signed, samples, frames):
    instance = {
        "DICOM": {"SOPInstanceUID": f"1.2.3.{int(image_set_id[-4:], 16)}", "Rows": rows, "Columns": columns,
                  "BitsAllocated": bits, "BitsStored": stored, "HighBit": stored - 1,
                  "PixelRepresentation": 1 if signed else 0, "SamplesPerPixel": samples,
                  "PhotometricInterpretation": "RGB" if samples == 3 else "MONOCHROME2"},
        "ImageFrames": [{"ID": frame_id, "PixelDataChecksumFromBaseToFullResolution": [],
                         "MinPixelValue": 0, "MaxPixelValue": 0, "FrameSizeInBytes": 0} for frame_id in frames],
    }
    return {"SchemaVersion": "1.1", "DatastoreID": datastore_id, "ImageSetID": image_set_id,
            "Patient": {"DICOM": {"PatientID": "P-" + image_set_id[:6]}},
            "Study": {"DICOM": {"StudyInstanceUID": "1.2.3"},
                      "Series": {"1.2.3.4": {"DICOM": {"Modality": "OT", "SeriesInstanceUID": "1.2.3.4"},
                                             "Instances": {instance["DICOM"]["SOPInstanceUID"]: instance}}}}}


def seeded(image_set_id, datastore_id, **geometry):
    return {"imageSetId": image_set_id, "versions": version1(image_set_id),
            "metadata": document(image_set_id, datastore_id, **geometry)}


GEOMETRY = {
    RGB_SET: dict(rows=48, columns=64, bits=8, stored=8, signed=False, samples=3,
                  frames=[hex_id(0x21, "c"), hex_id(0x22, "c")]),
    SIGNED_SET: dict(rows=150, columns=101, bits=16, stored=16, signed=True, samples=1, frames=[hex_id(0x31, "c")]),
    J2K_SET: dict(rows=96, columns=80, bits=16, stored=12, signed=False, samples=1, frames=[hex_id(0x41, "c")]),
}
DEFAULT_GEOMETRY = dict(rows=512, columns=512, bits=16, stored=12, signed=False, samples=1)


def fixture():
    return [
        {"datastoreId": DS, "datastoreName": "frames", "imageSets": [
            {"imageSetId": DEFAULT_SET, "versions": version1(DEFAULT_SET)},
            seeded(RGB_SET, DS, **GEOMETRY[RGB_SET]),
            seeded(SIGNED_SET, DS, **GEOMETRY[SIGNED_SET]),
            {"imageSetId": OTHER_SET, "versions": version1(OTHER_SET)},
        ]},
        {"datastoreId": DS_J2K, "datastoreName": "frames-j2k", "losslessStorageFormat": "JPEG_2000_LOSSLESS",
         "imageSets": [seeded(J2K_SET, DS_J2K, **GEOMETRY[J2K_SET])]},
    ]


@pytest.fixture(scope="module")
def frames_server(tmp_path_factory):
    from conftest import ServerFactory
    factory = ServerFactory(tmp_path_factory.mktemp("frames"))
    server = factory.start_with(fixture())
    yield server
    factory.stop_all()


# ---------------------------------------------------------------------------
# The emulator's synthetic pixels, ported (Sources/HealthImagingDICOM/Imaging/SyntheticFrame.swift).
# ---------------------------------------------------------------------------
M64 = (1 << 64) - 1


def synthetic(frame_id, rows, columns, bits, stored, signed, samples, **_):
    seed = 0xCBF29CE484222325
    for byte in frame_id.encode():
        seed = ((seed ^ byte) * 0x100000001B3) & M64
    low = -(1 << (stored - 1)) if signed else 0
    high = (1 << (stored - 1)) - 1 if signed else (1 << stored) - 1
    span = float(high - low)
    cx = columns * (0.4 + (seed % 20) / 100)
    cy = rows * (0.4 + ((seed >> 8) % 20) / 100)
    radius = min(rows, columns) * 0.3
    out = []
    for y in range(rows):
        for x in range(columns):
            dx, dy = x - cx, y - cy
            inside = dx * dx + dy * dy <= radius * radius
            base = 0.15 + 0.25 * (x + y) / (columns + rows) + (0.4 if inside else 0)
            for c in range(samples):
                seed ^= (seed << 13) & M64
                seed ^= seed >> 7
                seed ^= (seed << 17) & M64
                noise = (seed % 64) / 64 * 0.02
                level = min(1.0, base + noise + c * 0.05)
                out.append(low + int(level * span))
    dtype = ({8: np.int8, 16: np.int16} if signed else {8: np.uint8, 16: np.uint16})[bits]
    array = np.array(out, dtype=np.int64).astype(dtype)
    return array.reshape((rows, columns, samples) if samples == 3 else (rows, columns))


# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------
def metadata(client, datastore_id, image_set_id):
    body = client.get_image_set_metadata(datastoreId=datastore_id, imageSetId=image_set_id)["imageSetMetadataBlob"].read()
    try:
        body = gzip.decompress(body)
    except OSError:
        pass
    return json.loads(body)


def instances(doc):
    for series in doc["Study"]["Series"].values():
        for instance in series["Instances"].values():
            yield instance


def get_frame(client, datastore_id, image_set_id, frame_id):
    response = client.get_image_frame(datastoreId=datastore_id, imageSetId=image_set_id,
                                      imageFrameInformation={"imageFrameId": frame_id})
    return response["contentType"], response["imageFrameBlob"].read()


def crc(array):
    return zlib.crc32(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def unwrap_jph(data):
    """The jp2c box's payload; checks the box sequence on the way."""
    offset, kinds = 0, []
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        kinds.append(kind)
        if kind == b"jp2c":
            assert kinds[:3] == [b"jP  ", b"ftyp", b"jp2h"], kinds
            return data[offset + 8: offset + length if length else len(data)]
        offset += length
    raise AssertionError(f"no jp2c box in {kinds}")


def ojph_expand(codestream, tmp_path, skip, samples):
    source = tmp_path / "frame.j2c"
    source.write_bytes(codestream)
    target = tmp_path / ("out.ppm" if samples == 3 else "out.pgm")
    subprocess.run(["ojph_expand", "-i", str(source), "-o", str(target), "-skip_res", f"{skip},{skip}"],
                   check=True, capture_output=True, timeout=60)
    return read_pnm(target.read_bytes())


def read_pnm(data):
    parts, offset = [], 0
    while len(parts) < 4:
        while data[offset:offset + 1].isspace():
            offset += 1
        end = offset
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[offset:end])
        offset = end
    offset += 1
    magic, width, height, maxval = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    channels = 3 if magic == b"P6" else 1
    dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
    array = np.frombuffer(data, dtype=dtype, count=width * height * channels, offset=offset)
    array = array.astype(dtype.newbyteorder("<") if maxval > 255 else dtype)
    return array.reshape((height, width, channels) if channels == 3 else (height, width))


ojph_missing = shutil.which("ojph_expand") is None


# ---------------------------------------------------------------------------
# Tests.
# ---------------------------------------------------------------------------
def test_every_fixture_frame_decodes_to_its_checksums_and_source(frames_server, tmp_path):
    client = boto_client(frames_server.url)
    checked = 0
    for datastore_id, image_set_id, geometry in [(DS, DEFAULT_SET, DEFAULT_GEOMETRY), (DS, RGB_SET, GEOMETRY[RGB_SET]),
                                                 (DS, SIGNED_SET, GEOMETRY[SIGNED_SET])]:
        doc = metadata(client, datastore_id, image_set_id)
        for instance in instances(doc):
            assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.4.202"
            for entry in instance["ImageFrames"]:
                content_type, body = get_frame(client, datastore_id, image_set_id, entry["ID"])
                assert content_type == "image/jph"
                assert entry["FrameSizeInBytes"] == len(body)
                levels = entry["PixelDataChecksumFromBaseToFullResolution"]
                full = levels[-1]
                assert (full["Width"], full["Height"]) == (geometry["columns"], geometry["rows"])
                assert max(levels[0]["Width"], levels[0]["Height"]) <= 64 or len(levels) == 1
                source = synthetic(entry["ID"], **geometry)
                assert entry["MinPixelValue"] == int(source.min()) and entry["MaxPixelValue"] == int(source.max())
                # OpenJPEG, auto-detected and forced JP2-family (AWS's SDK example: decode(path, 2)).
                auto = decode(body)
                path = tmp_path / "frame.jph"
                path.write_bytes(body)
                forced = decode(str(path), 2)
                for array in (auto, forced):
                    assert array.dtype == source.dtype
                    assert np.array_equal(array, source)
                    assert crc(array) == full["Checksum"]
                # OpenJPH at every resolution level.
                if not ojph_missing:
                    codestream = unwrap_jph(body)
                    for index, level in enumerate(levels):
                        skip = len(levels) - 1 - index
                        array = ojph_expand(codestream, tmp_path, skip, geometry["samples"])
                        if geometry["signed"]:
                            continue  # PGM output is unsigned; the signed frame is checked by OpenJPEG above
                        assert array.shape[:2] == (level["Height"], level["Width"])
                        assert crc(array.astype(source.dtype)) == level["Checksum"], (image_set_id, index)
                checked += 1
    assert checked == 4


def test_aws_cli_writes_the_frame_to_outfile(frames_server, tmp_path):
    client = boto_client(frames_server.url)
    entry = next(instances(metadata(client, DS, DEFAULT_SET)))["ImageFrames"][0]
    out = tmp_path / "cli.jph"
    rc, stdout, stderr = run_cli(frames_server.url, "get-image-frame", "--datastore-id", DS, "--image-set-id",
                                 DEFAULT_SET, "--image-frame-information", f"imageFrameId={entry['ID']}", str(out))
    assert rc == 0, stderr
    assert json.loads(stdout)["contentType"] == "image/jph"
    assert out.read_bytes() == get_frame(client, DS, DEFAULT_SET, entry["ID"])[1]
    assert crc(decode(str(out), 2)) == entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"]


def test_jpeg_2000_lossless_datastore_serves_j2c(frames_server):
    client = boto_client(frames_server.url)
    instance = next(instances(metadata(client, DS_J2K, J2K_SET)))
    assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.4.90"
    entry = instance["ImageFrames"][0]
    content_type, body = get_frame(client, DS_J2K, J2K_SET, entry["ID"])
    assert content_type == "image/j2c"
    assert body[:4] == b"\xff\x4f\xff\x51"
    array = decode(body)
    assert np.array_equal(array, synthetic(entry["ID"], **GEOMETRY[J2K_SET]))
    assert crc(array) == entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"]


def test_validation_and_not_found(frames_server):
    client = boto_client(frames_server.url)
    frame_id = next(instances(metadata(client, DS, DEFAULT_SET)))["ImageFrames"][0]["ID"]
    cases = [
        (DS, DEFAULT_SET, "NOT-VALID", "ValidationException"),
        (DS, DEFAULT_SET, "a" * 31, "ValidationException"),
        (DS, DEFAULT_SET, hex_id(0xDEAD), "ResourceNotFoundException"),
        (DS, OTHER_SET, frame_id, "ResourceNotFoundException"),       # a frame of another image set
        (DS_J2K, DEFAULT_SET, frame_id, "ResourceNotFoundException"),  # ... of another datastore
        (hex_id(0xBAD), DEFAULT_SET, frame_id, "ResourceNotFoundException"),
    ]
    for datastore_id, image_set_id, frame, code in cases:
        with pytest.raises(ClientError) as caught:
            get_frame(client, datastore_id, image_set_id, frame)
        assert caught.value.response["Error"]["Code"] == code, (datastore_id, image_set_id, frame)
    path = f"/datastore/{DS}/imageSet/{DEFAULT_SET}/getImageFrame"
    for body in (b"{}", b'{"imageFrameId": 5}', b'{"imageFrameId": "' + frame_id.encode() + b'", "x": 1}', b"[]"):
        response = raw_request(frames_server.url, "POST", path, body=body,
                               headers={"Content-Type": "application/json"})
        assert response.status == 400, body
        assert response.headers.get("x-amzn-errortype", "").startswith("ValidationException")


def control(url, method, path, payload=None):
    body = json.dumps(payload).encode() if payload is not None else None
    response = raw_request(url, method, f"/_healthimaging/{path}", body=body,
                           headers={"Content-Type": "application/json"} if body else None)
    assert response.status < 300, (path, response.status, response.body)
    return response


def test_fault_rules_and_latency_match_get_image_frame_by_image_set(fresh_server):
    client = boto_client(fresh_server.url)
    seed = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "seed.json").read_text())
    datastore_id = seed["datastores"][0]["datastoreId"]
    image_set_id = seed["datastores"][0]["imageSets"][0]["imageSetId"]
    entry = next(instances(metadata(client, datastore_id, image_set_id)))["ImageFrames"][0]
    control(fresh_server.url, "POST", "faults", {"operation": "GetImageFrame", "imageSetId": image_set_id,
                                                  "error": {"code": "ThrottlingException"}, "times": 1})
    with pytest.raises(ClientError) as caught:
        get_frame(client, datastore_id, image_set_id, entry["ID"])
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert get_frame(client, datastore_id, image_set_id, entry["ID"])[0] == "image/jph"
    control(fresh_server.url, "POST", "faults", {"operation": "GetImageFrame", "imageSetId": image_set_id,
                                                  "latencyMs": 400, "times": 1})
    started = time.monotonic()
    get_frame(client, datastore_id, image_set_id, entry["ID"])
    assert time.monotonic() - started >= 0.35  # the injected 400 ms, less a loop timer's granularity


def test_corrupt_frame_outcome_breaks_the_checksum_once(frames_server):
    client = boto_client(frames_server.url)
    entry = next(instances(metadata(client, DS, RGB_SET)))["ImageFrames"][0]
    expected = entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"]
    control(frames_server.url, "POST", "outcomes", {"operation": "GetImageFrame", "datastoreId": DS, "imageSetId": RGB_SET})
    content_type, body = get_frame(client, DS, RGB_SET, entry["ID"])
    assert content_type == "image/jph"
    assert crc(decode(body)) != expected          # decodes, but the pixels are not the stored ones
    assert crc(decode(get_frame(client, DS, RGB_SET, entry["ID"])[1])) == expected  # one-shot


def test_copy_carries_frames_and_deleted_image_sets_serve_none(frames_server):
    client = boto_client(frames_server.url)
    source = metadata(client, DS, SIGNED_SET)
    frame_id = next(instances(source))["ImageFrames"][0]["ID"]
    copied = client.copy_image_set(datastoreId=DS, sourceImageSetId=SIGNED_SET,
                                   copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"}})
    destination = copied["destinationImageSetProperties"]["imageSetId"]
    for _ in range(50):
        if client.get_image_set(datastoreId=DS, imageSetId=destination)["imageSetState"] == "ACTIVE":
            break
        time.sleep(0.05)
    copied_doc = metadata(client, DS, destination)
    entry = next(instances(copied_doc))["ImageFrames"][0]
    assert entry["ID"] == frame_id
    body = get_frame(client, DS, destination, frame_id)[1]
    assert body == get_frame(client, DS, SIGNED_SET, frame_id)[1]
    assert crc(decode(body)) == entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"]
    client.delete_image_set(datastoreId=DS, imageSetId=destination)
    for _ in range(50):
        if client.get_image_set(datastoreId=DS, imageSetId=destination)["imageSetState"] == "DELETED":
            break
        time.sleep(0.05)
    with pytest.raises(ClientError) as caught:
        get_frame(client, DS, destination, frame_id)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert get_frame(client, DS, SIGNED_SET, frame_id)[1] == body  # the source's frame is untouched


def test_export_reset_load_serves_the_same_frames(fresh_server):
    url = fresh_server.url
    client = boto_client(url)
    control(url, "POST", "fixtures", {"datastores": fixture()})
    entry = next(instances(metadata(client, DS, RGB_SET)))["ImageFrames"][1]
    before = get_frame(client, DS, RGB_SET, entry["ID"])
    exported = control(url, "GET", "fixtures").json()
    control(url, "POST", "reset", {"to": "empty"})
    control(url, "POST", "fixtures", exported)
    assert get_frame(client, DS, RGB_SET, entry["ID"]) == before
    assert next(instances(metadata(client, DS, RGB_SET)))["ImageFrames"][1] == entry


def test_fixture_frames_are_carried_through_export_and_load(fresh_server):
    """A frame given in a fixture's `frames` member (as export writes imported ones) is served as given, listed
    in the export (synthetic ones are not: they are regenerated), and served again after reset + load."""
    import base64
    url = fresh_server.url
    client = boto_client(url)
    control(url, "POST", "fixtures", {"datastores": fixture()})
    donor = next(instances(metadata(client, DS, RGB_SET)))["ImageFrames"][0]
    _, body = get_frame(client, DS, RGB_SET, donor["ID"])
    carried_set, carried_id = hex_id(0x77, "d"), hex_id(0x78, "e")
    doc = document(carried_set, DS, **{**GEOMETRY[RGB_SET], "frames": [carried_id]})
    frame = {"imageFrameId": carried_id, "storedTransferSyntaxUID": "1.2.840.10008.1.2.4.202",
             "contentType": "image/jph", "data": base64.b64encode(body).decode(),
             "pixelDataChecksumFromBaseToFullResolution": donor["PixelDataChecksumFromBaseToFullResolution"],
             "minPixelValue": donor["MinPixelValue"], "maxPixelValue": donor["MaxPixelValue"]}
    extra = [{"datastoreId": hex_id(0xF3, "f"), "datastoreName": "carried", "imageSets": [
        {"imageSetId": carried_set, "versions": version1(carried_set), "metadata": doc, "frames": [frame]}]}]
    control(url, "POST", "fixtures", {"datastores": extra})
    ds = extra[0]["datastoreId"]
    assert get_frame(client, ds, carried_set, carried_id) == ("image/jph", body)
    entry = next(instances(metadata(client, ds, carried_set)))["ImageFrames"][0]
    assert entry["PixelDataChecksumFromBaseToFullResolution"] == donor["PixelDataChecksumFromBaseToFullResolution"]
    assert entry["FrameSizeInBytes"] == len(body)
    exported = control(url, "GET", "fixtures").json()
    by_set = {s["imageSetId"]: s for d in exported["datastores"] for s in d["imageSets"]}
    assert [f["imageFrameId"] for f in by_set[carried_set]["frames"]] == [carried_id]
    assert "frames" not in by_set[RGB_SET]  # synthetic: regenerated on load, not carried
    control(url, "POST", "reset", {"to": "empty"})
    control(url, "POST", "fixtures", exported)
    assert get_frame(client, ds, carried_set, carried_id) == ("image/jph", body)
    bad = {"datastores": [{"datastoreId": hex_id(0xF4, "f"), "imageSets": [
        {"imageSetId": carried_set, "versions": version1(carried_set), "frames": [{**frame, "data": "%%%"}]}]}]}
    response = raw_request(url, "POST", "/_healthimaging/fixtures", body=json.dumps(bad).encode(),
                           headers={"Content-Type": "application/json"})
    assert response.status == 400 and b"base64" in response.body
