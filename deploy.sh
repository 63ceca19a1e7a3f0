#!/usr/bin/env bash
# Deploys the chat to AWS: builds the Lambda package and layer, creates the JWT signing key in SSM
# if it is missing, applies terraform/ for one environment (its own workspace and state), uploads
# the browser client with a config.js written from Terraform's outputs, and prints the URLs.
# Safe to re-run: the signing key is kept and Terraform applies only what changed.
#
# Usage: ./deploy.sh [--env NAME] [--identity builtin|cognito] [-- TERRAFORM_ARGS...]
#   --env NAME   environment (default: dev); terraform/env/NAME.tfvars is used when it exists
#   --identity   who holds the accounts: builtin (users table) or cognito (a Cognito user pool);
#                default: what the environment already runs, else the tfvars/variable default
#   --           anything after it goes to terraform plan, e.g. -- -var alarm_topic_arn=arn:...
#   -h, --help   this help
#
# Honours the standard AWS environment like any AWS tool: AWS_PROFILE, AWS_REGION,
# AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN.
# Also: TF_PLUGIN_DIR (install Terraform providers from this directory instead of the registry),
# TF_DATA_DIR (Terraform's own), BUILD_DIR (default build/), FRONTEND_DIR (default frontend/),
# PYTHON (a Python with boto3; default .venv/bin/python, else python3).
set -euo pipefail

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

env_name="dev"
identity=""
tf_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --env) [ $# -ge 2 ] || die "--env needs a name"; env_name="$2"; shift 2 ;;
        --env=*) env_name="${1#--env=}"; shift ;;
        --identity) [ $# -ge 2 ] || die "--identity needs builtin or cognito"; identity="$2"; shift 2 ;;
        --identity=*) identity="${1#--identity=}"; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; tf_args=("$@"); break ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done
case "$identity" in
    "" | builtin | cognito) ;;
    *) die "--identity '$identity': use builtin or cognito" ;;
esac
[[ "$env_name" =~ ^[a-z][a-z0-9]{1,11}$ ]] ||
    die "--env '$env_name': use 2-12 lowercase letters and digits, starting with a letter (dev, staging, prod, ...)"

root="$(cd "$(dirname "$0")" && pwd)"
tf_dir="$root/terraform"
build_dir="${BUILD_DIR:-$root/build}"
frontend_dir="${FRONTEND_DIR:-$root/frontend}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
export BUILD_DIR="$build_dir" PYTHON
# Terraform reads AWS_REGION; boto3 reads AWS_DEFAULT_REGION: give both the same region.
if [ -n "${AWS_REGION:-}" ] && [ -z "${AWS_DEFAULT_REGION:-}" ]; then export AWS_DEFAULT_REGION="$AWS_REGION"; fi
if [ -n "${AWS_DEFAULT_REGION:-}" ] && [ -z "${AWS_REGION:-}" ]; then export AWS_REGION="$AWS_DEFAULT_REGION"; fi

# --- AWS calls (boto3; it honours AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL) ---------------------
aws_py() {
    AWS_OPS_CALLER="deploy.sh" "$PYTHON" "$root/scripts/aws_ops.py" "$@"
}

# --- 1. prerequisites, each with what to do when it is missing ----------------------------------
step "Checking prerequisites"
command -v terraform >/dev/null 2>&1 ||
    die "terraform is not installed: get Terraform 1.5 or newer from https://developer.hashicorp.com/terraform/install"
tf_version="$(terraform version -json 2>/dev/null | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])' 2>/dev/null)" ||
    die "cannot run '$PYTHON' (set PYTHON to a Python 3.11+ with boto3) or read terraform's version"
"$PYTHON" -c 'import sys; v=sys.argv[1].split("."); sys.exit(0 if (int(v[0]), int(v[1])) >= (1, 5) else 1)' "$tf_version" ||
    die "terraform $tf_version is too old: 1.5 or newer is needed"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
    die "$PYTHON is older than Python 3.11 (the build reads pyproject.toml with tomllib); set PYTHON"
"$PYTHON" -c 'import boto3' 2>/dev/null ||
    die "$PYTHON has no boto3: run 'make build' or 'make test' once (creates .venv), or 'pip install boto3', or set PYTHON"
"$PYTHON" -m pip --version >/dev/null 2>&1 ||
    die "$PYTHON has no pip (needed to fetch the layer's wheels): install python3-pip or set PYTHON"
[ -f "$frontend_dir/index.html" ] ||
    die "$frontend_dir/index.html is missing: the browser client is deployed with the stack (set FRONTEND_DIR)"
read -r account region caller < <(aws_py identity) || exit 1
echo "terraform $tf_version, $("$PYTHON" --version), boto3; account $account, region $region, as $caller"
[ -n "${AWS_ENDPOINT_URL:-}" ] && echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL (every AWS call goes there)"

