"""examples/compose.yaml and examples/github-actions.yml cannot rot: they parse, name the services and ports
the README promises, and use only flags the binary really has (its --help)."""

from __future__ import annotations

import re
import shlex
import subprocess

import yaml

from conftest import ROOT, binary_path

EXAMPLES = ROOT / "examples"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def binary_flags() -> set[str]:
    p = subprocess.run([str(binary_path()), "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    flags = set(FLAG.findall(p.stdout))
    assert {"--port", "--fixtures", "--faults", "--transitions"} <= flags, p.stdout
    return flags


def dockerfile_entrypoint() -> list[str]:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    m = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.M)
    assert m, "docker/Dockerfile has no exec-form ENTRYPOINT"
    return yaml.safe_load(m.group(1))


def test_compose_file():
    doc = yaml.safe_load((EXAMPLES / "compose.yaml").read_text())
    services = doc["services"]
    assert set(services) == {"healthimaging", "s3"}
    hil, s3 = services["healthimaging"], services["s3"]
    assert s3["image"].startswith("motoserver/moto:")
    assert s3["ports"] == ["5000:5000"]
    assert hil["build"]["dockerfile"] == "docker/Dockerfile"
    assert (EXAMPLES / hil["build"]["context"] / hil["build"]["dockerfile"]).is_file()
    assert hil["ports"] == ["7890:7890"]
    entrypoint = dockerfile_entrypoint()
    assert entrypoint[0] == "healthimaging-local"
    argv = entrypoint[1:] + [str(a) for a in hil["command"]]
    # the container listens where the published port points
    assert argv[argv.index("--port") + 1] == "7890" and argv[argv.index("--host") + 1] == "0.0.0.0"
    used = {a.split("=")[0] for a in argv if a.startswith("--")}
    assert not used - binary_flags(), f"flags the binary does not have: {sorted(used - binary_flags())}"
    # the emulator reaches moto by its service name and port
    assert argv[argv.index("--s3-endpoint") + 1] == "http://s3:5000"
    assert "7890" in " ".join(hil["healthcheck"]["test"])
    assert "s3" in hil["depends_on"]
    # the fixture it loads exists in the image (docker/Dockerfile copies fixtures/ to /fixtures)
    fixture = argv[argv.index("--fixtures") + 1]
    assert (ROOT / "fixtures" / fixture.removeprefix("/fixtures/")).is_file()


def test_github_actions_job():
    doc = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    job = doc["jobs"]["integration"]
    assert job["env"]["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "true"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any("bash scripts/build" in r for r in runs)
    starts = [r for r in runs if ".build/release/healthimaging-local" in r]
    assert len(starts) == 1
    command = starts[0].replace("\\\n", " ").split("\n")[0]
    argv = shlex.split(command.split(">")[0])
    assert argv[0].endswith(".build/release/healthimaging-local")
    used = {a for a in argv[1:] if a.startswith("--")}
    assert used and not used - binary_flags(), f"flags the binary does not have: {sorted(used - binary_flags())}"
    assert argv[argv.index("--port") + 1] == "0"  # the URL line is read from stdout
    assert "hil.url" in starts[0] and "HIL_URL" in starts[0]
    tests = [r for r in runs if "pytest" in r]
    assert tests and "pip install ./healthimaging-local/python" in tests[0] and "--healthimaging-url" in tests[0]


def test_the_plugin_has_the_options_the_job_uses():
    from healthimaging_local import pytest_plugin

    source = (pytest_plugin.__file__ and open(pytest_plugin.__file__).read())
    assert '"--healthimaging-url"' in source
    assert "pytest11" in (ROOT / "python" / "pyproject.toml").read_text()


def test_readme_references_both():
    readme = (ROOT / "README.md").read_text()
    assert "examples/compose.yaml" in readme and "examples/github-actions.yml" in readme
