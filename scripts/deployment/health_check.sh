#!/usr/bin/env bash
# tvm-upload health check (the runbook's "Run health check"). Each check prints PASS, WARN, FAIL or SKIP;
# the exit code is the number of FAILs (0 = healthy).
#
# Usage: sudo scripts/deployment/health_check.sh
# The state paths come from the config (upload.queue_file, upload.failed_file, as `tvm-upload check-config --json`
# reads them for the service user); the AWS check runs as the service user (the unit's User=), so ~/.aws is that
# user's, not root's. Every path is overridable (tests, non-default installs):
#   TVM_SERVICE        systemd unit name                          (tvm-upload)
#   TVM_CONFIG         agent config                               (/etc/tvm-upload/config.yaml)
#   TVM_SERVICE_USER   the user the agent runs as                 (the unit's User=, else the current user)
#   TVM_STATE_DIR      state directory                            (the queue file's directory, from the config)
#   TVM_QUEUE_FILE     queue file                                 (upload.queue_file, else $TVM_STATE_DIR/queue.json)
#   TVM_FAILED_FILE    failed list                                (upload.failed_file, else $TVM_STATE_DIR/failed.json)
#   TVM_UPLOAD_BIN     the agent command                          (tvm-upload on PATH, else /opt/tvm-upload/bin/tvm-upload)
#   TVM_LOG_FILE       read the agent's output from this file instead of journalctl
#   TVM_SKIP_SERVICE   1 = skip the systemd check (no systemd)     (0)
#   TVM_SKIP_VERIFY    1 = skip `tvm-upload verify` (offline)     (0)
#   TVM_QUEUE_MAX      queue length counted as a failure          (10000)
#   TVM_RETRY_WARN     retries in the last hour that warn         (20)
#   TVM_DISK_CRITICAL  disk use percent counted as a failure      (95)
#   TVM_DISK_PATHS     filesystems to check, space-separated      (/ and the state directory)
set -uo pipefail

case "${1:-}" in
  -h | --help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "health_check.sh: unknown option $1 (settings are environment variables, see --help)" >&2; exit 2 ;;
esac

SERVICE="${TVM_SERVICE:-tvm-upload}"
CONFIG="${TVM_CONFIG:-/etc/tvm-upload/config.yaml}"
BIN="${TVM_UPLOAD_BIN:-$(command -v tvm-upload || echo /opt/tvm-upload/bin/tvm-upload)}"

# The user the agent runs as: the checks that depend on it (${HOME} in the config, ~/.aws) run as that user.
SERVICE_USER="${TVM_SERVICE_USER:-}"
if [[ -z "${SERVICE_USER}" && "${TVM_SKIP_SERVICE:-0}" != 1 ]] && command -v systemctl >/dev/null 2>&1; then
  SERVICE_USER="$(systemctl show -p User --value "${SERVICE}" 2>/dev/null || true)"
fi
SERVICE_USER="${SERVICE_USER:-$(id -un)}"
as_service_user() {
  if [[ "$(id -un)" != "${SERVICE_USER}" && "$(id -u)" == 0 ]] && command -v runuser >/dev/null 2>&1; then
    runuser -u "${SERVICE_USER}" -- "$@"
  else
    "$@"
  fi
}

# The state paths as the agent reads them from its config; the defaults when the config cannot be read.
CONFIG_STATE=""
if [[ -x "${BIN}" && -r "${CONFIG}" ]] && command -v jq >/dev/null 2>&1; then
  CONFIG_STATE="$(as_service_user "${BIN}" check-config --json --config "${CONFIG}" 2>/dev/null | jq -r '.state | .stateDir, .queueFile, .failedFile' 2>/dev/null || true)"
fi
config_path() { sed -n "${1}p" <<<"${CONFIG_STATE}"; }
STATE_DIR="${TVM_STATE_DIR:-$(config_path 1)}"
STATE_DIR="${STATE_DIR:-/var/lib/tvm-upload}"
if [[ -n "${TVM_STATE_DIR:-}" ]]; then
  # An explicit state directory holds the state files under their usual names.
  QUEUE_FILE="${TVM_QUEUE_FILE:-${STATE_DIR}/queue.json}"
  FAILED_FILE="${TVM_FAILED_FILE:-${STATE_DIR}/failed.json}"
else
  QUEUE_FILE="${TVM_QUEUE_FILE:-$(config_path 2)}"
  QUEUE_FILE="${QUEUE_FILE:-${STATE_DIR}/queue.json}"
  FAILED_FILE="${TVM_FAILED_FILE:-$(config_path 3)}"
  FAILED_FILE="${FAILED_FILE:-${STATE_DIR}/failed.json}"
fi
LOG_FILE="${TVM_LOG_FILE:-}"
QUEUE_MAX="${TVM_QUEUE_MAX:-10000}"
RETRY_WARN="${TVM_RETRY_WARN:-20}"
DISK_CRITICAL="${TVM_DISK_CRITICAL:-95}"
DISK_PATHS="${TVM_DISK_PATHS:-/ ${STATE_DIR}}"

FAILURES=0
pass() { printf '[PASS] %s\n' "$*"; }
warn() { printf '[WARN] %s\n' "$*"; }
skip() { printf '[SKIP] %s\n' "$*"; }
fail() {
  printf '[FAIL] %s\n' "$*"
  FAILURES=$((FAILURES + 1))
}

