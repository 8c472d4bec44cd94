#!/usr/bin/env bash
# Installs (or upgrades) tvm-upload on a vehicle: the self-contained build, the systemd unit, the config and the
# state directory, then validates the config and starts the service. Safe to run again: an existing config is kept
# (with a dated backup), nothing is installed twice.
#
# Usage: sudo scripts/deployment/install.sh [options]
#   --build DIR      the vehicle build (default: apps/agent/dist/vehicle, made by `pnpm --filter @tvm/agent bundle`)
#   --config FILE    install FILE as /etc/tvm-upload/config.yaml (the current one is backed up first);
#                    without it an existing config is kept and a new vehicle gets deploy/config/config.example.yaml
#   --user USER      the account the agent runs as; its home holds the logs and ~/.aws (default: $SUDO_USER, else root)
#   --rw-path DIR    another log directory the deletion policies may clean (repeatable; added to ReadWritePaths;
#                    a leading ~/ or ${HOME}/ is the service user's home)
#   --root DIR       install into DIR instead of / (image builds and tests): no systemctl, no chown
#   --no-start       install and validate, but do not (re)start the service
#   --dry-run        print what would be done, change nothing (also DRY_RUN=1)
#   -h, --help
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${REPO_DIR}/apps/agent/dist/vehicle"
CONFIG_SOURCE=""
SERVICE_USER="${SUDO_USER:-root}"
ROOT=""
START=1
DRY_RUN="${DRY_RUN:-0}"
RW_PATHS=()
SERVICE="tvm-upload"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD_DIR="$2"; shift 2 ;;
    --config) CONFIG_SOURCE="$2"; shift 2 ;;
    --user) SERVICE_USER="$2"; shift 2 ;;
    --rw-path) RW_PATHS+=("$2"); shift 2 ;;
    --root) ROOT="${2%/}"; shift 2 ;;
    --no-start) START=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

OPT_DIR="${ROOT}/opt/tvm-upload"
ETC_DIR="${ROOT}/etc/tvm-upload"
STATE_DIR="${ROOT}/var/lib/tvm-upload"
UNIT_DIR="${ROOT}/etc/systemd/system"
DROPIN_DIR="${UNIT_DIR}/${SERVICE}.service.d"
BIN_LINK="${ROOT}/usr/local/bin/tvm-upload"
CONFIG="${ETC_DIR}/config.yaml"
STAMP="$(date +%Y%m%d-%H%M%S)"

say() { printf '==> %s\n' "$*"; }
run() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '[dry-run] %s\n' "$*"
  else
    "$@"
  fi
}
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# Preconditions -----------------------------------------------------------------------------------------------
[[ -f "${BUILD_DIR}/tvm-upload.mjs" && -x "${BUILD_DIR}/bin/tvm-upload" ]] ||
  die "no vehicle build in ${BUILD_DIR}: run 'pnpm --filter @tvm/agent bundle' first (or pass --build DIR)"
NODE_BIN="$(command -v node || true)"
[[ -n "${NODE_BIN}" ]] || die "node is not installed: the agent needs Node.js 20 or later"
NODE_MAJOR="$("${NODE_BIN}" -p 'process.versions.node.split(".")[0]')"
((NODE_MAJOR >= 20)) || die "Node.js ${NODE_MAJOR} is too old: the agent needs Node.js 20 or later"
if [[ -z "${ROOT}" && "${DRY_RUN}" != 1 && "$(id -u)" -ne 0 ]]; then
  die "run as root (sudo), or pass --root DIR to install into a directory"
fi
if [[ -z "${ROOT}" ]]; then
  id "${SERVICE_USER}" >/dev/null 2>&1 || die "user ${SERVICE_USER} does not exist (pass --user)"
fi
if [[ -n "${CONFIG_SOURCE}" && ! -f "${CONFIG_SOURCE}" ]]; then
  die "config ${CONFIG_SOURCE} not found"
fi

# Validate first: an invalid config must not replace a working one, nor be started --------------------------
if [[ -n "${CONFIG_SOURCE}" ]]; then
  CANDIDATE="${CONFIG_SOURCE}"
