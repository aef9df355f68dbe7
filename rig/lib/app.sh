# shellcheck shell=bash
# The pm2 daemon of the deploy user, the demo app's origin repository and its releases.

pm2_alive() { pidfile_alive "$PM2_PIDFILE" "God Daemon"; }

ensure_pm2_daemon() {
  step "pm2 daemon for $RIG_USER (PM2_HOME=$PM2_HOME)"
  deploy_dir "$PM2_HOME" 700
  pm2_alive && return 0
  # `pm2 ping` starts the daemon with the clean environment of deploy_env, which carries
  # NODE_CLUSTER_SCHED_POLICY=none: without it cluster reloads drop connections (RIG-NOTES).
  pm2_cmd ping || die "pm2 ping failed (see $PM2_HOME/pm2.log)"
  wait_until 10 "the pm2 daemon's pid file" pm2_alive
}

stop_pm2_daemon() {
  local pid
  pid=$(pidfile_pid "$PM2_PIDFILE") || return 0
  pid_alive "$pid" "God Daemon" || return 0
  # `pm2 kill` stops the apps and then the daemon, through the daemon's own socket.
  pm2_cmd kill || log "pm2 kill failed; stopping the daemon by pid"
  stop_pid "$pid" "God Daemon" 10
}

# make_origin: a bare repository made from examples/demo-app with tags v1.0.0 and v1.1.0 that
# differ only in package.json's version, and main at v1.1.0. Fixed dates and identity give the
# same commit ids every time, so a recreated origin looks like the old one.
make_origin() {
  step "creating $ORIGIN"
  local src=$RUN/tmp/origin-src
  rm -rf "$ORIGIN"
  origin_commits "$src"
  deploy_dir "$ORIGIN"
  as_deploy git init -q --bare -b main "$ORIGIN"
  as_deploy_in "$src" git push -q "$ORIGIN" main v1.0.0 v1.1.0
  rm -rf "$src"
  demo_fingerprint >"$ORIGIN/shipdeck-demo-src"
}

# refresh_origin: examples/demo-app changed since origin.git was made (e.g. the demo app got its
# migrations): move main, v1.0.0 and v1.1.0 to commits of the new source with a forced push. Each
# ref moves atomically, so a test cloning meanwhile gets the old or the new, never nothing (a
# rm -rf + recreate would); branches other tests pushed stay.
refresh_origin() {
  step "updating $ORIGIN from $DEMO_SRC"
  local src=$RUN/tmp/origin-src
  origin_commits "$src"
  as_deploy_in "$src" git push -q -f "$ORIGIN" main v1.0.0 v1.1.0
  rm -rf "$src"
  demo_fingerprint >"$ORIGIN/shipdeck-demo-src"
}

# origin_commits DIR: a work tree in DIR holding the demo app's history: v1.0.0, v1.1.0, main.
origin_commits() {
  local src=$1
  rm -rf "$src"
  deploy_dir "$RUN/tmp"
  deploy_dir "$src"
  [[ -f $DEMO_SRC/package.json ]] || die "missing $DEMO_SRC/package.json"
  # Copied as root: the checkout itself may be unreadable to the deploy user.
  tar -C "$DEMO_SRC" --exclude=./node_modules --exclude=./dist --exclude=./.shipdeck-good -cf - . |
    tar -C "$src" --no-same-owner -xf -
  chown -R "$RIG_USER:$RIG_USER" "$src"
  local -a git=(git -c user.name=shipdeck-rig -c user.email=rig@shipdeck.invalid
    -c init.defaultBranch=main -c advice.detachedHead=false)
  as_deploy_in "$src" "${git[@]}" init -q -b main .
  set_demo_version "$src" 1.0.0
  as_deploy_in "$src" "${git[@]}" add -A
  as_deploy_in "$src" env GIT_AUTHOR_DATE=2026-01-01T10:00:00Z GIT_COMMITTER_DATE=2026-01-01T10:00:00Z \
    "${git[@]}" commit -q -m "demo app 1.0.0"
  as_deploy_in "$src" env GIT_COMMITTER_DATE=2026-01-01T10:00:00Z "${git[@]}" tag -a v1.0.0 -m "v1.0.0"
  set_demo_version "$src" 1.1.0
  as_deploy_in "$src" "${git[@]}" add package.json
  as_deploy_in "$src" env GIT_AUTHOR_DATE=2026-01-02T10:00:00Z GIT_COMMITTER_DATE=2026-01-02T10:00:00Z \
    "${git[@]}" commit -q -m "demo app 1.1.0"
  as_deploy_in "$src" env GIT_COMMITTER_DATE=2026-01-02T10:00:00Z "${git[@]}" tag -a v1.1.0 -m "v1.1.0"
  local changed
  changed=$(as_deploy_in "$src" git diff --name-only v1.0.0 v1.1.0)
  [[ $changed == package.json ]] || die "v1.0.0..v1.1.0 should change only package.json, changed: $changed"
}

