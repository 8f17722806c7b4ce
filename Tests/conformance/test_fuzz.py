"""Short runs of bench/fuzz.py (the full runs are 10^5 requests and 10^4 DICOM files): a few thousand seeded, mixed requests —
well-formed, malformed and mangled at the byte level — must get no crash, no hang, no non-JSON answer, no
answer without Content-Length and no 5xx other than the designed 501."""

from __future__ import annotations

import importlib.util
import json

from conftest import ROOT, _require_binary, binary_path


def load_fuzz():
    spec = importlib.util.spec_from_file_location("hil_fuzz", ROOT / "bench" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_fuzz_run_finds_nothing(tmp_path):
    _require_binary()
    fuzz = load_fuzz()
    report = fuzz.run(binary_path(), requests=3000, seed=20261125, time_limit=25, workers=4, answer_timeout=8,
                      work_dir=tmp_path)
    summary = json.dumps(report, indent=2)
    assert report["requests"] >= 1000, summary
    assert not report["crashed"] and report["answering_at_end"], summary
    assert report["hangs"] == 0, summary
    assert report["non_json"] == 0, summary
    assert report["no_content_length"] == 0, summary
    assert report["server_errors_5xx_not_501"] == 0, summary
    assert report["exit_code"] == 0, summary
    assert report["fds_after"] <= report["fds_before"] + 8, summary


def test_short_dicom_fuzz_run_finds_nothing(tmp_path):
    """bench/fuzz.py's DICOM mode on a seeded slice (the bench runs 10,000): mutated Part 10 files from the shipped
    samples through /dicom — no crash, no hang, no 5xx, every answer JSON, the peak RSS bounded."""
    _require_binary()
    fuzz = load_fuzz()
    report = fuzz.run_dicom(binary_path(), files=300, seed=20261203, time_limit=120, workers=2, answer_timeout=10,
                            work_dir=tmp_path)
    summary = json.dumps(report, indent=2)
    assert report["files"] == 300, summary
    assert not report["crashed"] and report["answering_at_end"], summary
    assert report["hangs"] == 0, summary
    assert report["non_json"] == 0, summary
    assert report["server_errors_5xx"] == 0, summary
    assert report["exit_code"] == 0, summary
    # Both kinds of answer occur: the mutations leave some files importable and make others customer errors.
    assert report["statuses"].get(400, 0) > 0 and report["statuses"].get(201, 0) + report["statuses"].get(200, 0) > 0, summary
    assert report["peak_rss_growth_kib"] < 256 * 1024, summary
    assert report["fds_after"] <= report["fds_before"] + 8, summary
