# shellcheck shell=bash
# Stopping the rig: only what it started, found by pid file.

# prepare_for_stop: what stopping needs, without installing anything.
prepare_for_stop() {
  PG_BIN=$(pg_bin_dir) || PG_BIN=""
  if id -u "$RIG_USER" >/dev/null 2>&1 && command -v node >/dev/null; then
    resolve_node
  fi
}

rig_stop() {
  step "stopping nginx"
  stop_nginx
  step "stopping the pm2 daemon and the demo app"
  if [[ -n ${DEPLOY_ENV+x} && -x $PM2_BIN ]]; then
    stop_pm2_daemon
  else
    local pid
    pid=$(pidfile_pid "$PM2_PIDFILE") && stop_pid "$pid" "God Daemon" 10
  fi
  step "stopping PostgreSQL"
  [[ -n $PG_BIN ]] && stop_postgres
  step "stopping sshd and its sessions"
  stop_sshd sessions
}

# rig_wipe: everything that makes up the rig's "state"; kept are the ssh keys (so known_hosts
# stays valid), pm2 and the log.
rig_wipe() {
  step "wiping the rig's state"
  rm -rf "$APP_ROOT" "$ORIGIN" "$PM2_HOME" "$PG_DIR" "$NGINX_PREFIX" "$BACKUP_DIR" "$RUN/tmp" \
    "$ENV_FILE" "$CONFIG_FILE"
}
