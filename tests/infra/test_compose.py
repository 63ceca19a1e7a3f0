"""docker-compose.yml, Dockerfile and .dockerignore, checked statically (no Docker engine here)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.infra.conftest import REPO

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def compose() -> dict:
    with (REPO / "docker-compose.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_localstack_is_pinned_and_runs_dynamodb_streams_and_s3(compose: dict) -> None:
    localstack = compose["services"]["localstack"]
    image, _, tag = localstack["image"].partition(":")
    assert image == "localstack/localstack"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), (
        f"LocalStack must be pinned to a version, not {tag!r}"
    )
    services = set(localstack["environment"]["SERVICES"].split(","))
    assert {"dynamodb", "dynamodbstreams", "s3"} <= services
    assert "healthcheck" in localstack
    assert any(str(p).endswith(":4566") for p in localstack["ports"])


def test_the_local_cloud_container_uses_localstack(compose: dict) -> None:
    chat = compose["services"]["chat"]
    assert chat["build"]["dockerfile"] == "Dockerfile"
    assert chat["environment"]["LOCALCLOUD_AWS_ENDPOINT"] == "http://localstack:4566"
    assert chat["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert "0.0.0.0" in chat["command"]
    assert any(str(p).endswith(":8000") for p in chat["ports"])
    # Published on loopback only: a dev stack is not a public service.
    assert all(
        str(p).startswith("127.0.0.1:") for s in compose["services"].values() for p in s["ports"]
    )


def test_the_dockerfile_installs_the_project_and_runs_the_local_cloud() -> None:
    lines = [
        line.strip()
        for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert re.fullmatch(r"FROM python:3\.12[-.\w]*", lines[0])
    copied = " ".join(line for line in lines if line.startswith("COPY"))
    for path in ("pyproject.toml", "lambda", "scripts/localcloud", "terraform", "frontend"):
        assert path in copied
    assert any(line.startswith("RUN pip install") and "[local]" in line for line in lines)
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert 'ENTRYPOINT ["python", "-m", "localcloud"]' in lines
    assert "EXPOSE 8000" in lines


def test_the_docker_context_leaves_out_state_secrets_and_environments() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in (
        ".git",
        ".venv",
        "build",
        "terraform/.terraform",
        "**/*.tfstate",
        "frontend/config.js",
    ):
        assert pattern in ignored