# --- 2. build -------------------------------------------------------------------------------------
step "Building the Lambda package and layer"
bash "$root/scripts/build_lambda.sh"

# --- 3. terraform init and the environment's workspace ------------------------------------------
step "terraform init (environment '$env_name', workspace '$env_name')"
init_args=(-input=false -no-color)
[ -n "${TF_PLUGIN_DIR:-}" ] && init_args+=("-plugin-dir=$TF_PLUGIN_DIR")
tf_quiet() {
    local out
    out="$(terraform -chdir="$tf_dir" "$@" 2>&1)" || { printf '%s\n' "$out" >&2; die "terraform $1 failed"; }
}
tf_quiet init "${init_args[@]}"
tf_quiet workspace select -or-create "$env_name"
echo "workspace: $(terraform -chdir="$tf_dir" workspace show)"

var_args=(-var "environment=$env_name" -var "function_zip=$build_dir/function.zip" -var "layer_zip=$build_dir/layer.zip")
[ -f "$tf_dir/env/$env_name.tfvars" ] && var_args=(-var-file "env/$env_name.tfvars" "${var_args[@]}")

# API Gateway logs with one role per account and region: keep one that another stack set.
current_role="$(aws_py api-gateway-logging-role)"
# Captured first: `state list | grep -q` under pipefail fails at random when grep exits early
# and terraform gets SIGPIPE.
managed_resources="$(terraform -chdir="$tf_dir" state list 2>/dev/null || true)"
if grep -q '^aws_api_gateway_account\.this' <<<"$managed_resources" || [ -z "$current_role" ]; then
    var_args+=(-var manage_api_gateway_account=true)
else
    echo "API Gateway logging role already set for this region ($current_role): using it"
    var_args+=(-var manage_api_gateway_account=false)
fi

# Identity provider: --identity, else keep what the environment runs (switching from cognito to
# builtin destroys the user pool and its accounts, so it is never done by omission).
if [ -z "$identity" ] && grep -q '^aws_cognito_user_pool\.users' <<<"$managed_resources"; then
    identity=cognito
fi
if [ -n "$identity" ]; then
    var_args+=(-var "identity_provider=$identity")
    if [ "$identity" = builtin ] && grep -q '^aws_cognito_user_pool\.users' <<<"$managed_resources"; then
        echo "--identity builtin: this deploy DESTROYS the environment's Cognito user pool and its accounts"
    fi
fi

# --- 4. plan, signing key, apply -------------------------------------------------------------------
# Terraform's full output goes to a log; on failure its end is shown and the script stops.
log="$build_dir/$env_name.terraform.log"
: >"$log"
tf() {
    local command="$1"
    shift
    if ! terraform -chdir="$tf_dir" "$command" -input=false -no-color "$@" >>"$log" 2>&1; then
        echo "---- terraform $command failed; the end of $log:" >&2
        tail -n 60 "$log" >&2
        die "terraform $command failed (full log: $log); fix the cause and re-run ./deploy.sh --env $env_name"
    fi
}

step "terraform plan"
plan="$build_dir/$env_name.tfplan"
tf plan -out="$plan" "${var_args[@]}" ${tf_args[@]+"${tf_args[@]}"}
grep -E '^(Plan:|No changes)' "$log" || true
terraform -chdir="$tf_dir" show -json "$plan" >"$plan.json"
read -r key_name project < <(aws_py plan-values "$plan.json") || exit 1

step "JWT signing key"
aws_py signing-key "$key_name" "$project" "$env_name"

step "terraform apply"
started=$SECONDS
tf apply -auto-approve "$plan"
rm -f "$plan" "$plan.json"
grep -E '^Apply complete' "$log" || true
echo "applied in $((SECONDS - started)) s (log: $log)"
terraform -chdir="$tf_dir" output -json >"$build_dir/$env_name.outputs.json"

# --- 5. the browser client ------------------------------------------------------------------------
step "Uploading the browser client"
aws_py upload "$build_dir/$env_name.outputs.json" "$frontend_dir"

step "Deployed '$env_name'"
"$PYTHON" - "$build_dir/$env_name.outputs.json" <<'PY'
import json
import sys

outputs = {k: v["value"] for k, v in json.load(open(sys.argv[1], encoding="utf-8")).items()}
print(f"site:      {outputs['site_url']}")
print(f"REST API:  {outputs['rest_api_url']}")
print(f"WebSocket: {outputs['websocket_url']}")
print(f"accounts:  {outputs.get('identity_provider', 'builtin')}", end="")
print(f" (user pool {outputs['cognito_user_pool_id']})" if outputs.get("cognito_user_pool_id") else "")
PY
