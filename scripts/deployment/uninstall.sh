#!/usr/bin/env bash
# Removes tvm-upload from a vehicle: stops and disables the service, removes the unit, the build and the command.
# Without --keep-data it also removes the state (/var/lib/tvm-upload: queue, failed list, upload registry) and
# the config (/etc/tvm-upload); files still waiting in the queue are then never uploaded.
#
# Usage: sudo scripts/deployment/uninstall.sh [--keep-data] [--root DIR] [--dry-run]
#   --keep-data   keep /var/lib/tvm-upload and /etc/tvm-upload (a later install.sh picks them up again)
#   --root DIR    uninstall from DIR instead of / (no systemctl)
#   --dry-run     print what would be done, change nothing (also DRY_RUN=1)
set -euo pipefail

KEEP_DATA=0
ROOT=""
DRY_RUN="${DRY_RUN:-0}"
SERVICE="tvm-upload"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep-data) KEEP_DATA=1; shift ;;
    --root) ROOT="${2%/}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
run() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '[dry-run] %s\n' "$*"
  else
    "$@"
  fi
}

if [[ -z "${ROOT}" && "${DRY_RUN}" != 1 && "$(id -u)" -ne 0 ]]; then
  echo "uninstall.sh: run as root (sudo), or pass --root DIR" >&2
  exit 1
fi

if [[ -z "${ROOT}" ]] && command -v systemctl >/dev/null 2>&1; then
  say "Stopping and disabling ${SERVICE}"
  # The agent drains within 10 s; systemctl waits for it (TimeoutStopSec in the unit).
  run systemctl disable --now "${SERVICE}" || true
fi

say "Removing the unit, the build and the command"
run rm -f "${ROOT}/etc/systemd/system/${SERVICE}.service"
run rm -rf "${ROOT}/etc/systemd/system/${SERVICE}.service.d"
run rm -rf "${ROOT}/opt/tvm-upload"
run rm -f "${ROOT}/usr/local/bin/tvm-upload"
if [[ -z "${ROOT}" ]] && command -v systemctl >/dev/null 2>&1; then
  run systemctl daemon-reload || true
  run systemctl reset-failed "${SERVICE}" 2>/dev/null || true
fi

if [[ "${KEEP_DATA}" == 1 ]]; then
  say "Keeping ${ROOT}/var/lib/tvm-upload and ${ROOT}/etc/tvm-upload (--keep-data)"
else
  say "Removing ${ROOT}/var/lib/tvm-upload and ${ROOT}/etc/tvm-upload"
  run rm -rf "${ROOT}/var/lib/tvm-upload" "${ROOT}/etc/tvm-upload"
fi
say "tvm-upload removed"
