# shellcheck shell=bash
# A private PostgreSQL cluster on 127.0.0.1 with the demo database.

pg_alive() { pidfile_alive "$PG_PIDFILE" postgres; }
as_postgres() { runuser -u postgres -- env -C / "$@"; }

ensure_postgres() {
  step "PostgreSQL on 127.0.0.1:$PG_PORT"
  id -u postgres >/dev/null 2>&1 || die "no postgres user (is the postgresql package installed?)"
  mkdir -p "$PG_DIR"
  chmod 755 "$PG_DIR"
  # initdb refuses root; data and socket directories belong to postgres.
  [[ -d $PG_DATA ]] || install -d -o postgres -g postgres -m 700 "$PG_DATA"
  [[ -d $PG_SOCKDIR ]] || install -d -o postgres -g postgres -m 755 "$PG_SOCKDIR"
  [[ -d $PG_DIR/log ]] || install -d -o postgres -g postgres -m 755 "$PG_DIR/log"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -A trust -N -U postgres -E UTF8 --locale=C >/dev/null ||
      die "initdb failed"
  fi
  local opts="-p $PG_PORT -k $PG_SOCKDIR -c listen_addresses=127.0.0.1 -c fsync=off"
  local current=""
  [[ -f $PG_DIR/options ]] && current=$(<"$PG_DIR/options")
  if pg_alive && [[ $current != "$opts" ]]; then
    log "PostgreSQL options changed: restarting"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop
  fi
  if ! pg_alive; then
    clear_stale_pidfile
    ensure_port_free "$PG_PORT" PostgreSQL SHIPDECK_RIG_PG_PORT
    printf '%s\n' "$opts" >"$PG_DIR/options"
    # -l: the server's output goes to its log, never to our caller's pipes.
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/log/postgres.log" -w -t 60 -o "$opts" start ||
      die "pg_ctl start failed (see $PG_DIR/log/postgres.log)"
  fi
  ensure_demo_db
}

# A postmaster killed with SIGKILL leaves postmaster.pid behind, and postgres refuses to start
# while that pid exists, a zombie included (PID 1 here reaps late). Wait for the zombie; a pid
# that now belongs to some other process means the file is simply stale.
clear_stale_pidfile() {
  local old
  old=$(pidfile_pid "$PG_PIDFILE") || return 0
  if [[ -r /proc/$old/stat && $(</proc/"$old"/stat) == *") Z "* ]]; then
    wait_until 30 "the killed postmaster $old to be reaped" pid_gone "$old"
  fi
  if ! pid_alive "$old" postgres; then
    log "removing stale $PG_PIDFILE (pid $old is not a postmaster)"
    rm -f "$PG_PIDFILE"
  fi
}

psql_as() {
  local user=$1 db=$2
  shift 2
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" -U "$user" -d "$db" "$@"
}

ensure_demo_db() {
  local exists
  exists=$(psql_as postgres postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")
  [[ $exists == 1 ]] && return 0
  step "creating database $PG_DB"
  psql_as postgres postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$RIG_USER') THEN
    CREATE ROLE $RIG_USER LOGIN;
  END IF;
END \$\$;
CREATE DATABASE $PG_DB OWNER $RIG_USER;
SQL
  psql_as "$RIG_USER" "$PG_DB" <<'SQL'
CREATE TABLE items (
  id serial PRIMARY KEY,
  name text NOT NULL,
  qty integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO items (name, qty)
SELECT 'item-' || n, n * 10 FROM generate_series(1, 10) AS n;
SQL
}

stop_postgres() {
  pg_alive || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop ||
    stop_pid "$(pidfile_pid "$PG_PIDFILE")" postgres 10
}
