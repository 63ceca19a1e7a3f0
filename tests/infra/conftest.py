"""Infra tier: Terraform, the shell scripts, the Lambda build and the real ./deploy.sh and
./cleanup.sh against a moto server on loopback.

Tools come from `make setup-infra` (shellcheck, checkov in .venv-checkov) and the system
(terraform). A missing tool fails the test that needs it with what to install: `make test` runs
setup-infra first, so a skip would only hide a broken setup.

Providers: with TF_PLUGIN_DIR set, or /opt/tf-plugins present, `terraform init` installs them from
that directory (offline); otherwise from the registry as for any user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from localcloud.motoserver import MotoServerError, moto_server

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")


def plugin_dir() -> str | None:
    configured = os.environ.get("TF_PLUGIN_DIR")
    if configured:
        return configured
    return str(DEFAULT_PLUGIN_DIR) if DEFAULT_PLUGIN_DIR.is_dir() else None


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {hint}")
    return path


def run(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = 600,
    check: bool = True,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=stdin,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def terraform_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TF_DATA_DIR"] = str(data_dir)
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    if plugin_dir():
        env["TF_PLUGIN_DIR"] = str(plugin_dir())
    # A TF_CLI_CONFIG_FILE naming a missing file only adds warnings.
    if env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).is_file():
        del env["TF_CLI_CONFIG_FILE"]
    return env


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    return require_tool("terraform", "install Terraform 1.5 or newer")


@pytest.fixture(scope="session")
def lambda_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/build_lambda.sh into a temporary BUILD_DIR: function.zip and layer.zip."""
    build_dir = tmp_path_factory.mktemp("lambda-build")
    env = dict(os.environ, BUILD_DIR=str(build_dir))
    run(["bash", "scripts/build_lambda.sh"], env=env, timeout=600)
    return build_dir


@contextmanager
def logged_moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on loopback, in its own process, logging to a temporary file. The IP, not
    `localhost`: with a hostname the aws provider switches S3 to virtual-host addressing."""
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with log_path.open("wb") as log:
        try:
            with moto_server(log=log, timeout=30) as endpoint:
                yield endpoint
        except MotoServerError as e:
            pytest.fail(f"{e} (log: {log_path})")
