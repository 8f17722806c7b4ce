"""A short run of bench/fuzz.py (the full run is 10^5 requests): a few thousand seeded, mixed requests —
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
