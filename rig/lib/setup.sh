# shellcheck shell=bash
# Packages, node for the deploy user, pm2, the deploy user itself.

APT_PACKAGES=(openssh-server nginx postgresql tmux curl git)

ensure_packages() {
  step "checking packages"
  local -a missing=()
  local pkg status
  for pkg in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
  fi
  PG_BIN=$(pg_bin_dir) || die "no PostgreSQL server binaries under /usr/lib/postgresql"
}

pg_bin_dir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/pg_ctl ]] && best=$d
  done
  [[ -n $best ]] && echo "$best"
}

# resolve_node: the deploy user runs node and npm (pm2, npm ci, npm run build). If root's node is
# somewhere the deploy user cannot reach (e.g. under /root), a copy of its install goes to TOOLS.
resolve_node() {
  local node npm
  node=$(command -v node) || die "node is not on PATH (node 20 and npm are required)"
  npm=$(command -v npm) || die "npm is not on PATH (node 20 and npm are required)"
  NODE_DIR=$(dirname "$node")
  NPM_DIR=$(dirname "$npm")
  if ! runuser -u "$RIG_USER" -- "$node" --version >/dev/null 2>&1; then
    local real prefix
    real=$(readlink -f "$node")
    prefix=$(dirname "$(dirname "$real")")
    if [[ ! -x $TOOLS/node/bin/node ]]; then
      step "copying node from $prefix (not reachable by $RIG_USER)"
      [[ -d $prefix/lib/node_modules/npm ]] || die "cannot copy node for $RIG_USER: $prefix has no lib/node_modules/npm"
      rm -rf "$TOOLS/node.tmp"
      mkdir -p "$TOOLS/node.tmp"
      cp -a "$prefix/bin" "$prefix/lib" "$TOOLS/node.tmp/"
      chmod -R a+rX "$TOOLS/node.tmp"
      mv -T "$TOOLS/node.tmp" "$TOOLS/node"
    fi
    NODE_DIR=$TOOLS/node/bin
    NPM_DIR=$TOOLS/node/bin
  fi
  DEPLOY_PATH=$PM2_PREFIX/node_modules/.bin:$NODE_DIR
  [[ $NPM_DIR == "$NODE_DIR" ]] || DEPLOY_PATH+=:$NPM_DIR
  local d
  for d in /usr/local/bin /usr/bin /bin; do
    [[ :$DEPLOY_PATH: == *:$d:* ]] || DEPLOY_PATH+=:$d
  done
  deploy_env
}

ensure_pm2() {
  local pkg=$PM2_PREFIX/node_modules/pm2/package.json json=""
  if [[ -x $PM2_BIN && -r $pkg ]]; then
    json=$(<"$pkg")
    [[ $json =~ \"version\":\ *\"7\. ]] && return 0
  fi
  step "installing pm2@7 into $PM2_PREFIX"
  mkdir -p "$PM2_PREFIX"
  npm install --prefix "$PM2_PREFIX" --no-audit --no-fund --no-update-notifier pm2@7 ||
    die "npm install pm2@7 failed (is the npm registry reachable?)"
  chmod -R a+rX "$PM2_PREFIX"
  [[ -x $PM2_BIN ]] || die "pm2 installed but $PM2_BIN is missing"
}

ensure_user() {
  step "checking user $RIG_USER"
  if ! id -u "$RIG_USER" >/dev/null 2>&1; then
    if getent group "$RIG_USER" >/dev/null; then
      useradd --create-home --gid "$RIG_USER" --shell /bin/bash "$RIG_USER"
    else
      useradd --create-home --user-group --shell /bin/bash "$RIG_USER"
    fi
  fi
  # useradd leaves the account locked ("!"); with UsePAM no, sshd then refuses even key logins.
  local pw
  pw=$(getent shadow "$RIG_USER" | cut -d: -f2)
  if [[ -z $pw || $pw == '!'* ]]; then
    usermod -p '*' "$RIG_USER"
  fi
  local home
  home=$(deploy_home)
  [[ -d $home ]] || install -d -o "$RIG_USER" -g "$RIG_USER" -m 755 "$home"
}

# deploy_dir DIR [MODE]: a directory owned by the deploy user.
deploy_dir() {
  [[ -d $1 ]] || install -d -o "$RIG_USER" -g "$RIG_USER" -m "${2:-755}" "$1"
}
