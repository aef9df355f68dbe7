# shellcheck shell=bash
# Shared paths and helpers for rig/up, rig/down, rig/reset-app and rig/restart-sshd.
# Sourcing this has no side effects beyond setting variables and functions.

export LC_ALL=C
RIG_REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
RIG_LINK=$RIG_REPO/rig/.run

# All state lives OUTSIDE the checkout: CI clones into /root/..., which the deploy user cannot
# traverse, and every path the deploy user, postgres or nginx's workers need must be reachable.
# One directory per checkout (short hash of its path); rig/.run is a symlink to it.
RIG_BASE=${SHIPDECK_RIG_STATE_BASE:-/var/lib/shipdeck-rig}
RIG_HASH=$(printf '%s' "$RIG_REPO" | sha256sum | cut -c1-10)
RUN=$RIG_BASE/$RIG_HASH
# Kept across `rig/down` and shared by checkouts: installing pm2 costs seconds and a network.
TOOLS=$RIG_BASE/tools

RIG_USER=deploy
SSH_PORT=${SHIPDECK_RIG_SSH_PORT:-22022}
APP_PORT=${SHIPDECK_RIG_APP_PORT:-13000}
NGINX_PORT=${SHIPDECK_RIG_NGINX_PORT:-18080}
PG_PORT=${SHIPDECK_RIG_PG_PORT:-15432}
APP_NAME=demo
PG_DB=demo

LOG=$RUN/up.log
FAIL_FILE=$RUN/.failed
SSH_DIR=$RUN/ssh
SSHD_CONFIG=$SSH_DIR/sshd_config
SSHD_PIDFILE=$SSH_DIR/sshd.pid
SSH_KEY=$SSH_DIR/id_ed25519
SSH_HOST_KEY=$SSH_DIR/ssh_host_ed25519_key
KNOWN_HOSTS=$SSH_DIR/known_hosts
PM2_PREFIX=$TOOLS/pm2-7
PM2_BIN=$PM2_PREFIX/node_modules/.bin/pm2
PM2_HOME=$RUN/pm2
PM2_PIDFILE=$PM2_HOME/pm2.pid
ORIGIN=$RUN/origin.git
APP_ROOT=$RUN/app
BACKUP_DIR=$RUN/backups
NGINX_PREFIX=$RUN/nginx
NGINX_CONF=$NGINX_PREFIX/nginx.conf
NGINX_UPSTREAM=$NGINX_PREFIX/upstream.conf
NGINX_PIDFILE=$NGINX_PREFIX/nginx.pid
PG_DIR=$RUN/pg
PG_DATA=$PG_DIR/data
PG_SOCKDIR=$PG_DIR/sock
PG_PIDFILE=$PG_DATA/postmaster.pid
ENV_FILE=$RUN/env.sh
CONFIG_FILE=$RUN/shipdeck.toml
APP_URL=http://127.0.0.1:$APP_PORT
NGINX_URL=http://127.0.0.1:$NGINX_PORT
DEMO_SRC=$RIG_REPO/examples/demo-app

STEP="starting"

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
# step TEXT: what the script is doing now; a failure line names it. The log's size is noted so
# that a failure quotes only what this step's commands said.
step() {
  STEP=$*
  STEP_LOG_OFFSET=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
  log "== $*"
}

# die MESSAGE: the one line the user sees; details stay in the log.
die() {
  log "FAILED: $*"
  [[ -s $FAIL_FILE ]] || printf '%s\n' "$*" >"$FAIL_FILE"
  exit 1
}

# trap_failure STATUS COMMAND: the ERR trap. The command's own last words (in the log) usually
# say more than the command does, so they go into the one line.
trap_failure() {
  local said
  said=$(tail -c +"$((${STEP_LOG_OFFSET:-0} + 1))" "$LOG" | grep -v -e '^[[:space:]]*$' -e '^[0-9:.]* == ' |
    tail -n 1 | cut -c1-200 || true)
  die "$STEP: ${2%% *} exited $1${said:+: $said}"
}

require_root() {
  if [[ $(id -u) != 0 ]]; then
    echo "$1: must run as root (it installs packages, adds the deploy user and starts daemons)" >&2
    exit 1
  fi
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_until SECONDS DESCRIPTION CMD...: poll CMD until it succeeds, or die at the deadline.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$(($(now_ms) + timeout * 1000))
  until "$@" >/dev/null 2>&1; do
    (($(now_ms) < deadline)) || die "timed out after ${timeout}s waiting for $what"
    sleep 0.1
  done
}