elif [[ -f "${CONFIG}" ]]; then
  CANDIDATE="${CONFIG}"
else
  CANDIDATE="${REPO_DIR}/deploy/config/config.example.yaml"
fi
say "Checking the config ${CANDIDATE}"
check_config() {
  if [[ -z "${ROOT}" ]]; then
    # With the service user's HOME, so ${HOME} and ~ expand as they will for the daemon (check-config reads
    # nothing but the config file, so running it as root is otherwise the same).
    env HOME="$(getent passwd "${SERVICE_USER}" | cut -d: -f6)" "${BUILD_DIR}/bin/tvm-upload" check-config --config "${CANDIDATE}"
  else
    "${BUILD_DIR}/bin/tvm-upload" check-config --config "${CANDIDATE}"
  fi
}
if ! check_config; then
  die "the config ${CANDIDATE} is invalid (problems above): fix it, then run install.sh again (nothing was changed)"
fi

# The build ---------------------------------------------------------------------------------------------------
say "Installing the agent into ${OPT_DIR}"
run mkdir -p "${OPT_DIR}" "$(dirname "${BIN_LINK}")"
# Copy into a fresh directory, then swap: a running agent keeps its open file, a half-copied build is never live.
run rm -rf "${OPT_DIR}.new"
run cp -R "${BUILD_DIR}" "${OPT_DIR}.new"
run rm -rf "${OPT_DIR}.old"
run mv "${OPT_DIR}" "${OPT_DIR}.old"
run mv "${OPT_DIR}.new" "${OPT_DIR}"
run rm -rf "${OPT_DIR}.old"
run ln -sfn /opt/tvm-upload/bin/tvm-upload "${BIN_LINK}"

# Config and state --------------------------------------------------------------------------------------------
run mkdir -p "${ETC_DIR}" "${STATE_DIR}"
run cp "${REPO_DIR}/deploy/config/config.example.yaml" "${ETC_DIR}/config.example.yaml"
backup_config() {
  local latest
  latest="$(find "${ETC_DIR}" -maxdepth 1 -name 'config.yaml.bak.*' 2>/dev/null | sort | tail -n 1)"
  # Idempotent: a second run with the same config does not pile up identical backups.
  if [[ -n "${latest}" ]] && cmp -s "${latest}" "${CONFIG}"; then
    say "Config backup ${latest} is current"
  else
    say "Backing up ${CONFIG} to ${CONFIG}.bak.${STAMP}"
    run cp -p "${CONFIG}" "${CONFIG}.bak.${STAMP}"
  fi
}
if [[ -f "${CONFIG}" ]]; then
  backup_config
  if [[ -n "${CONFIG_SOURCE}" ]] && ! cmp -s "${CONFIG_SOURCE}" "${CONFIG}"; then
    say "Installing ${CONFIG_SOURCE} as ${CONFIG}"
    run cp "${CONFIG_SOURCE}" "${CONFIG}"
  else
    say "Keeping the existing ${CONFIG}"
  fi
else
  say "Installing ${CONFIG_SOURCE:-the example config} as ${CONFIG}: edit vehicle_id and s3 before relying on it"
  run cp "${CONFIG_SOURCE:-${REPO_DIR}/deploy/config/config.example.yaml}" "${CONFIG}"
fi
if [[ -z "${ROOT}" ]]; then
  SERVICE_GROUP="$(id -gn "${SERVICE_USER}")"
  run chown -R "root:${SERVICE_GROUP}" "${ETC_DIR}"
  run chmod 0750 "${ETC_DIR}"
  run chmod 0640 "${CONFIG}"
  run chown -R "${SERVICE_USER}:${SERVICE_GROUP}" "${STATE_DIR}"
  run chmod 0750 "${STATE_DIR}"
fi

