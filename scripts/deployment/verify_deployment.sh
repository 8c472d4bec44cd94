#!/usr/bin/env bash
# Checks that install.sh left a working installation: Node.js 20+, the build runs, the unit and its drop-in are in
# place (and enabled), the config is valid, the state directory is writable by the service user. Prints PASS/FAIL
# per check; exit code = number of failures. For the running service's health use health_check.sh.
#
# Usage: sudo scripts/deployment/verify_deployment.sh [--root DIR]
#   --root DIR   check an installation made with install.sh --root DIR (skips systemctl and user checks)
set -uo pipefail

ROOT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) ROOT="${2%/}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "verify_deployment.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

SERVICE="tvm-upload"
BIN="${ROOT}/opt/tvm-upload/bin/tvm-upload"
CONFIG="${ROOT}/etc/tvm-upload/config.yaml"
STATE_DIR="${ROOT}/var/lib/tvm-upload"
UNIT="${ROOT}/etc/systemd/system/${SERVICE}.service"
DROPIN="${ROOT}/etc/systemd/system/${SERVICE}.service.d/10-install.conf"

FAILURES=0
pass() { printf '[PASS] %s\n' "$*"; }
fail() {
  printf '[FAIL] %s\n' "$*"
  FAILURES=$((FAILURES + 1))
}

if node_version="$(node --version 2>/dev/null)"; then
  major="${node_version#v}"
  major="${major%%.*}"
  if ((major >= 20)); then pass "node: ${node_version}"; else fail "node: ${node_version} is too old (need 20+)"; fi
else
  fail "node: not installed (need Node.js 20+)"
fi

if [[ -x "${BIN}" ]] && version="$("${BIN}" --version 2>/dev/null)"; then
  pass "build: ${BIN} (version ${version})"
else
  fail "build: ${BIN} missing or does not run (run install.sh)"
fi

if [[ -f "${UNIT}" ]]; then pass "unit: ${UNIT}"; else fail "unit: ${UNIT} missing"; fi
SERVICE_USER=""
if [[ -f "${DROPIN}" ]]; then
  SERVICE_USER="$(sed -n 's/^User=//p' "${DROPIN}" | tail -n 1)"
  pass "unit drop-in: ${DROPIN} (User=${SERVICE_USER:-root})"
else
  fail "unit drop-in: ${DROPIN} missing (run install.sh)"
fi

if [[ ! -f "${CONFIG}" ]]; then
  fail "config: ${CONFIG} missing"
elif [[ -x "${BIN}" ]] && output="$("${BIN}" check-config --config "${CONFIG}" 2>&1)"; then
  pass "config: ${CONFIG} is valid"
else
  fail "config: ${CONFIG} is invalid:"
  printf '%s\n' "${output:-}" | sed 's/^/       /'
fi

if [[ ! -d "${STATE_DIR}" ]]; then
  fail "state: ${STATE_DIR} missing"
elif [[ -z "${ROOT}" && -n "${SERVICE_USER}" ]] && command -v runuser >/dev/null 2>&1; then
  if runuser -u "${SERVICE_USER}" -- test -w "${STATE_DIR}"; then
    pass "state: ${STATE_DIR} is writable by ${SERVICE_USER}"
  else
    fail "state: ${STATE_DIR} is not writable by ${SERVICE_USER}"
  fi
elif [[ -w "${STATE_DIR}" ]]; then
  pass "state: ${STATE_DIR} is writable"
else
  fail "state: ${STATE_DIR} is not writable"
fi

if [[ -z "${ROOT}" ]]; then
  if ! command -v systemctl >/dev/null 2>&1; then
    fail "systemd: systemctl not found"
  elif systemctl is-enabled --quiet "${SERVICE}" 2>/dev/null; then
    pass "systemd: ${SERVICE} is enabled ($(systemctl is-active "${SERVICE}" 2>/dev/null || true))"
  else
    fail "systemd: ${SERVICE} is not enabled (sudo systemctl enable --now ${SERVICE})"
  fi
fi

echo "${FAILURES} failure(s)"
exit "${FAILURES}"
