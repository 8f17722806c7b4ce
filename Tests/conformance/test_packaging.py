"""The shipped pieces agree with each other: the Dockerfile builds with the same command as the README and
CI and installs every runtime library the binary loads; the fixture JSON Schema matches what the binary accepts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import ROOT, SEED_FIXTURE, binary_path

DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
SCHEMA = json.loads((ROOT / "fixtures" / "fixture.schema.json").read_text())


def test_one_build_command_everywhere():
    build = (ROOT / "scripts" / "build").read_text()
    assert "swift build -c release --static-swift-stdlib" in build
    assert re.search(r"^RUN bash scripts/build\b", DOCKERFILE, re.M), "the image must build with scripts/build"
    assert "bash scripts/build" in (ROOT / "scripts" / "test").read_text()
    assert "bash scripts/build" in (ROOT / "scripts" / "run").read_text()
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_build_stage_copies_every_target_folder():
    # SwiftPM refuses to build a package one of whose targets has no folder, so each target's folder (Sources/<name>,
    # or its custom `path:`) must be in the build stage's context.
    package = (ROOT / "Package.swift").read_text()
    build_stage = DOCKERFILE.split("FROM debian:bookworm-slim", 1)[0]
    copied = re.findall(r"^COPY (\S+) ", build_stage, re.M)
    for path in re.findall(r'path: "([^"]+)"', package) or []:
        assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied), f"{path} is not copied: {copied}"
    assert "Sources" in copied


def test_healthcheck_uses_the_health_endpoint():
    assert re.search(r"HEALTHCHECK .*\n?.*/_healthimaging/health", DOCKERFILE)
    assert "/_healthimaging/health" in (ROOT / "docker" / "compose.yaml").read_text()


def runtime_packages() -> set[str]:
    stage = DOCKERFILE.split("FROM debian:bookworm-slim", 1)[1]
    match = re.search(r"apt-get install[^\n]*?--no-install-recommends((?:[^\n]*\\\n)*[^\n]*)", stage)
    assert match, "runtime stage installs nothing"
    return {word for word in match.group(1).replace("\\", " ").split() if not word.startswith("&&") and re.match(r"^[a-z0-9.+-]+$", word)} - {"rm", "-rf"}


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs a Debian system to map libraries to packages")
def test_runtime_image_installs_every_library_the_binary_loads():
    out = subprocess.run(["ldd", str(binary_path())], capture_output=True, text=True, check=True).stdout
    paths = re.findall(r"=> (/\S+)", out)
    assert paths, out
    # present in debian:bookworm-slim already
    base = {"libc6", "libgcc-s1", "libstdc++6"}
    wanted = set()
    for path in paths:
        owner = subprocess.run(["dpkg", "-S", str(Path(path).resolve())], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        assert owner.returncode == 0, f"no package owns {path}"
        wanted.add(owner.stdout.split(":", 1)[0])
    missing = wanted - base - runtime_packages()
    assert not missing, f"the runtime image lacks {missing} (installs {runtime_packages()})"


def test_seed_fixture_matches_the_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(json.loads(SEED_FIXTURE.read_text()), SCHEMA)


@pytest.mark.parametrize("mutate", [
    lambda v: v.update(imageSetState="FROZEN"),
    lambda v: v.update(ImageSetWorkflowStatus="SHINY"),
    lambda v: v.update(versionId="v1"),
    lambda v: v.update(message="semi;colon"),
    lambda v: v.update(imageSetWorkflowStatus="COPIED"),
    lambda v: v.pop("imageSetState"),
])
def test_schema_and_binary_refuse_the_same_versions(servers, tmp_path, mutate):
    doc = json.loads(SEED_FIXTURE.read_text())
    mutate(doc["datastores"][0]["imageSets"][0]["versions"][1])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run([str(binary_path()), "--port", "0", "--fixtures", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "$.datastores[0].imageSets[0].versions[1]" in proc.stderr, proc.stderr
