"""terraform fmt/init/validate, checkov with every skip explained, and the stack's contract."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from localcloud.hcl import evaluate, unquote_key
from localcloud.terraform import _Stack, load
from tests.infra.conftest import CHECKOV, REPO, TERRAFORM_DIR, plugin_dir, run, terraform_env

pytestmark = pytest.mark.infra

TF_FILES = sorted(TERRAFORM_DIR.glob("*.tf"))
CONCERNS = [
    "versions",
    "variables",
    "outputs",
    "locals",
    "dynamodb",
    "lambda",
    "rest_api",
    "websocket_api",
    "stream",
    "queues",
    "frontend",
    "iam",
    "monitoring",
    "cognito",
    "media",
    "waf",
]


OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False)


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def _blocks(kind: str) -> dict[str, dict]:
    """Every `variable` or `output` block of the stack, by name."""
    found: dict[str, dict] = {}
    for path in TF_FILES:
        for block in _load(path).get(kind, []):
            found.update({unquote_key(k): v for k, v in block.items()})
    return found


def test_one_file_per_concern() -> None:
    assert {p.stem for p in TF_FILES} == set(CONCERNS)


def test_terraform_fmt_check(terraform_bin: str, tmp_path: Path) -> None:
    run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        env=terraform_env(tmp_path),
    )


def test_terraform_init_and_validate(terraform_bin: str, tmp_path: Path) -> None:
    env = terraform_env(tmp_path / "data")
    init = [terraform_bin, f"-chdir={TERRAFORM_DIR}", "init", "-backend=false", "-input=false"]
    if plugin_dir():
        init.append(f"-plugin-dir={plugin_dir()}")
    run(init, env=env, timeout=300)
    result = run([terraform_bin, f"-chdir={TERRAFORM_DIR}", "validate", "-json"], env=env)
    report = json.loads(result.stdout)
    assert report["valid"], report
    assert report["error_count"] == 0


def test_versions_pin_terraform_and_only_the_aws_provider() -> None:
    terraform = _load(TERRAFORM_DIR / "versions.tf")["terraform"][0]
    assert terraform["required_version"].strip('"') == ">= 1.5"
    providers = terraform["required_providers"][0]
    assert set(providers) == {"aws"}
    assert providers["aws"]["source"].strip('"') == "hashicorp/aws"
    assert providers["aws"]["version"].strip('"') == "~> 5.0"


def test_every_variable_is_typed_and_described() -> None:
    variables = _blocks("variable")
    assert variables
    for name, body in variables.items():
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"


def test_every_output_is_described() -> None:
    outputs = _blocks("output")
    for name in ("site_url", "rest_api_url", "websocket_url", "table_names"):
        assert name in outputs
    for name, body in outputs.items():
        assert body.get("description"), f"output {name} has no description"


def test_checkov_passes_and_every_skip_has_a_reason() -> None:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run `make setup-infra`")
    result = run(
        [
            str(CHECKOV),
            "--directory",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--output",
            "json",
        ],
        check=False,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    assert not failed, "\n".join(
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in failed
    )
    passed = sum(r["summary"]["passed"] for r in reports)
    assert passed > 100
    skip = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$")
    for path in TF_FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = skip.search(line)
            if match:
                reason = (match.group(2) or "").strip()
                assert len(reason) > 20, (
                    f"{path.name}:{number}: {match.group(1)} skipped without a reason"
                )


def test_every_tf_file_parses_for_the_local_cloud() -> None:
    """The local cloud reads every .tf file with python-hcl2; so must anything we add."""
    topology = load(TERRAFORM_DIR)
    assert set(topology.functions) >= {"rest", "authorizer", "stream_processor"}
    assert topology.stream is not None
    # Everything but the WebSocket API's id and the queues' URLs (only known after apply)
    # resolves statically; the local cloud provides those itself.
    assert set(topology.unresolved_environment) == {
        "WS_MANAGEMENT_ENDPOINT",
        "ROOM_PURGE_QUEUE_URL",
        "MEDIA_BUCKET",  # named after the account id; the local cloud names its own
        "FANOUT_QUEUE_URL",
    }
    assert topology.environment["MEDIA_MAX_BYTES"] == "10485760"
    assert "text/html" not in topology.environment["MEDIA_CONTENT_TYPES"].split(",")
    assert topology.queues["room_purge"].url_variables == ("ROOM_PURGE_QUEUE_URL",)
    assert topology.queues["fanout"].url_variables == ("FANOUT_QUEUE_URL",)
    assert topology.queues["fanout"].fifo and not topology.queues["room_purge"].fifo
    assert topology.environment["FANOUT_CHUNK_THRESHOLD"] == "2000"


def _symbolic(stack: _Stack) -> Callable[[list[str]], Any]:
    """The stack's resolver, except that a resource's or data source's attribute (known only
    after apply) stands for itself, `<aws_s3_bucket.media.arn>`: a plan without the provider."""

    def resolve(path: list[str]) -> Any:
        if path[0] == "data" or path[0] in stack.resources:
            return "<" + ".".join(path) + ">"
        return stack.resolve(path)

    return resolve


def test_the_media_bucket_denies_every_request_without_tls_by_default() -> None:
    stack = _Stack(TERRAFORM_DIR.resolve(), {})
    resolve = _symbolic(stack)
    policy = stack.resources["aws_s3_bucket_policy"]["media"]
    assert evaluate(policy["count"], resolve) == 1  # every variable at its default
    assert evaluate(policy["bucket"], resolve) == "<aws_s3_bucket.media.id>"
    assert evaluate(policy["policy"], resolve) == "<data.aws_iam_policy_document.media.json>"
    documents = [
        named
        for block in _load(TERRAFORM_DIR / "media.tf").get("data", [])
        for kind, named in block.items()
        if unquote_key(kind) == "aws_iam_policy_document"
    ]
    [document] = [d[k] for d in documents for k in d if unquote_key(k) == "media"]
    statements = {
        evaluate(s["sid"], resolve): {k: evaluate(v, resolve) for k, v in s.items()}
        for s in document["statement"]
    }
    deny = statements["DenyInsecureTransport"]
    assert deny["effect"] == "Deny"
    assert deny["actions"] == ["s3:*"]
    assert deny["resources"] == ["<aws_s3_bucket.media.arn>", "<aws_s3_bucket.media.arn>/*"]
    assert deny["principals"] == [{"type": "*", "identifiers": ["*"]}]
    assert deny["condition"] == [
        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}
    ]


def test_a_custom_site_domain_gets_its_certificate_with_sni_and_tls_1_2_at_least() -> None:
    certificate = (
        "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    )
    custom = {"site_domain_name": "chat.example.com", "site_certificate_arn": certificate}
    for variables, expected in (
        (
            custom,
            {
                "cloudfront_default_certificate": None,
                "acm_certificate_arn": certificate,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": "TLSv1.2_2021",
            },
        ),
        # CloudFront's own certificate: its TLSv1 policy, whatever is asked (docs/deploy.md).
        (
            {},
            {
                "cloudfront_default_certificate": True,
                "acm_certificate_arn": None,
                "ssl_support_method": None,
                "minimum_protocol_version": "TLSv1",
            },
        ),
    ):
        stack = _Stack(TERRAFORM_DIR.resolve(), variables)
        distribution = stack.resources["aws_cloudfront_distribution"]["site"]
        [certificate_block] = distribution["viewer_certificate"]
        evaluated = {k: stack.evaluate(v) for k, v in certificate_block.items()}
        assert evaluated == expected, variables
        aliases = stack.evaluate(distribution["aliases"])
        assert aliases == ([custom["site_domain_name"]] if variables else [])


def test_every_rate_limit_variable_reaches_the_functions_as_the_local_cloud_reads_them() -> None:
    """Each rate_limit_* variable is in the functions' environment under its upper-case name,
    set from the variable: the local cloud applies what Terraform would deploy."""
    text = (TERRAFORM_DIR / "variables.tf").read_text()
    names = re.findall(r'^variable "(rate_limits?_[a-z_]+)"', text, re.MULTILINE)
    assert "rate_limit_typing_window_seconds" in names
    defaults = load(TERRAFORM_DIR).environment
    overridden = load(TERRAFORM_DIR, {n: "7" for n in names if n != "rate_limits_enabled"})
    for name in names:
        if name == "rate_limits_enabled":
            assert defaults[name.upper()] == "true"
            continue
        assert overridden.environment[name.upper()] == "7", name
        assert defaults[name.upper()] != "7", name
    assert defaults["RATE_LIMIT_TYPING_WINDOW_SECONDS"] == "2"
    off = load(TERRAFORM_DIR, {"rate_limits_enabled": "false"}).environment
    assert off["RATE_LIMITS_ENABLED"] == "false"


def test_environment_files_exist_and_set_their_name() -> None:
    for name in ("dev", "staging", "prod"):
        path = TERRAFORM_DIR / "env" / f"{name}.tfvars"
        assert _load(path)["environment"].strip('"') == name
    assert _load(TERRAFORM_DIR / "env" / "prod.tfvars")["deletion_protection"] in (True, "true")


def test_no_secret_or_state_is_tracked() -> None:
    tracked = run(["git", "ls-files"], cwd=REPO).stdout.splitlines()
    assert not [f for f in tracked if f.endswith((".tfstate", ".tfplan")) or "/.terraform/" in f]
    for path in TF_FILES:
        text = path.read_text(encoding="utf-8")
        assert "aws_ssm_parameter" not in text, "the signing key must never be in Terraform state"
        assert "random_" not in text