# demo_fingerprint: one hash of the files origin.git is made from (what make_origin copies).
demo_fingerprint() {
  (cd "$DEMO_SRC" && find . -type f ! -path './node_modules/*' ! -path './dist/*' \
    ! -name .shipdeck-good -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

origin_ok() {
  [[ -f $ORIGIN/HEAD ]] || return 1
  local tag
  for tag in v1.0.0 v1.1.0; do
    [[ -f $ORIGIN/refs/tags/$tag ]] || grep -q " refs/tags/$tag\$" "$ORIGIN/packed-refs" 2>/dev/null || return 1
  done
}

# origin_current: origin.git was made from examples/demo-app as it is now.
origin_current() {
  [[ -f $ORIGIN/shipdeck-demo-src && $(<"$ORIGIN/shipdeck-demo-src") == "$(demo_fingerprint)" ]]
}

set_demo_version() {
  local file=$1/package.json
  # Only the first "version" key: the package's own.
  sed -i "0,/\"version\": *\"[^\"]*\"/s//\"version\": \"$2\"/" "$file"
  grep -q "\"version\": \"$2\"" "$file" || die "could not set version $2 in $file"
}

# make_release REF: clone REF into a new <root>/releases/<id>, install and build it there, and
# mark it good. Prints the release id.
make_release() {
  local ref=$1 id
  id=$(date -u +%Y%m%d%H%M%S)
  while [[ -e $APP_ROOT/releases/$id ]]; do id=$((id + 1)); done
  local dir=$APP_ROOT/releases/$id
  log "building release $id from $ref" >&2
  as_deploy git clone -q -c advice.detachedHead=false --branch "$ref" "$ORIGIN" "$dir" >&2
  as_deploy_in "$dir" npm ci --production >&2 || die "npm ci failed in $dir"
  as_deploy_in "$dir" npm run build >&2 || die "npm run build failed in $dir"
  as_deploy touch "$dir/.shipdeck-good"
  echo "$id"
}

# switch_current ID: ln -sfn + mv -T, so `current` is never missing (rename(2) is atomic).
switch_current() {
  as_deploy ln -sfn "releases/$1" "$APP_ROOT/current.tmp"
  as_deploy mv -T "$APP_ROOT/current.tmp" "$APP_ROOT/current"
}

start_app() {
  pm2_cmd start "$APP_ROOT/current/ecosystem.config.js" || die "pm2 start of the demo app failed"
  pm2_cmd save
}

wait_app() {
  wait_until 30 "$APP_URL/health to answer 200" http_ok "$APP_URL/health"
  if [[ -n ${1:-} ]]; then
    wait_until 30 "$APP_URL/api/status to report version $1" app_version_is "$1"
  fi
}

# fresh_app: the app root holds exactly one release (v1.0.0), live, and nothing else; pm2 runs
# the demo app from it (other apps on the shared daemon are left alone).
fresh_app() {
  step "deploying demo v1.0.0 into $APP_ROOT"
  deploy_dir "$APP_ROOT"
  deploy_dir "$APP_ROOT/releases"
  local id
  id=$(make_release v1.0.0)
  switch_current "$id"
  # Only the rig's own app: the daemon is shared with tests that run apps of their own, and
  # `delete all` took those down in the middle of their deploys.
  pm2_cmd delete "$APP_NAME" >/dev/null 2>&1 || true
  ensure_port_free "$APP_PORT" "the demo app" SHIPDECK_RIG_APP_PORT
  start_app
  wait_app 1.0.0
  # Only now the processes run from the new release can the others go.
  local entry
  for entry in "$APP_ROOT"/releases/* "$APP_ROOT"/* "$APP_ROOT"/.[!.]*; do
    [[ -e $entry || -L $entry ]] || continue
    case $entry in
      "$APP_ROOT/releases/$id" | "$APP_ROOT/releases" | "$APP_ROOT/current") ;;
      *) rm -rf "$entry" ;;
    esac
  done
}

ensure_app() {
  step "demo app on $APP_URL"
  if ! origin_ok; then
    make_origin
  elif ! origin_current; then
    refresh_origin
  fi
  if [[ ! -L $APP_ROOT/current ]]; then
    fresh_app
  elif ! http_ok "$APP_URL/health"; then
    step "restarting the demo app from $APP_ROOT/current"
    start_app
    # What runs is whatever a test last deployed; if that cannot start, say how to get back.
    http_ok "$APP_URL/health" || wait_until 30 \
      "$APP_URL/health to answer 200 (if the live release is broken, rig/reset-app puts v1.0.0 back)" \
      http_ok "$APP_URL/health"
  fi
}
