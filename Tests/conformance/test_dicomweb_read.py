"""DICOMweb read side (docs/dicomweb.md): QIDO-RS and WADO-RS driven with the real, unmodified
dicomweb_client.DICOMwebClient against a datastore seeded through the import shortcut with pydicom's bundled test
files, plus raw HTTP for what a client library hides (Accept lists, 406, malformed UIDs / frame lists / paging,
bearer tokens)."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from requests.exceptions import HTTPError

from conftest import boto_client, raw_request
from import_helpers import CI_SLICE, corpus_files, post_dicom
from lifecycle_helpers import control

pytestmark = pytest.mark.timeout(300)

HTJ2K = "1.2.840.10008.1.2.4.202"
ELE = "1.2.840.10008.1.2.1"
OHIF_ACCEPT = ("multipart/related; type=image/jphc; transfer-syntax=1.2.840.10008.1.2.4.202, multipart/related; "
               "type=image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90, multipart/related; type=image/jpeg; "
               "transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type=application/octet-stream; "
               "transfer-syntax=1.2.840.10008.1.2.1")
LOSSLESS_SOURCES = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5",
                    "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.70",
                    "1.2.840.10008.1.2.4.57"}


def create_datastore(url: str, authorizer: str | None = None) -> str:
    client = boto_client(url)
    kwargs = {"lambdaAuthorizerArn": authorizer} if authorizer else {}
    datastore_id = client.create_datastore(datastoreName="dicomweb", clientToken=str(time.monotonic_ns()), **kwargs)["datastoreId"]
    for _ in range(100):
        if client.get_datastore(datastoreId=datastore_id)["datastoreProperties"]["datastoreStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    return datastore_id


def seed(url: str, datastore_id: str, files) -> dict:
    """Imports each file through the synchronous import shortcut; returns name → import answer."""
    answers = {}
    for path in files:
        r = post_dicom(url, datastore_id, path.read_bytes(), path.name)
        assert r.status in (200, 201), (path.name, r.status, r.body[:300])
        answers[path.name] = json.loads(r.body)
    return answers


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from conftest import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("dicomweb"))
    server = factory.start(fixtures=())
    datastore_id = create_datastore(server.url)
    files = corpus_files(CI_SLICE + ["SC_rgb_jpeg_dcmtk.dcm", "examples_ybr_color.dcm"])
    assert len(files) >= 10
    answers = seed(server.url, datastore_id, files)
    datasets = {p.name: pydicom.dcmread(p) for p in files}
    client = DICOMwebClient(url=f"{server.url}/datastore/{datastore_id}")
    yield server, datastore_id, client, datasets, answers
    factory.stop_all()


def uids(ds):
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def value(item: dict, tag: str):
    return (item.get(tag, {}).get("Value") or [None])[0]


def primary_datasets(datasets, answers):
    return {name: ds for name, ds in datasets.items() if answers[name]["isPrimary"]}


# ---- QIDO-RS ---------------------------------------------------------------------------------------------------


def test_search_every_level_matches_the_corpus(seeded):
    server, datastore_id, client, datasets, answers = seeded
    primary = primary_datasets(datasets, answers)
    studies = {str(ds.StudyInstanceUID) for ds in primary.values()}
    series = {(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)) for ds in primary.values()}
    sops = {str(ds.SOPInstanceUID) for ds in primary.values()}

    found = client.search_for_studies()
    assert {value(s, "0020000D") for s in found} == studies
    for study in found:
        uid = value(study, "0020000D")
        expected_series = {se for st, se in series if st == uid}
        assert value(study, "00201206") == len(expected_series)
        assert value(study, "00201208") == len({str(d.SOPInstanceUID) for d in primary.values() if str(d.StudyInstanceUID) == uid})
        assert value(study, "00081190") == f"{server.url}/datastore/{datastore_id}/studies/{uid}"
        modalities = {str(d.Modality) for d in primary.values() if str(d.StudyInstanceUID) == uid}
        assert set(study["00080061"]["Value"]) == modalities
        # per-study series and instances (SearchDICOMSeries, SearchDICOMStudyInstances)
        assert {value(s, "0020000E") for s in client.search_for_series(uid)} == expected_series
        assert {value(i, "00080018") for i in client.search_for_instances(uid)} == \
            {str(d.SOPInstanceUID) for d in primary.values() if str(d.StudyInstanceUID) == uid}

    assert {(value(s, "0020000D"), value(s, "0020000E")) for s in client.search_for_series()} == series
    assert {value(i, "00080018") for i in client.search_for_instances()} == sops
    for st, se in series:
        got = client.search_for_instances(st, se)
        assert {value(i, "00080018") for i in got} == \
            {str(d.SOPInstanceUID) for d in primary.values() if (str(d.StudyInstanceUID), str(d.SeriesInstanceUID)) == (st, se)}
        numbers = [value(i, "00200013") for i in got if value(i, "00200013") is not None]
        assert numbers == sorted(numbers)  # InstanceNumber ascending

    # Non-primary image sets are not searchable.
    hidden = {str(ds.SOPInstanceUID) for name, ds in datasets.items() if not answers[name]["isPrimary"]} - sops
    assert not hidden & {value(i, "00080018") for i in client.search_for_instances()}


def test_search_matching_wildcards_ranges_fuzzy_includefield_paging(seeded):
    server, datastore_id, client, datasets, answers = seeded
    ct = datasets["CT_small.dcm"]
    patient_id = str(ct.PatientID)
    by_id = client.search_for_studies(search_filters={"PatientID": patient_id})
    assert [value(s, "0020000D") for s in by_id] == [str(ct.StudyInstanceUID)]
    # wildcards: * and ?
    assert value(client.search_for_studies(search_filters={"PatientID": patient_id[:3] + "*"})[0], "0020000D")
    assert client.search_for_studies(search_filters={"PatientID": "?" + patient_id[1:]}) == by_id
    assert client.search_for_studies(search_filters={"PatientID": patient_id + "?"}) == []
    # date ranges (open and closed) with the tag form of the key
    date = str(ct.StudyDate)
    assert str(ct.StudyInstanceUID) in {value(s, "0020000D") for s in client.search_for_studies(search_filters={"00080020": f"{date}-{date}"})}
    assert str(ct.StudyInstanceUID) in {value(s, "0020000D") for s in client.search_for_studies(search_filters={"StudyDate": f"-{date}"})}
    assert str(ct.StudyInstanceUID) not in {value(s, "0020000D") for s in client.search_for_studies(search_filters={"StudyDate": f"{int(date) + 1}-"})}
    # fuzzy matching on person names: a case-insensitive prefix of any name component
    family = str(ct.PatientName).split("^")[0]
    fuzzy = client.search_for_studies(search_filters={"PatientName": family[:3].lower()}, fuzzymatching=True)
    assert str(ct.StudyInstanceUID) in {value(s, "0020000D") for s in fuzzy}
    assert client.search_for_studies(search_filters={"PatientName": family[1:4].lower()}, fuzzymatching=True) == [] or \
        str(ct.StudyInstanceUID) not in {value(s, "0020000D") for s in client.search_for_studies(
            search_filters={"PatientName": family[1:4].lower()}, fuzzymatching=True)}
    # includefield: keyword, tag, all
    plain = client.search_for_instances(search_filters={"SOPInstanceUID": str(ct.SOPInstanceUID)})[0]
    assert "00180050" not in plain  # SliceThickness is no default attribute
    keyword = client.search_for_instances(search_filters={"SOPInstanceUID": str(ct.SOPInstanceUID)}, fields=["SliceThickness"])[0]
    assert keyword["00180050"]["vr"] == "DS" and float(keyword["00180050"]["Value"][0]) == float(ct.SliceThickness)
    tag = client.search_for_instances(search_filters={"SOPInstanceUID": str(ct.SOPInstanceUID)}, fields=["00180050"])[0]
    assert tag["00180050"] == keyword["00180050"]
    everything = client.search_for_instances(search_filters={"SOPInstanceUID": str(ct.SOPInstanceUID)}, fields=["all"])[0]
    assert "00180050" in everything and "00100010" in everything and "7FE00010" not in everything
    # paging: limit / offset, an offset past the end is an empty page, get_remaining walks to it
    all_instances = client.search_for_instances()
    page = client.search_for_instances(limit=2, offset=1)
    assert [value(i, "00080018") for i in page] == [value(i, "00080018") for i in all_instances[1:3]]
    assert client.search_for_instances(offset=1_000_000) == []
    walked = client.search_for_instances(limit=2, get_remaining=True)
    assert [value(i, "00080018") for i in walked] == [value(i, "00080018") for i in all_instances]


# ---- WADO-RS ---------------------------------------------------------------------------------------------------


def test_frames_and_instances_round_trip_every_lossless_source_pixel_for_pixel(seeded):
    server, datastore_id, client, datasets, answers = seeded
    checked = 0
    for name, ds in datasets.items():
        if "PixelData" not in ds or str(ds.file_meta.TransferSyntaxUID) not in LOSSLESS_SOURCES:
            continue
        st, se, sop = uids(ds)
        query = {} if answers[name]["isPrimary"] else {"imageSetId": answers[name]["imageSetId"]}
        expected = ds.pixel_array
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        if frames == 1:
            expected = expected[np.newaxis, ...]
        dtype = expected.dtype.newbyteorder("<")
        # GetDICOMInstanceFrames, default Accept → Explicit VR Little Endian samples, frames in request order
        order = list(range(frames, 0, -1))
        parts = client.retrieve_instance_frames(st, se, sop, order, additional_params=query) if query else \
            client.retrieve_instance_frames(st, se, sop, order)
        assert len(parts) == frames, name
        for number, part in zip(order, parts):
            got = np.frombuffer(part, dtype=dtype).reshape(expected[number - 1].shape)
            assert np.array_equal(got, expected[number - 1]), (name, number)
        # GetDICOMInstance as Explicit VR Little Endian, rebuilt with DCMTK, read by pydicom
        rebuilt = client.retrieve_instance(st, se, sop, media_types=(("application/dicom", ELE),),
                                           **({"additional_params": query} if query else {}))
        assert str(rebuilt.file_meta.TransferSyntaxUID) == ELE
        assert np.array_equal(rebuilt.pixel_array, ds.pixel_array), name
        assert str(rebuilt.SOPInstanceUID) == sop and str(rebuilt.PatientID) == str(ds.PatientID)
        # and as stored (HTJ2K), decoded by pydicom's HTJ2K-capable plugin
        stored = client.retrieve_instance(st, se, sop, **({"additional_params": query} if query else {}))
        assert str(stored.file_meta.TransferSyntaxUID) == HTJ2K
        assert np.array_equal(stored.pixel_array, ds.pixel_array), name
        checked += 1
    assert checked >= 8, checked


def test_metadata_reports_the_stored_syntax_and_refuses_image_accepts(seeded):
    server, datastore_id, client, datasets, answers = seeded
    ct = datasets["CT_small.dcm"]
    st, se, sop = uids(ct)
    meta = client.retrieve_instance_metadata(st, se, sop)
    assert meta["00020010"]["Value"] == [HTJ2K]
    assert meta["00100020"]["Value"] == [str(ct.PatientID)]
    assert meta["00280010"]["Value"] == [int(ct.Rows)]
    series = client.retrieve_series_metadata(st, se)
    assert {value(i, "00080018") for i in series} == {sop}
    path = f"/datastore/{datastore_id}/studies/{st}/series/{se}/metadata"
    none = raw_request(server.url, "GET", path)
    assert none.status == 200 and none.headers["content-type"] == "application/dicom+json"
    refused = raw_request(server.url, "GET", path, headers={"Accept": OHIF_ACCEPT})
    assert refused.status == 406 and refused.headers["x-amzn-errortype"] == "NotAcceptableException"
    assert json.loads(refused.body)["__type"] == "NotAcceptableException"


def test_frame_negotiation_accept_lists(seeded):
    server, datastore_id, client, datasets, answers = seeded
    ct = datasets["CT_small.dcm"]
    st, se, sop = uids(ct)
    path = f"/datastore/{datastore_id}/studies/{st}/series/{se}/instances/{sop}/frames/1"
    # OHIF's list: the first range the stored HTJ2K satisfies is image/jphc, a bare codestream (SOC marker)
    ohif = raw_request(server.url, "GET", path, headers={"Accept": OHIF_ACCEPT})
    assert ohif.status == 200
    assert ohif.headers["content-type"].startswith('multipart/related; type="image/jphc"; boundary=')
    assert b"\r\nContent-Type: image/jphc; transfer-syntax=1.2.840.10008.1.2.4.202\r\n\r\n\xff\x4f\xff\x51" in ohif.body
    # unquoted and quoted type, transfer-syntax ELE → octet-stream samples
    for accept in ("multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1",
                   'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1',
                   "multipart/related; type=application/octet-stream", None):
        r = raw_request(server.url, "GET", path, headers={"Accept": accept} if accept else {})
        assert r.status == 200, (accept, r.body[:200])
        assert 'type="application/octet-stream"' in r.headers["content-type"]
        assert len(r.body) > int(ct.Rows) * int(ct.Columns) * 2
    # JPEG 2000 lossless is transcoded from the lossless store
    j2k = raw_request(server.url, "GET", path, headers={"Accept": "multipart/related; type=image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90"})
    assert j2k.status == 200 and b"\xff\x4f\xff\x51" in j2k.body
    # a syntax the stored one cannot give → 406; so is an instance asked as JPEG baseline
    for accept in ("multipart/related; type=image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50",
                   "multipart/related; type=image/jphc; transfer-syntax=1.2.840.10008.1.2.4.203",
                   "text/html"):
        r = raw_request(server.url, "GET", path, headers={"Accept": accept})
        assert r.status == 406, accept
        assert r.headers["x-amzn-errortype"] == "NotAcceptableException"
    instance = raw_request(server.url, "GET", path.rsplit("/frames/", 1)[0],
                           headers={"Accept": "application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50"})
    assert instance.status == 406
    bare = raw_request(server.url, "GET", path.rsplit("/frames/", 1)[0], headers={"Accept": "application/dicom; transfer-syntax=*"})
    assert bare.status == 200 and bare.headers["content-type"] == f"application/dicom; transfer-syntax={HTJ2K}"
    assert bare.body[128:132] == b"DICM"


def test_jpeg_baseline_is_served_as_stored(seeded):
    server, datastore_id, client, datasets, answers = seeded
    lossy = [(n, d) for n, d in datasets.items() if str(d.file_meta.TransferSyntaxUID) == "1.2.840.10008.1.2.4.50"]
    if not lossy:
        pytest.skip("no JPEG baseline file in the slice")
    name, ds = lossy[0]
    st, se, sop = uids(ds)
    path = f"/datastore/{datastore_id}/studies/{st}/series/{se}/instances/{sop}/frames/1"
    r = raw_request(server.url, "GET", path, headers={"Accept": OHIF_ACCEPT})
    assert r.status == 200 and 'type="image/jpeg"' in r.headers["content-type"]
    assert raw_request(server.url, "GET", path).status == 406  # no ELE for a lossy original
    # as stored: the original JPEG bytes, which pydicom decodes to the source's pixels
    rebuilt = client.retrieve_instance(st, se, sop)
    assert str(rebuilt.file_meta.TransferSyntaxUID) == "1.2.840.10008.1.2.4.50"
    assert np.array_equal(rebuilt.pixel_array, ds.pixel_array)
    # a multi-frame JPEG: frames in request order, each the original fragment of that frame
    multi = datasets.get("examples_ybr_color.dcm")
    if multi is not None:
        from pydicom.encaps import generate_pixel_data_frame
        originals = list(generate_pixel_data_frame(multi.PixelData, int(multi.NumberOfFrames)))
        st, se, sop = uids(multi)
        got = client.retrieve_instance_frames(st, se, sop, [3, 1, 30], media_types=(("image/jpeg", "1.2.840.10008.1.2.4.50"),))
        assert [bytes(g).rstrip(b"\0") for g in got] == [originals[i].rstrip(b"\0") for i in (2, 0, 29)]


def test_client_mistakes_are_json_400_404(seeded):
    server, datastore_id, client, datasets, answers = seeded
    ct = datasets["CT_small.dcm"]
    st, se, sop = uids(ct)
    base = f"/datastore/{datastore_id}"
    instance = f"{base}/studies/{st}/series/{se}/instances/{sop}"
    cases = [
        (f"{base}/studies/1.2.x/series", 400, "ValidationException"),
        (f"{base}/studies/{st}/series/01.2/instances", 400, "ValidationException"),
        (f"{base}/studies/{'1.' * 40}1/series", 400, "ValidationException"),
        (f"{instance}/frames/0", 400, "ValidationException"),
        (f"{instance}/frames/1,1", 400, "ValidationException"),
        (f"{instance}/frames/1,,2", 400, "ValidationException"),
        (f"{instance}/frames/a", 400, "ValidationException"),
        (f"{instance}/frames/2", 404, "ResourceNotFoundException"),
        (f"{base}/studies?limit=1001", 400, "ValidationException"),
        (f"{base}/studies?limit=0", 400, "ValidationException"),
        (f"{base}/studies?offset=1000001", 400, "ValidationException"),
        (f"{base}/studies?offset=-1", 400, "ValidationException"),
        (f"{base}/studies?StudyDate=2020", 400, "ValidationException"),
        (f"{base}/studies?fuzzymatching=maybe", 400, "ValidationException"),
        (f"{base}/studies?" + "&".join(f"includefield=0008{n:04X}" for n in range(51)), 400, "ValidationException"),
        (f"{base}/studies/{st}/series/{se}/instances/1.2.3/metadata", 404, "ResourceNotFoundException"),
        (f"{base}/studies/1.2.3/series/{se}/metadata", 404, "ResourceNotFoundException"),
        (f"{instance}?imageSetId={'0' * 32}", 404, "ResourceNotFoundException"),
        (f"{instance}?imageSetId=nope", 400, "ValidationException"),
        (f"{instance}/bulkdata/{'0' * 32}", 404, "ResourceNotFoundException"),
        (f"/datastore/{'0' * 32}/studies", 404, "ResourceNotFoundException"),
        (f"{base}/studies/{st}", 404, "UnknownOperationException"),
        (f"{base}/studies/{st}/series/{se}", 404, "UnknownOperationException"),
        (f"{base}/studies/{st}/metadata", 404, "UnknownOperationException"),
        (f"{instance}/rendered", 404, "UnknownOperationException"),
    ]
    for path, status, code in cases:
        r = raw_request(server.url, "GET", path, headers={"Accept": "application/dicom+json"} if "frames" not in path else {})
        assert (r.status, r.headers.get("x-amzn-errortype")) == (status, code), (path, r.status, r.body[:200])
        body = json.loads(r.body)
        assert body["__type"] == code and body["message"] and r.headers["content-type"] == "application/json"
        assert "x-amzn-requestid" in r.headers
    r = raw_request(server.url, "DELETE", f"{base}/studies/{st}")
    assert (r.status, r.headers["x-amzn-errortype"]) == (404, "UnknownOperationException")
    # empty results are 200 [] (what get_remaining needs), and `+` in a query value is a space
    r = raw_request(server.url, "GET", f"{base}/studies?PatientName=No+Such%5EName")
    assert (r.status, r.body) == (200, b"[]")


def test_wildcard_and_plus_decoding_through_the_client(seeded):
    server, datastore_id, client, datasets, answers = seeded
    ct = datasets["CT_small.dcm"]
    description = str(getattr(ct, "StudyDescription", "") or "")
    name = str(ct.PatientName)
    assert client.search_for_studies(search_filters={"PatientName": name})  # ^ travels as %5E
    if " " in description:
        assert client.search_for_studies(search_filters={"StudyDescription": description})  # space travels as +


# ---- index maintenance: updates, deletes, restarts -------------------------------------------------------------


def test_index_follows_update_delete_and_restart(servers, tmp_path):
    db = tmp_path / "state.db"
    server = servers.start(fixtures=(), db=db)
    datastore_id = create_datastore(server.url)
    ct = corpus_files(["CT_small.dcm"])[0]
    answer = seed(server.url, datastore_id, [ct])["CT_small.dcm"]
    image_set_id = answer["imageSetId"]
    client = DICOMwebClient(url=f"{server.url}/datastore/{datastore_id}")
    boto = boto_client(server.url)
    assert len(client.search_for_studies(search_filters={"PatientName": "Renamed^Patient"})) == 0
    boto.update_image_set_metadata(
        datastoreId=datastore_id, imageSetId=image_set_id, latestVersionId="1",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(
            {"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "Renamed^Patient"}}}).encode()}})
    for _ in range(50):
        if boto.get_image_set(datastoreId=datastore_id, imageSetId=image_set_id)["imageSetState"] == "ACTIVE":
            break
        time.sleep(0.05)
    found = client.search_for_studies(search_filters={"PatientName": "Renamed^Patient"})
    assert len(found) == 1 and found[0]["00100010"]["Value"] == [{"Alphabetic": "Renamed^Patient"}]
    # persisted: a restart on the same database answers the same
    server.stop()
    server = servers.start(fixtures=(), db=db)
    client = DICOMwebClient(url=f"{server.url}/datastore/{datastore_id}")
    assert len(client.search_for_studies(search_filters={"PatientName": "renamed*"}, fuzzymatching=False)) == 1
    boto = boto_client(server.url)
    boto.delete_image_set(datastoreId=datastore_id, imageSetId=image_set_id)
    for _ in range(50):
        if boto.get_image_set(datastoreId=datastore_id, imageSetId=image_set_id)["imageSetState"] == "DELETED":
            break
        time.sleep(0.05)
    assert client.search_for_studies() == []
    with pytest.raises(HTTPError) as err:
        client.retrieve_instance_metadata(*uids(pydicom.dcmread(ct)))
    assert err.value.response.status_code == 404


# ---- auth, faults, journal ------------------------------------------------------------------------------------


def jwt(**claims) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_bearer_tokens_checked_and_authorizer_journaled(servers):
    server = servers.start(fixtures=())
    guarded = create_datastore(server.url, authorizer="arn:aws:lambda:us-east-1:123456789012:function:authorizer")
    open_ds = create_datastore(server.url)
    now = int(time.time())
    good = jwt(sub="user", iat=now - 60, exp=now + 600)
    path = f"/datastore/{guarded}/studies"

    def get(token, datastore=guarded):
        return raw_request(server.url, "GET", f"/datastore/{datastore}/studies", headers={"Authorization": f"Bearer {token}"})

    assert get(good).status == 200
    for token in (jwt(iat=now - 600, exp=now - 1), jwt(iat=now - 60, exp=now + 600, nbf=now + 300),
                  jwt(iat=now - 13 * 3600, exp=now + 600), jwt(iat=now + 300, exp=now + 600), "not-a-jwt"):
        r = get(token)
        assert (r.status, r.headers["x-amzn-errortype"]) == (403, "AccessDeniedException"), token
    # the control plane's authorizer: one token denied, the default allow kept
    denied = jwt(sub="mallory", iat=now - 60, exp=now + 600)
    control(server.url, "PUT", "dicomweb/authorizer", {"tokens": {denied: "DENY"}})
    assert get(denied).status == 403
    assert get(good).status == 200
    control(server.url, "PUT", "dicomweb/authorizer", {"default": "DENY"})
    assert get(jwt(sub="other", iat=now - 60, exp=now + 600)).status == 403
    shown = control(server.url, "GET", "dicomweb/authorizer").json()
    events = [i["event"] for i in shown["invocations"]]
    # only tokens that passed the claim checks reach the authorizer, each call with the service's event
    assert events == [{"datastoreId": guarded, "operation": "SearchDICOMStudies", "bearerToken": t} for t in
                      (good, denied, good, jwt(sub="other", iat=now - 60, exp=now + 600))]
    assert [i["decision"] for i in shown["invocations"]] == ["ALLOW", "DENY", "ALLOW", "DENY"]
    # a bearer token to a datastore without an authorizer
    r = get(good, datastore=open_ds)
    assert (r.status, r.headers["x-amzn-errortype"]) == (403, "AccessDeniedException")
    assert "lambdaAuthorizerArn" in json.loads(r.body)["message"]
    # the relational searches authorize as the IAM action they belong to
    control(server.url, "DELETE", "dicomweb/authorizer")
    raw_request(server.url, "GET", f"/datastore/{guarded}/instances", headers={"Authorization": f"Bearer {good}"})
    assert control(server.url, "GET", "dicomweb/authorizer").json()["invocations"][-1]["event"]["operation"] == "SearchDICOMInstances"
    assert raw_request(server.url, "GET", path).status == 200  # no token: the SigV4 path (not verified here)


def test_faults_and_journal_name_dicomweb_operations(servers):
    server = servers.start(fixtures=())
    datastore_id = create_datastore(server.url)
    control(server.url, "POST", "faults", expect=201, body=
            {"rules": [{"operation": "SearchDICOMStudies", "error": {"code": "ThrottlingException"}, "times": 1}]})
    first = raw_request(server.url, "GET", f"/datastore/{datastore_id}/studies")
    assert (first.status, first.headers["x-amzn-errortype"]) == (429, "ThrottlingException")
    assert raw_request(server.url, "GET", f"/datastore/{datastore_id}/studies").status == 200
    entries = control(server.url, "GET", "journal?operation=SearchDICOMStudies").json()["entries"]
    assert [e["status"] for e in entries] == [429, 200]
    bad = raw_request(server.url, "POST", "/_healthimaging/faults", headers={"Content-Type": "application/json"},
                      body=json.dumps({"rules": [{"operation": "SearchDICOMEverything"}]}).encode())
    assert bad.status == 400 and b"GetDICOMInstanceFrames" in bad.body


def test_sigv4_verified_on_dicomweb_routes(servers):
    from dicomweb_client.session_utils import create_session_from_auth
    from requests_aws4auth import AWS4Auth

    server = servers.start(fixtures=(), extra=("--verify-signatures", "--credentials", "test:test"))
    boto = boto_client(server.url)
    datastore_id = boto.create_datastore(datastoreName="signed", clientToken="signed-1")["datastoreId"]
    ct = corpus_files(["CT_small.dcm"])[0]
    seed(server.url, datastore_id, [ct])
    url = f"{server.url}/datastore/{datastore_id}"
    signed = DICOMwebClient(url=url, session=create_session_from_auth(AWS4Auth("test", "test", "us-east-1", "medical-imaging")))
    studies = signed.search_for_studies()
    assert len(studies) == 1
    st, se, sop = uids(pydicom.dcmread(ct))
    assert signed.retrieve_instance_metadata(st, se, sop)["00080018"]["Value"] == [sop]
    assert len(signed.retrieve_instance_frames(st, se, sop, [1])) == 1
    wrong = DICOMwebClient(url=url, session=create_session_from_auth(AWS4Auth("test", "nope", "us-east-1", "medical-imaging")))
    with pytest.raises(HTTPError) as err:
        wrong.search_for_studies()
    assert err.value.response.status_code == 403
    assert err.value.response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    unsigned = raw_request(server.url, "GET", f"/datastore/{datastore_id}/studies")
    assert (unsigned.status, unsigned.headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    # a signed request whose payload hash is declared, not computed (what a streaming STOW signer sends) verifies
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    for declared in ("UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"):
        request = botocore.awsrequest.AWSRequest(method="GET", url=f"{url}/studies",
                                                 headers={"x-amz-content-sha256": declared})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "medical-imaging", "us-east-1").add_auth(request)
        r = raw_request(server.url, "GET", f"/datastore/{datastore_id}/studies", headers=dict(request.headers.items()))
        assert r.status == 200, (declared, r.body[:200])


def test_a_database_without_indexes_is_indexed_at_open(servers, tmp_path):
    """A database written before the QIDO indexes existed (simulated: index rows and the backfill marker removed)
    is indexed once when the server opens it."""
    import sqlite3

    db = tmp_path / "old.db"
    server = servers.start(fixtures=(), db=db)
    datastore_id = create_datastore(server.url)
    ct = corpus_files(["CT_small.dcm"])[0]
    seed(server.url, datastore_id, [ct])
    assert server.stop() == 0
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM dicom_instance_index")
        connection.execute("DELETE FROM dicom_series_index")
        connection.execute("DELETE FROM meta WHERE key = 'dicom-index'")
    server = servers.start(fixtures=(), db=db)
    client = DICOMwebClient(url=f"{server.url}/datastore/{datastore_id}")
    st, se, sop = uids(pydicom.dcmread(ct))
    assert [value(i, "00080018") for i in client.search_for_instances()] == [sop]
    assert client.retrieve_instance_metadata(st, se, sop)["00080018"]["Value"] == [sop]