# The agent's log lines since $1 ("1 hour ago"): from the journal, or from TVM_LOG_FILE (where time is unknown,
# so every line counts).
agent_log() {
  if [[ -n "${LOG_FILE}" ]]; then
    cat "${LOG_FILE}" 2>/dev/null
  else
    journalctl -u "${SERVICE}" --since "$1" --no-pager -q 2>/dev/null
  fi
}

echo "tvm-upload health check ($(date '+%Y-%m-%d %H:%M:%S'))"

# 1. The service ------------------------------------------------------------------------------------------------
if [[ "${TVM_SKIP_SERVICE:-0}" == 1 ]]; then
  skip "service: TVM_SKIP_SERVICE=1"
elif ! command -v systemctl >/dev/null 2>&1; then
  fail "service: systemctl not found (no systemd; set TVM_SKIP_SERVICE=1 to skip)"
elif systemctl is-active --quiet "${SERVICE}"; then
  pass "service: ${SERVICE} is active (restarts: $(systemctl show -p NRestarts --value "${SERVICE}" 2>/dev/null || echo '?'))"
else
  fail "service: ${SERVICE} is $(systemctl is-active "${SERVICE}" 2>/dev/null || true) (see: sudo systemctl status ${SERVICE})"
fi

# 2. Recent errors ------------------------------------------------------------------------------------------------
if [[ -z "${LOG_FILE}" ]] && ! command -v journalctl >/dev/null 2>&1; then
  skip "recent errors: journalctl not found (set TVM_LOG_FILE to read a log file)"
else
  permanent="$(agent_log "24 hours ago" | grep -c "PERMANENT FAILURE")"
  retries="$(agent_log "1 hour ago" | grep -c "Retry")"
  if ((permanent > 0)); then
    fail "recent errors: ${permanent} PERMANENT FAILURE line(s) in 24 h (journalctl -u ${SERVICE} --since '24 hours ago' | grep -A 5 'PERMANENT FAILURE')"
  else
    pass "recent errors: no PERMANENT FAILURE in 24 h"
  fi
  if ((retries > RETRY_WARN)); then
    warn "retries: ${retries} Retry line(s) in the last hour (network or service trouble?)"
  else
    pass "retries: ${retries} Retry line(s) in the last hour"
  fi
fi

# 3. Queue and failed list ---------------------------------------------------------------------------------------
count_files() {
  # The runbook's query: the queue and the failed list are both {"files": [...]}.
  jq '.files | length' "$1" 2>/dev/null
}
if ! command -v jq >/dev/null 2>&1; then
  fail "queue: jq not installed (apt-get install jq), cannot read ${QUEUE_FILE}"
else
  if [[ ! -e "${QUEUE_FILE}" ]]; then
    pass "queue: 0 files (no ${QUEUE_FILE} yet)"
  elif queued="$(count_files "${QUEUE_FILE}")" && [[ "${queued}" =~ ^[0-9]+$ ]]; then
    if ((queued > QUEUE_MAX)); then
      fail "queue: ${queued} files pending (more than ${QUEUE_MAX}; is the destination reachable?)"
    else
      pass "queue: ${queued} files pending"
    fi
  else
    fail "queue: cannot read ${QUEUE_FILE} (not JSON with a .files list?)"
  fi
  if [[ ! -e "${FAILED_FILE}" ]]; then
    pass "failed list: 0 files (no ${FAILED_FILE} yet)"
  elif failed="$(count_files "${FAILED_FILE}")" && [[ "${failed}" =~ ^[0-9]+$ ]]; then
    if ((failed > 0)); then
      fail "failed list: ${failed} file(s) need attention (tvm-upload failed; after fixing: tvm-upload requeue --all-failed)"
    else
      pass "failed list: empty"
    fi
  else
    fail "failed list: cannot read ${FAILED_FILE}"
  fi
fi

# 4. Disk --------------------------------------------------------------------------------------------------------
declare -A seen_fs=()
for path in ${DISK_PATHS}; do
  [[ -e "${path}" ]] || continue
  read -r fs used mount < <(df -P "${path}" 2>/dev/null | awk 'NR == 2 { sub("%", "", $5); print $1, $5, $6 }')
  [[ -n "${fs:-}" && -z "${seen_fs[${fs}]:-}" ]] || continue
  seen_fs[${fs}]=1
  if ((used >= DISK_CRITICAL)); then
    fail "disk: ${mount} is ${used}% full (critical at ${DISK_CRITICAL}%; see df -h ${mount})"
  else
    pass "disk: ${mount} is ${used}% full"
  fi
done

# 5. AWS access ----------------------------------------------------------------------------------------------------
if [[ "${TVM_SKIP_VERIFY:-0}" == 1 ]]; then
  skip "aws: TVM_SKIP_VERIFY=1"
elif [[ ! -x "${BIN}" ]]; then
  fail "aws: ${BIN} not found (is tvm-upload installed?)"
else
  verify_output="$(as_service_user "${BIN}" verify --config "${CONFIG}" 2>&1)"
  verify_failures=$?
  if ((verify_failures == 0)); then
    pass "aws: tvm-upload verify passed (as ${SERVICE_USER})"
  else
    fail "aws: tvm-upload verify reported ${verify_failures} failed check(s):"
    printf '%s\n' "${verify_output}" | sed 's/^/       /'
  fi
fi

echo "${FAILURES} failure(s)"
exit "${FAILURES}"
