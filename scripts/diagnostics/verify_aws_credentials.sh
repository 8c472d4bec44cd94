#!/usr/bin/env bash
# Checks the vehicle's AWS access as the agent will use it, from the agent's own config: credentials resolve for
# the configured profile, sts get-caller-identity, the bucket is reachable, a test object can be written under
# {vehicle_id}/test/ and removed, CloudWatch PutMetricData is allowed. Prints pass/fail per check with the reason.
# Exit code = number of failed checks (0 = all good).
#
# Usage: scripts/diagnostics/verify_aws_credentials.sh [--config FILE] [--json]
#   Environment: TVM_CONFIG (default /etc/tvm-upload/config.yaml), TVM_UPLOAD_BIN (default: tvm-upload on PATH,
#   else /opt/tvm-upload/bin/tvm-upload).
set -euo pipefail

CONFIG="${TVM_CONFIG:-/etc/tvm-upload/config.yaml}"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) CONFIG="$2"; shift 2 ;;
    --json) ARGS+=(--json); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "verify_aws_credentials.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

BIN="${TVM_UPLOAD_BIN:-$(command -v tvm-upload || echo /opt/tvm-upload/bin/tvm-upload)}"
if [[ ! -x "${BIN}" ]]; then
  echo "verify_aws_credentials.sh: tvm-upload not found (install it, or set TVM_UPLOAD_BIN)" >&2
  exit 1
fi
exec "${BIN}" verify --config "${CONFIG}" "${ARGS[@]}"