# pid_alive PID PATTERN: running (a zombie is not: PID 1 here reaps late, see RIG-NOTES) and its
# command line contains PATTERN, so a recycled pid is never mistaken for ours.
pid_alive() {
  local pid=$1 pattern=$2 stat state
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
  stat=$(</proc/"$pid"/stat) || return 1
  state=${stat##*) }
  state=${state%% *}
  [[ $state != Z && $state != X ]] || return 1
  local -a argv=()
  mapfile -d '' argv </proc/"$pid"/cmdline 2>/dev/null || return 1
  [[ "${argv[*]}" == *"$pattern"* ]]
}

# pid_gone PID: no process at all, not even a zombie waiting for PID 1 to reap it.
pid_gone() { [[ ! -e /proc/$1 ]]; }

pidfile_pid() {
  local pid=""
  [[ -r $1 ]] || return 1
  read -r pid <"$1" || [[ -n $pid ]] || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  echo "$pid"
}

# pidfile_alive PIDFILE PATTERN
pidfile_alive() {
  local pid
  pid=$(pidfile_pid "$1") && pid_alive "$pid" "$2"
}

# stop_pid PID PATTERN SECONDS: TERM, wait, then KILL the one process we started.
stop_pid() {
  local pid=$1 pattern=$2 timeout=$3
  pid_alive "$pid" "$pattern" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(($(now_ms) + timeout * 1000))
  while pid_alive "$pid" "$pattern"; do
    if (($(now_ms) >= deadline)); then
      log "pid $pid ($pattern) ignored TERM for ${timeout}s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}

# write_if_changed FILE [MODE] < content: atomic replace; status 0 if the file changed.
write_if_changed() {
  local file=$1 mode=${2:-644} new="" old=""
  IFS= read -r -d '' new || true
  if [[ -f $file ]]; then
    IFS= read -r -d '' old <"$file" || true
    [[ $new != "$old" ]] || return 1
  fi
  printf '%s' "$new" >"$file.tmp.$$"
  chmod "$mode" "$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
  return 0
}

# port_listeners PORT: pids with a TCP socket listening on PORT (any local address). Reads /proc,
# because ss/lsof are not on every minimal image.
port_listeners() {
  local hex inode
  printf -v hex '%04X' "$1"
  local -a inodes=()
  # Never fails: processes come and go while /proc is read, and tcp6 may not exist.
  mapfile -t inodes < <(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null || true)
  for inode in "${inodes[@]}"; do
    find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null || true
  done | cut -d/ -f3 | sort -un
}

cmdline_of() {
  local -a argv=()
  mapfile -d '' argv </proc/"$1"/cmdline 2>/dev/null || true
  local line="${argv[*]}"
  echo "${line%"${line##*[![:space:]]}"}"
}

# ensure_port_free PORT WHAT VARIABLE: a clear line instead of a daemon's "address in use" in
# its own log.
ensure_port_free() {
  local pid holders=""
  for pid in $(port_listeners "$1"); do
    holders+=" pid $pid ($(cmdline_of "$pid" | cut -c1-60))"
  done
  [[ -z $holders ]] || die "port $1 for $2 is taken by$holders; free it or set $3"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' -m 2 "$1" 2>/dev/null || true; }
http_ok() { [[ $(http_code "$1") == 200 ]]; }

app_version() {
  local body
  body=$(curl -s -m 2 "$APP_URL/api/status" 2>/dev/null) || return 1
  [[ $body =~ \"version\":\"([^\"]*)\" ]] || return 1
  echo "${BASH_REMATCH[1]}"
}
app_version_is() { [[ $(app_version) == "$1" ]]; }

deploy_home() { getent passwd "$RIG_USER" | cut -d: -f6; }

# The deploy user's environment, built from nothing (env -i): the pm2 daemon copies its whole
# environment into every app process, so nothing of ours or of CI may leak in (RIG-NOTES).
deploy_env() {
  DEPLOY_HOME=$(deploy_home)
  DEPLOY_ENV=(
    "HOME=$DEPLOY_HOME" "USER=$RIG_USER" "LOGNAME=$RIG_USER" "SHELL=/bin/bash" "LANG=C.UTF-8"
    "PATH=$DEPLOY_PATH" "PM2_HOME=$PM2_HOME" "PORT=$APP_PORT"
    "NODE_CLUSTER_SCHED_POLICY=none"
    "NPM_CONFIG_UPDATE_NOTIFIER=false" "NPM_CONFIG_FUND=false" "NPM_CONFIG_AUDIT=false"
  )
}

# as_deploy_in DIR CMD...: run as the deploy user with the clean environment, in DIR.
as_deploy_in() {
  local dir=$1
  shift
  runuser -u "$RIG_USER" -- env -i -C "$dir" "${DEPLOY_ENV[@]}" "$@"
}
as_deploy() { as_deploy_in / "$@"; }
pm2_cmd() { as_deploy "$PM2_BIN" "$@"; }

# run_logged NAME MAIN_FUNCTION ARGS...: run the work with all output in the log, then print
# either nothing (the caller prints a summary) or one clear failure line.
run_logged() {
  local name=$1 fn=$2
  shift 2
  mkdir -p "$RUN"
  chmod 755 "$RIG_BASE" "$RUN"
  exec 9>"$RUN/.lock"
  if ! flock -w 600 9; then
    echo "$name: another rig script has held $RUN/.lock for 10 minutes; giving up" >&2
    exit 1
  fi
  rm -f "$FAIL_FILE"
  # Every test session appends a run; keep the log from growing without bound.
  if [[ -f $LOG ]] && (($(stat -c %s "$LOG") > 2000000)); then
    tail -c 500000 "$LOG" >"$LOG.tmp" && mv -f "$LOG.tmp" "$LOG"
  fi
  printf '\n#### %s %s %s\n' "$name" "$*" "$(date -Is)" >>"$LOG"
  set +e
  # The work runs in a subshell whose only open files are the log and /dev/null: daemons it
  # starts inherit neither the caller's pipes (a test's captured stdout would never reach EOF)
  # nor fd 9 (the lock would stay held by the daemons forever).
  (
    set -eEuo pipefail
    trap 'trap_failure $? "$BASH_COMMAND"' ERR
    "$fn" "$@"
  ) >>"$LOG" 2>&1 </dev/null 9>&-
  local rc=$?
  set -e
  if ((rc != 0)); then
    local why="exit $rc"
    [[ -s $FAIL_FILE ]] && why=$(<"$FAIL_FILE")
    echo "$name: FAILED: $why (details: $RIG_LINK/up.log)" >&2
    exit 1
  fi
}