# The unit ----------------------------------------------------------------------------------------------------
say "Installing the systemd unit"
run mkdir -p "${DROPIN_DIR}"
run cp "${REPO_DIR}/deploy/systemd/${SERVICE}.service" "${UNIT_DIR}/${SERVICE}.service"
# The service user's home, from the passwd database (of the image with --root). In a system unit %h is root's
# home whatever User= says (systemd.unit(5)), so the unit cannot name the log directories itself: they are
# resolved here, for the user the agent really runs as.
user_home() {
  local entry=""
  if [[ -n "${ROOT}" && -f "${ROOT}/etc/passwd" ]]; then
    entry="$(awk -F: -v u="${SERVICE_USER}" '$1 == u { print $6 }' "${ROOT}/etc/passwd")"
  elif [[ -z "${ROOT}" ]]; then
    entry="$(getent passwd "${SERVICE_USER}" | cut -d: -f6)"
  fi
  if [[ -n "${entry}" ]]; then printf '%s\n' "${entry}"; elif [[ "${SERVICE_USER}" == root ]]; then echo /root; else echo "/home/${SERVICE_USER}"; fi
}
SERVICE_HOME="$(user_home)"
expand_home() {
  # The patterns are literal on purpose: ~ and ${HOME} name the service user's home, not the caller's.
  # shellcheck disable=SC2016,SC2088
  case "$1" in
    '~') printf '%s\n' "${SERVICE_HOME}" ;;
    '~/'*) printf '%s/%s\n' "${SERVICE_HOME}" "${1#\~/}" ;;
    '${HOME}'*) printf '%s%s\n' "${SERVICE_HOME}" "${1#\$\{HOME\}}" ;;
    '$HOME'*) printf '%s%s\n' "${SERVICE_HOME}" "${1#\$HOME}" ;;
    /*) printf '%s\n' "$1" ;;
    *) die "--rw-path $1 is not an absolute path (or ~/..., \${HOME}/...)" ;;
  esac
}
DEFAULT_LOG_DIRS=("${SERVICE_HOME}/.parcel/log" "${SERVICE_HOME}/.ros/log" "${SERVICE_HOME}/ros2_ws/log")
RESOLVED_RW_PATHS=()
for path in "${RW_PATHS[@]}"; do RESOLVED_RW_PATHS+=("$(expand_home "${path}")"); done
write_dropin() {
  printf '# Written by install.sh on %s; rerun install.sh to change it.\n[Service]\n' "${STAMP}"
  printf 'User=%s\n' "${SERVICE_USER}"
  if [[ -z "${ROOT}" ]]; then printf 'Group=%s\n' "$(id -gn "${SERVICE_USER}")"; fi
  # The log directories the deletion policies clean, in ${SERVICE_USER}'s home (${SERVICE_HOME}); "-" skips one
  # that does not exist on this vehicle. ProtectHome=read-only leaves the rest of every home read-only.
  local path
  for path in "${DEFAULT_LOG_DIRS[@]}" "${RESOLVED_RW_PATHS[@]}"; do printf 'ReadWritePaths=-%s\n' "${path}"; done
}
if [[ "${DRY_RUN}" == 1 ]]; then
  printf '[dry-run] write %s/10-install.conf:\n' "${DROPIN_DIR}"
  write_dropin
else
  write_dropin >"${DROPIN_DIR}/10-install.conf"
fi

# Start -------------------------------------------------------------------------------------------------------
if [[ -n "${ROOT}" ]]; then
  say "Installed into ${ROOT} (no service started: --root)"
  exit 0
fi
if [[ "${DRY_RUN}" != 1 ]] && ! command -v systemctl >/dev/null 2>&1; then
  die "systemctl not found: start the agent yourself with '${BIN_LINK} run'"
fi
run systemctl daemon-reload
run systemctl enable "${SERVICE}"
if [[ "${START}" == 0 ]]; then
  say "Installed; not started (--no-start). Start with: sudo systemctl start ${SERVICE}"
  exit 0
fi
# restart, not start: an upgrade must replace the running build.
run systemctl restart "${SERVICE}"
if [[ "${DRY_RUN}" != 1 ]]; then
  sleep 3
  if ! systemctl is-active --quiet "${SERVICE}"; then
    journalctl -u "${SERVICE}" -n 30 --no-pager >&2 || true
    die "${SERVICE} is not running (last log lines above)"
  fi
fi
say "tvm-upload is running. Check it with: sudo ${REPO_DIR}/scripts/deployment/health_check.sh"
