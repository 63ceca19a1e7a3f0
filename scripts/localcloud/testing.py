"""Start a local cloud for tests: a real `python -m localcloud` process on a free port.

    from localcloud.testing import running_local_cloud

    with running_local_cloud() as cloud:
        cloud.rest_url   # http://127.0.0.1:<port>/api
        cloud.ws_url     # ws://127.0.0.1:<port>/ws
        cloud.base_url   # http://127.0.0.1:<port>  (the browser client, /config.js)

A separate process keeps the handlers' module state, environment and boto3 clients out of the
test process, and exercises the same start-up and Ctrl-C path as `make dev`. bcrypt runs at
cost 4 unless the caller passes another BCRYPT_ROUNDS (the deployed default stays 12).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.motoserver import REGION

REPO = Path(__file__).resolve().parents[2]

TEST_LAMBDA_ENV = {"BCRYPT_ROUNDS": "4"}
# moto and the Management API accept any credentials; these are not secrets.
DUMMY_CREDENTIAL = "localcloud"


class LocalCloudStartError(RuntimeError):
    """The local cloud exited or did not become ready; the message carries its log."""


@dataclass
class RunningLocalCloud:
    process: subprocess.Popen[bytes]
    base_url: str
    rest_url: str
    ws_url: str
    management_url: str
    aws_endpoint: str | None
    tables: dict[str, str]
    stage: str
    startup_seconds: float
    log_path: Path
    final_logs: str | None = None  # kept when the process stops (its directory goes away)

    def logs(self) -> str:
        """Everything the process logged so far; all of it once the context has exited."""
        if self.final_logs is not None:
            return self.final_logs
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def dynamodb(self) -> Any:
        """A boto3 DynamoDB resource on the local cloud's endpoint (for assertions)."""
        import boto3

        return boto3.resource("dynamodb", **self._aws_arguments())

    def client(self, service: str) -> Any:
        """A boto3 client of `service` on the local cloud's AWS endpoint (e.g. cognito-idp)."""
        import boto3

        return boto3.client(service, **self._aws_arguments())

    def _aws_arguments(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.aws_endpoint,
            "region_name": REGION,
            "aws_access_key_id": DUMMY_CREDENTIAL,
            "aws_secret_access_key": DUMMY_CREDENTIAL,
        }

    def management_client(self) -> Any:
        """boto3's apigatewaymanagementapi client, pointed as the handlers point theirs."""
        import boto3

        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.management_url,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIAL,
            aws_secret_access_key=DUMMY_CREDENTIAL,
        )


def command(
    *,
    ready_file: Path,
    terraform_dir: Path | None = None,
    frontend_dir: Path | None = None,
    python_path: Sequence[Path] = (),
    lambda_env: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    port: int = 0,
) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "localcloud",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ready-file",
        str(ready_file),
    ]
    if terraform_dir is not None:
        args += ["--terraform-dir", str(terraform_dir)]
    if frontend_dir is not None:
        args += ["--frontend-dir", str(frontend_dir)]
    for path in python_path:
        args += ["--python-path", str(path)]
    for name, value in {**TEST_LAMBDA_ENV, **(lambda_env or {})}.items():
        args += ["--lambda-env", f"{name}={value}"]
    for name, value in (variables or {}).items():
        args += ["--var", f"{name}={value}"]
    return [*args, *extra_args]


@contextmanager
def running_local_cloud(
    *,
    terraform_dir: Path | None = None,
    frontend_dir: Path | None = None,
    python_path: Sequence[Path] = (),
    lambda_env: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningLocalCloud]:
    """Start `python -m localcloud` on a free port; stop it (SIGINT, as Ctrl-C) on exit."""
    with tempfile.TemporaryDirectory(prefix="localcloud-") as tmp:
        ready = Path(tmp) / "ready.json"
        log_path = Path(tmp) / "localcloud.log"
        args = command(
            ready_file=ready,
            terraform_dir=terraform_dir,
            frontend_dir=frontend_dir,
            python_path=python_path,
            lambda_env=lambda_env,
            variables=variables,
            extra_args=extra_args,
        )
        process_env = {**os.environ, **(env or {})}
        process_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO / "scripts"), process_env.get("PYTHONPATH", "")) if p
        )
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                args, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO, env=process_env
            )
        running: RunningLocalCloud | None = None
        try:
            info = _wait_ready(process, ready, log_path, startup_timeout)
            running = RunningLocalCloud(
                process=process,
                base_url=info["baseUrl"],
                rest_url=info["restUrl"],
                ws_url=info["wsUrl"],
                management_url=info["managementUrl"],
                aws_endpoint=info.get("awsEndpoint"),
                tables=info.get("tables", {}),
                stage=info.get("stage", ""),
                startup_seconds=float(info.get("startupSeconds", 0)),
                log_path=log_path,
            )
            yield running
        finally:
            stop(process)
            if running is not None:
                running.final_logs = log_path.read_text(encoding="utf-8", errors="replace")
            # Keep the log where a failing test can point at it.
            keep = os.environ.get("LOCALCLOUD_KEEP_LOGS")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                target = Path(keep) / f"localcloud-{process.pid}.log"
                target.write_bytes(log_path.read_bytes())


def _wait_ready(
    process: subprocess.Popen[bytes], ready: Path, log_path: Path, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return dict(json.loads(ready.read_text()))
        if process.poll() is not None:
            raise LocalCloudStartError(
                f"the local cloud exited with {process.returncode}:\n"
                + log_path.read_text(errors="replace")
            )
        time.sleep(0.05)
    stop(process)
    raise LocalCloudStartError(
        f"the local cloud was not ready within {timeout}s:\n" + log_path.read_text(errors="replace")
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
