#!/usr/bin/env bash
# Removes everything ./deploy.sh created for one environment: empties the site bucket (every
# version), runs terraform destroy, deletes the JWT signing key from SSM, deletes the
# environment's Terraform workspace (its state) and the local build output.
#
# Usage: ./cleanup.sh [--env NAME] [--yes] [-- TERRAFORM_ARGS...]
#   --env NAME   environment (default: dev)
#   --yes        do not ask for confirmation (for automation)
#   --           anything after it goes to terraform destroy (the same -var flags given to deploy)
#   -h, --help   this help
#
# Honours the standard AWS environment like any AWS tool: AWS_PROFILE, AWS_REGION,
# AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN.
# Also: TF_PLUGIN_DIR, TF_DATA_DIR, BUILD_DIR (default build/), PYTHON (a Python with boto3).
#
# Tables with deletion protection (deletion_protection = true, as in env/prod.tfvars) stop the
# destroy, and so does a Cognito user pool (identity_provider = "cognito") under the same flag:
# deploy once with -var deletion_protection=false first, deliberately. Both identity modes are
# removed alike: terraform destroy removes the user pool and its app client with the rest.
set -euo pipefail

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0"; }
die() { printf 'cleanup.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

env_name="dev"
assume_yes=false
tf_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --env) [ $# -ge 2 ] || die "--env needs a name"; env_name="$2"; shift 2 ;;
        --env=*) env_name="${1#--env=}"; shift ;;
        -y | --yes) assume_yes=true; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; tf_args=("$@"); break ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done
[[ "$env_name" =~ ^[a-z][a-z0-9]{1,11}$ ]] ||
    die "--env '$env_name': use 2-12 lowercase letters and digits, starting with a letter"

root="$(cd "$(dirname "$0")" && pwd)"
tf_dir="$root/terraform"
build_dir="${BUILD_DIR:-$root/build}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
# Terraform reads AWS_REGION; boto3 reads AWS_DEFAULT_REGION: give both the same region.
if [ -n "${AWS_REGION:-}" ] && [ -z "${AWS_DEFAULT_REGION:-}" ]; then export AWS_DEFAULT_REGION="$AWS_REGION"; fi
if [ -n "${AWS_DEFAULT_REGION:-}" ] && [ -z "${AWS_REGION:-}" ]; then export AWS_REGION="$AWS_DEFAULT_REGION"; fi

# --- AWS calls (boto3; it honours AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL) ---------------------
aws_py() {
    AWS_OPS_CALLER="cleanup.sh" "$PYTHON" "$root/scripts/aws_ops.py" "$@"
}

# --- 1. prerequisites ---------------------------------------------------------------------------
step "Checking prerequisites"
command -v terraform >/dev/null 2>&1 ||
    die "terraform is not installed: get Terraform 1.5 or newer from https://developer.hashicorp.com/terraform/install"
"$PYTHON" -c 'import boto3' 2>/dev/null ||
    die "$PYTHON has no boto3: run 'make build' or 'make test' once (creates .venv), or 'pip install boto3', or set PYTHON"
read -r account region caller < <(aws_py identity) || exit 1
echo "account $account, region $region, as $caller"

tf_quiet() {
    local out
    out="$(terraform -chdir="$tf_dir" "$@" 2>&1)" || { printf '%s\n' "$out" >&2; die "terraform $1 failed"; }
}
init_args=(-input=false -no-color)
[ -n "${TF_PLUGIN_DIR:-}" ] && init_args+=("-plugin-dir=$TF_PLUGIN_DIR")
tf_quiet init "${init_args[@]}"
# Captured first: a `... | grep -q` pipeline under pipefail fails at random on SIGPIPE.
workspaces="$(terraform -chdir="$tf_dir" workspace list 2>/dev/null | sed 's/^[* ]*//' || true)"
if ! grep -qx "$env_name" <<<"$workspaces"; then
    echo "No Terraform workspace '$env_name': nothing of this environment was deployed from here."
    rm -rf "$build_dir"
    echo "Removed $build_dir."
    exit 0
fi
tf_quiet workspace select "$env_name"
# The outputs name the bucket and the key. They are kept in the build directory until the end, so
# a cleanup that stopped half-way (when state no longer has outputs) still knows them.
mkdir -p "$build_dir"
saved="$build_dir/$env_name.cleanup-outputs.json"
outputs="$(terraform -chdir="$tf_dir" output -json 2>/dev/null || echo '{}')"
if [ "$outputs" = "{}" ] && [ -f "$saved" ]; then
    outputs="$(cat "$saved")"
else
    printf '%s' "$outputs" >"$saved"
fi
output() {
    printf '%s' "$outputs" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], {}).get("value", ""))' "$1"
}
bucket="$(output site_bucket)"
media_bucket="$(output media_bucket)"
key_name="$(output jwt_secret_parameter_name)"
resources="$(terraform -chdir="$tf_dir" state list 2>/dev/null | grep -vc '^data\.' || true)"

# --- 2. confirmation ------------------------------------------------------------------------------
cat <<EOF

This deletes environment '$env_name' in account $account, region $region:
  $resources Terraform-managed resources (tables with every user and message, APIs, functions,
  the site), the site bucket ${bucket:-(none)}, the media bucket ${media_bucket:-(none)} with
  every uploaded file, the signing key ${key_name:-(none)},
  the '$env_name' Terraform state, and $build_dir.
EOF
if ! $assume_yes; then
    [ -t 0 ] || die "not asking on a non-interactive input: pass --yes to confirm"
    read -r -p "Type the environment name ($env_name) to confirm: " answer
    [ "$answer" = "$env_name" ] || die "not confirmed; nothing was deleted"
fi

# --- 3. empty the bucket, destroy, delete the key, the state and the build ----------------------
if [ -n "$bucket" ]; then
    step "Emptying the site bucket"
    aws_py empty-bucket "$bucket"
fi
if [ -n "$media_bucket" ]; then
    step "Emptying the media bucket"
    aws_py empty-bucket "$media_bucket"
fi

step "terraform destroy"
log="$build_dir/$env_name.destroy.log"
var_args=(-var "environment=$env_name")
[ -f "$tf_dir/env/$env_name.tfvars" ] && var_args=(-var-file "env/$env_name.tfvars" "${var_args[@]}")
# Terraform hashes the zips while it reads the configuration, even to destroy: when the build
# output is gone, any existing file stands in for them.
[ -f "$build_dir/function.zip" ] || var_args+=(-var "function_zip=$root/cleanup.sh")
[ -f "$build_dir/layer.zip" ] || var_args+=(-var "layer_zip=$root/cleanup.sh")
[ -f "$build_dir/function.zip" ] && var_args+=(-var "function_zip=$build_dir/function.zip")
[ -f "$build_dir/layer.zip" ] && var_args+=(-var "layer_zip=$build_dir/layer.zip")
started=$SECONDS
if ! terraform -chdir="$tf_dir" destroy -input=false -no-color -auto-approve \
    "${var_args[@]}" ${tf_args[@]+"${tf_args[@]}"} >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    die "terraform destroy failed (full log: $log); the state is kept: fix the cause and re-run ./cleanup.sh --env $env_name"
fi
grep -E '^Destroy complete' "$log" || true
echo "destroyed in $((SECONDS - started)) s"

if [ -n "$key_name" ]; then
    step "Deleting the JWT signing key"
    aws_py delete-parameter "$key_name"
fi

step "Deleting the '$env_name' workspace and the build output"
tf_quiet workspace select default
tf_quiet workspace delete "$env_name"
rm -rf "$build_dir"
echo "Environment '$env_name' is gone."
