"""What the DICOMweb benches share: free ports, waiting for a server, the synthetic CT corpus, and starting the
emulator and Orthanc (+ its DICOMweb plugin) side by side."""
import io
import json
import socket
import subprocess
import time

import numpy as np
import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian


def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait(url):
    for _ in range(300):
        try:
            if requests.get(url, timeout=1).ok: return
        except Exception: pass
        time.sleep(0.1)
    raise SystemExit("no server " + url)


def ct_slice(i, study, series, sop, rows=512, columns=512):
    """One synthetic 16-bit CT slice as Part 10 bytes (Explicit VR Little Endian), pixels seeded by `i`."""
    ds = Dataset(); fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"; fm.MediaStorageSOPInstanceUID = sop; fm.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = fm; ds.SOPClassUID = fm.MediaStorageSOPClassUID; ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study; ds.SeriesInstanceUID = series; ds.PatientName = "Bench^CT"; ds.PatientID = "B1"; ds.Modality = "CT"
    ds.StudyDate = "20240101"; ds.InstanceNumber = i + 1; ds.SeriesNumber = 1
    ds.Rows = rows; ds.Columns = columns; ds.BitsAllocated = 16; ds.BitsStored = 12; ds.HighBit = 11; ds.PixelRepresentation = 0; ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    rng = np.random.default_rng(i); img = (rng.integers(0, 200, (rows, columns)) + np.arange(columns)[None, :] * 4 % 3800).astype(np.uint16)
    ds.PixelData = img.tobytes()
    b = io.BytesIO(); ds.save_as(b, enforce_file_format=True); return b.getvalue()


def start_emulator(binary, http_port, cpus=None, args=()):
    pin = ["taskset", "-c", cpus] if cpus else []
    return subprocess.Popen(pin + [binary, "--port", str(http_port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_orthanc(tmp, http_port, cpus=None):
    cfg = {"Name": "bench", "HttpPort": http_port, "DicomPort": port(), "DicomServerEnabled": False, "RemoteAccessAllowed": False,
           "AuthenticationEnabled": False, "StorageDirectory": tmp + "/o", "IndexDirectory": tmp + "/o",
           "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
    open(tmp + "/o.json", "w").write(json.dumps(cfg))
    pin = ["taskset", "-c", cpus] if cpus else []
    return subprocess.Popen(pin + ["Orthanc", tmp + "/o.json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def create_datastore(base):
    return requests.post(base + "/datastore", json={"datastoreName": "bench", "clientToken": "b1"}).json()["datastoreId"]
