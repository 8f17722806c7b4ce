"""The DICOMweb read side next to a reference server: Orthanc with its DICOMweb plugin (Debian `orthanc`,
`orthanc-dicomweb`; scripts/install-deps installs them), started on a free port with a temporary configuration, the
same corpus stored in both (Orthanc through its REST `POST /instances`, the emulator through the import shortcut), then
QIDO answers at every level and instance metadata compared on the standard attributes with the same client
(dicomweb_client). Every difference that remains is one HealthImaging's documented behaviour explains, listed in
EXPLAINED and in docs/dicomweb.md "Compared with Orthanc"."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from import_helpers import CI_SLICE, corpus_files, free_port
from test_dicomweb_read import LOSSLESS_SOURCES, create_datastore, seed

pytestmark = pytest.mark.timeout(300)

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

STUDY_KEYS = ["00080020", "00080030", "00080050", "00100010", "00100020", "00100030", "00100040", "0020000D",
              "00200010", "00201206", "00201208"]
SERIES_KEYS = ["00080060", "0020000E", "00200011", "00201209", "0020000D"]
INSTANCE_KEYS = ["00080016", "00080018", "00200013", "00280010", "00280011", "00280100", "0020000D", "0020000E"]

# Instance-metadata tags allowed to differ, for documented reasons (docs/dicomweb.md "Compared with Orthanc"); on the
# CI slice none of them differs on a tag both servers report (Orthanc leaves out group 0002).
EXPLAINED = {
    "00020010",  # TransferSyntaxUID: HealthImaging reports the STORED syntax (HTJ2K), Orthanc the source file's
    "00080005",  # SpecificCharacterSet: the metadata document holds UTF-8, reported as ISO_IR 192
    "00280006",  # PlanarConfiguration: stored frames are interleaved (self-consistent metadata, stow's section)
    "00280004",  # PhotometricInterpretation: YBR_FULL_422 sources are stored expanded (same section)
    "00280100", "00280101", "00280102",  # BitsAllocated/Stored/HighBit of unpacked 1-bit segmentations
}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    if not (Path(ORTHANC).exists() and Path(PLUGIN).exists()):
        pytest.fail("Orthanc and its DICOMweb plugin are missing: run scripts/install-deps (apt: orthanc orthanc-dicomweb)")
    root = tmp_path_factory.mktemp("orthanc")
    port = free_port()
    config = {
        "Name": "hil-reference", "HttpPort": port, "DicomPort": free_port(), "DicomServerEnabled": False,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "StorageDirectory": str(root / "storage"), "IndexDirectory": str(root / "storage"),
        "Plugins": [PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    log = open(root / "orthanc.log", "wb")
    process = subprocess.Popen([ORTHANC, str(root / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/system", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, (root / "orthanc.log").read_text()
            assert time.monotonic() < deadline, "Orthanc did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def both(orthanc, tmp_path_factory):
    from conftest import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("dicomweb-vs-orthanc"))
    server = factory.start(fixtures=())
    datastore_id = create_datastore(server.url)
    files = corpus_files(CI_SLICE)
    answers = seed(server.url, datastore_id, files)
    # The same files in Orthanc, except those the emulator put in non-primary image sets, which HealthImaging's
    # QIDO never shows (documented): the comparison is on what both servers are meant to answer.
    primary = [p for p in files if answers[p.name]["isPrimary"]]
    for path in primary:
        r = requests.post(orthanc + "/instances", data=path.read_bytes(), timeout=30)
        assert r.ok, (path.name, r.status_code, r.text[:200])
    hil = DICOMwebClient(url=f"{server.url}/datastore/{datastore_id}")
    ref = DICOMwebClient(url=orthanc + "/dicom-web")
    yield hil, ref, primary
    factory.stop_all()


def values(item: dict, keys: list[str]) -> dict:
    out = {}
    for key in keys:
        value = item.get(key, {}).get("Value")
        if value:
            out[key] = value
    return out


def by(items: list[dict], *keys: str) -> dict:
    return {tuple(item[k]["Value"][0] for k in keys): item for item in items}


def test_qido_answers_match_orthanc_at_every_level(both):
    hil, ref, primary = both
    ours, theirs = by(hil.search_for_studies(), "0020000D"), by(ref.search_for_studies(), "0020000D")
    assert ours.keys() == theirs.keys()
    for uid in ours:
        assert values(ours[uid], STUDY_KEYS) == values(theirs[uid], STUDY_KEYS), uid
        assert set(ours[uid]["00080061"]["Value"]) == set(theirs[uid]["00080061"]["Value"])
        ours_series = by(hil.search_for_series(uid[0]), "0020000E")
        theirs_series = by(ref.search_for_series(uid[0]), "0020000E")
        assert ours_series.keys() == theirs_series.keys()
        for key in ours_series:
            assert values(ours_series[key], SERIES_KEYS) == values(theirs_series[key], SERIES_KEYS), key
            ours_instances = by(hil.search_for_instances(uid[0], key[0]), "00080018")
            theirs_instances = by(ref.search_for_instances(uid[0], key[0]), "00080018")
            assert ours_instances.keys() == theirs_instances.keys()
            for sop in ours_instances:
                assert values(ours_instances[sop], INSTANCE_KEYS) == values(theirs_instances[sop], INSTANCE_KEYS), sop
    # relational searches and matching give the same sets
    assert by(hil.search_for_series(), "0020000E").keys() == by(ref.search_for_series(), "0020000E").keys()
    assert by(hil.search_for_instances(), "00080018").keys() == by(ref.search_for_instances(), "00080018").keys()
    ct = pydicom.dcmread([p for p in primary if p.name == "CT_small.dcm"][0])
    for filters in ({"PatientID": str(ct.PatientID)}, {"StudyDate": f"{ct.StudyDate}-"}, {"ModalitiesInStudy": "MR"}):
        assert by(hil.search_for_studies(search_filters=filters), "0020000D").keys() == \
            by(ref.search_for_studies(search_filters=filters), "0020000D").keys(), filters
    # Wildcards: Orthanc 1.10 / DICOMweb 1.7 does not percent-decode `%2A` (how dicomweb-client sends `*`), so its
    # side is asked with a literal `*` / `?` in the URL; the emulator decodes both forms.
    for pattern in (str(ct.PatientID)[:2] + "*", "?" + str(ct.PatientID)[1:], "*"):
        theirs = requests.get(f"{ref.base_url}/studies?PatientID={pattern}", timeout=30).json()
        ours_literal = hil._session.get(f"{hil.base_url}/studies?PatientID={pattern}", timeout=30).json()
        assert by(hil.search_for_studies(search_filters={"PatientID": pattern}), "0020000D").keys() == \
            by(theirs, "0020000D").keys() == by(ours_literal, "0020000D").keys(), pattern


def same(a: dict, b: dict) -> bool:
    """Equal values; FL values as 32-bit floats (the emulator writes a float's shortest text, -11.2, Orthanc its
    double expansion, -11.199999809265137: the same FL)."""
    if a["Value"] == b["Value"]:
        return True
    if a.get("vr") == "FL" and len(a["Value"]) == len(b["Value"]):
        import numpy as np
        return bool(np.array_equal(np.float32(a["Value"]), np.float32(b["Value"])))
    return False


def test_instance_metadata_matches_orthanc_on_common_tags(both):
    hil, ref, primary = both
    unexplained = {}
    compared = 0
    for path in primary:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        uids = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
        ours = hil.retrieve_instance_metadata(*uids)
        theirs = ref.retrieve_instance_metadata(*uids)
        for tag in ours.keys() & theirs.keys():
            a, b = ours[tag], theirs[tag]
            if "Value" not in a or "Value" not in b or a.get("vr") == "SQ":
                continue
            compared += 1
            if not same(a, b) and tag not in EXPLAINED:
                unexplained.setdefault(tag, []).append((path.name, a["Value"][:3], b["Value"][:3]))
        if "PixelData" in pydicom.dcmread(path) and str(ds.file_meta.TransferSyntaxUID) in LOSSLESS_SOURCES:
            assert ours["00020010"]["Value"] == ["1.2.840.10008.1.2.4.202"], path.name  # stored, not the source's
    assert compared > 200
    assert unexplained == {}, json.dumps(unexplained, indent=1, default=str)[:3000]
