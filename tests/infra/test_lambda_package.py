"""What scripts/build_lambda.sh produces: a function zip with the project's code only that
imports every handler Terraform names, and a layer whose bcrypt is built for Lambda (arm64)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from localcloud.motoserver import REGION
from localcloud.terraform import load
from tests.infra.conftest import REPO, TERRAFORM_DIR, run

pytestmark = pytest.mark.infra

EM_AARCH64 = 183  # ELF e_machine of arm64


def test_the_function_zip_holds_the_chat_package_only(lambda_build: Path) -> None:
    with zipfile.ZipFile(lambda_build / "function.zip") as archive:
        names = archive.namelist()
    assert "chat/__init__.py" in names
    assert "chat/handlers/__init__.py" in names
    assert all(n.startswith("chat/") for n in names), names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    sources = {
        f"chat/{p.relative_to(REPO / 'lambda' / 'chat').as_posix()}"
        for p in (REPO / "lambda" / "chat").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sources <= set(names)
    # The REST function serves its OpenAPI description from the package (GET /openapi.json).
    assert "chat/openapi.json" in names


def test_the_build_is_reproducible(lambda_build: Path, tmp_path: Path) -> None:
    """Same sources, same bytes: an unchanged package is not redeployed."""
    run(["bash", "scripts/build_lambda.sh"], env=dict(os.environ, BUILD_DIR=str(tmp_path)))
    first = (lambda_build / "function.zip").read_bytes()
    assert (tmp_path / "function.zip").read_bytes() == first


def test_the_layer_holds_bcrypt_for_arm64_linux_and_pyjwt(lambda_build: Path) -> None:
    with zipfile.ZipFile(lambda_build / "layer.zip") as archive:
        names = archive.namelist()
        assert all(n.startswith("python/") for n in names)
        assert "python/jwt/__init__.py" in names
        wheel = next(n for n in names if n.startswith("python/bcrypt-") and n.endswith("/WHEEL"))
        tags = [
            line.split(":", 1)[1].strip()
            for line in archive.read(wheel).decode().splitlines()
            if line.startswith("Tag:")
        ]
        extension = next(
            n for n in names if n.startswith("python/bcrypt/_bcrypt") and n.endswith(".so")
        )
        header = archive.read(extension)[:20]
    # A manylinux aarch64 wheel that CPython 3.12 loads: cp312 or the stable ABI (abi3).
    assert tags and all("manylinux" in t and t.endswith("aarch64") for t in tags), tags
    assert all(t.startswith(("cp312-", "cp3")) and ("abi3" in t or "cp312" in t) for t in tags)
    assert header[:4] == b"\x7fELF"
    assert header[4] == 2, "not a 64-bit ELF"
    (machine,) = struct.unpack_from("<H", header, 18)
    assert machine == EM_AARCH64, f"bcrypt's extension is for e_machine {machine}, not arm64"
    assert not [n for n in names if n.startswith(("python/boto3/", "python/botocore/"))]


def test_the_function_zip_imports_every_handler_terraform_names(lambda_build: Path) -> None:
    """Each handler imports from the zip alone (the host's bcrypt and PyJWT stand in for the
    layer's arm64 build), with the environment Terraform gives it and dummy AWS settings."""
    topology = load(TERRAFORM_DIR)
    zip_path = lambda_build / "function.zip"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(topology.environment)
    env.update(
        WS_MANAGEMENT_ENDPOINT="https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1",
        ROOM_PURGE_QUEUE_URL=f"https://sqs.{REGION}.amazonaws.com/123456789012/room-purge",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PYTHONDONTWRITEBYTECODE="1",
    )
    handlers = {key: fn.handler for key, fn in topology.functions.items()}
    assert handlers, "no functions in terraform/locals.tf"
    probe = textwrap.dedent(
        """
        import importlib, json, sys
        zip_path, handlers = sys.argv[1], json.loads(sys.argv[2])
        sys.path.insert(0, zip_path)
        import chat
        assert chat.__file__.startswith(zip_path), chat.__file__
        for key, handler in handlers.items():
            module, attribute = handler.rsplit(".", 1)
            loaded = importlib.import_module(module)
            assert loaded.__file__.startswith(zip_path), (key, loaded.__file__)
            assert callable(getattr(loaded, attribute)), (key, handler)
            print("imported", key, handler)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(zip_path), json.dumps(handlers)],
        env=env,
        cwd=lambda_build,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for key in handlers:
        assert f"imported {key} " in result.stdout
