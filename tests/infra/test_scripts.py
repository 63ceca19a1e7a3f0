"""shellcheck on every script, and the scripts' command-line contract (no AWS needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localcloud.motoserver import REGION
from tests.infra.conftest import REPO, require_tool, run

pytestmark = pytest.mark.infra

SCRIPTS = sorted(
    {
        *REPO.glob("*.sh"),
        *(REPO / "scripts").glob("*.sh"),
        REPO / ".ci" / "run",
    }
)


def test_the_scripts_exist() -> None:
    names = {p.relative_to(REPO).as_posix() for p in SCRIPTS}
    assert {"deploy.sh", "cleanup.sh", "scripts/build_lambda.sh", "scripts/setup-infra.sh"} <= names
    assert ".ci/run" in names


def test_shellcheck_is_clean_on_every_script() -> None:
    shellcheck = require_tool("shellcheck", "run `make setup-infra` (apt-get install shellcheck)")
    run([shellcheck, "--severity=style", *map(str, SCRIPTS)])


@pytest.mark.parametrize("script", ["deploy.sh", "cleanup.sh", "scripts/build_lambda.sh"])
def test_help_describes_the_options(script: str) -> None:
    result = run([str(REPO / script), "--help"])
    assert "Usage" in result.stdout or "build" in result.stdout
    if script != "scripts/build_lambda.sh":
        for option in ("--env", "--help", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"):
            assert option in result.stdout, f"{script} --help does not mention {option}"
    if script == "cleanup.sh":
        assert "--yes" in result.stdout


@pytest.mark.parametrize("script", ["deploy.sh", "cleanup.sh"])
def test_a_bad_environment_name_is_refused_before_anything_runs(script: str) -> None:
    result = run([str(REPO / script), "--env", "Prod_1"], check=False)
    assert result.returncode != 0
    assert "--env" in result.stderr


@pytest.mark.parametrize("script", ["deploy.sh", "cleanup.sh"])
def test_missing_credentials_fail_early_with_a_clear_message(script: str, tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k in ("AWS_CA_BUNDLE",)
    }
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        BUILD_DIR=str(tmp_path / "build"),
        TF_DATA_DIR=str(tmp_path / "tf"),
    )
    result = run(
        [str(REPO / script), "--env", "nocreds", "--yes"][: 3 if script == "deploy.sh" else 4],
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "credentials" in result.stderr
    assert not (tmp_path / "build").exists(), "nothing may be built before the checks pass"
