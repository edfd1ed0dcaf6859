#!/usr/bin/env bash
# berth's quick start: from a fresh Debian machine (Node 20, root) to the Guestbook running on
# berth, deployed by a real `git push`. Run it from anywhere: `bash scripts/quickstart.sh`.
#
# 1. installs what is missing: the npm dependencies (`npm ci`, skipped when node_modules
#    matches package-lock.json) and the Debian packages the run needs (as root, with apt-get);
# 2. makes sure a Docker Engine answers (reused, else dockerd started in the background; when
#    none is installed, Debian's docker.io is installed only with --install-docker);
# 3. builds the Guestbook's images that are missing (`npm run images`);
# 4. starts `berth serve` in the background (log: DATA_DIR/serve.log), or reuses the one
#    already serving the data dir;
# 5. copies the guestbook/ folder (manifests, the frontend's source, .berthignore) into a git
#    repository, ~/berth-guestbook (an existing one is reused as it is: nothing of yours is
#    committed), and pushes it to berth;
# 6. waits until the app is Synced and Healthy and its page answers, then says what to try.
#
# Every step prints one `==> step` line and what it found or did. Safe to run again: what is
# there is reused, and a second run finishes in seconds.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/quickstart.sh [--install-docker] [--data-dir DIR] [--listen HOST:PORT]

Runs the Guestbook on berth on this machine: installs what is missing, starts berth serve in
the background, pushes the Guestbook to it with git and waits until it is ready.

Options:
  --install-docker     install Debian's docker.io when no Docker Engine is installed (as root)
  --data-dir DIR       berth serve's data dir
                       (default $XDG_DATA_HOME/berth/operator, else ~/.local/share/berth/operator)
  --listen HOST:PORT   where berth serve listens (default 127.0.0.1:7070; port 0 picks one)
  -h, --help           show this help

The Guestbook's repository is ~/berth-guestbook: edit it, commit and `git push` to deploy.
EOF
}

INSTALL_DOCKER=false
DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}/berth/operator
DATA_DIR_GIVEN=false
LISTEN=127.0.0.1:7070
while [ $# -gt 0 ]; do
  case $1 in
    --install-docker) INSTALL_DOCKER=true ;;
    --data-dir | --listen)
      if [ $# -lt 2 ] || [ -z "$2" ]; then
        echo "quickstart: $1 needs a value (see --help)" >&2
        exit 2
      fi
      if [ "$1" = --data-dir ]; then
        DATA_DIR=$2
        DATA_DIR_GIVEN=true
      else
        LISTEN=$2
      fi
      shift
      ;;
    --data-dir=*)
      DATA_DIR=${1#*=}
      DATA_DIR_GIVEN=true
      ;;
    --listen=*) LISTEN=${1#*=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "quickstart: unknown option $1 (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
exec </dev/null
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)

APP=guestbook
WORK_REPO=$HOME/berth-guestbook
GUESTBOOK_URL=http://127.0.0.1:30080/
# Debian packages the run needs (docker.io is step 2's): the real git client pushes; the agent
# makes its pod sandbox image from busybox-static; the image builder runs mmdebstrap; the
# agent's service rules need iptables, ip and sysctl.
REQUIRED_PACKAGES=(git busybox-static mmdebstrap iptables iproute2 procps)
SERVE_START_TIMEOUT_SECONDS=60
READY_TIMEOUT=5m

BERTH=(node "$ROOT/bin/berth.js")
DOCKERD_LOG=/var/log/berth/dockerd.log
# shellcheck source=scripts/lib/docker.sh
source "$ROOT/scripts/lib/docker.sh"
# package_present, install_missing_packages
# shellcheck source=scripts/lib/packages.sh
source "$ROOT/scripts/lib/packages.sh"

step() { printf '==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() {
  printf 'quickstart: %s\n' "$*" >&2
  exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }
# Prints its input indented, as a step's detail.
indent() { sed 's/^/    /'; }

# --- 1. dependencies -----------------------------------------------------------------------

install_packages() {
  local missing=() package
  for package in "${REQUIRED_PACKAGES[@]}"; do
    package_present "$package" || missing+=("$package")
  done
  if ! is_root; then
    if [ ${#missing[@]} -gt 0 ]; then
      echo "quickstart: missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    fi
    die "run this as root (sudo bash scripts/quickstart.sh): berth's node agent writes the iptables rules of the Guestbook's services"
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: ${REQUIRED_PACKAGES[*]} present"
    return 0
  fi
  install_missing_packages "${missing[@]}" | indent
}

# True when node_modules holds exactly what package-lock.json says (npm's own record of what it
# installed, node_modules/.package-lock.json, against the lock; optional packages of other
# platforms are in the lock only).
node_modules_current() {
  [ -f node_modules/.package-lock.json ] && [ -x node_modules/.bin/tsc ] || return 1
  node -e '
    const { readFileSync } = require("node:fs");
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8")).packages ?? {};
    const installed = JSON.parse(readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
    for (const [key, entry] of Object.entries(lock)) {
      if (key === "") continue;
      const there = installed[key];
      if (there === undefined ? !entry.optional : there.version !== entry.version) process.exit(1);
    }
    for (const key of Object.keys(installed)) if (!(key in lock)) process.exit(1);
  '
}

install_npm_dependencies() {
  if node_modules_current; then
    say "npm dependencies: node_modules matches package-lock.json"
    # npm ci builds dist/ (prepare); without it, build when a source is newer than the build.
    if [ ! -f dist/.tsbuildinfo ] || [ ! -f dist/cli/main.js ] ||
      [ -n "$(find operator package.json tsconfig.json tsconfig.build.json -newer dist/.tsbuildinfo -print -quit)" ]; then
      say "building dist/ (npm run build)"
      npm run --silent build || die "the build failed (see above)"
    fi
    return 0
  fi
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error 2>&1 | indent || die "npm ci failed (see above)"
}

step "dependencies"
command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is needed (with npm); install it first"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is needed; this is $(node --version)"
install_packages
install_npm_dependencies

# --- 2. Docker Engine ----------------------------------------------------------------------

step "Docker Engine"
if ! docker_installed; then
  if [ "$INSTALL_DOCKER" != true ]; then
    die "no Docker Engine is installed; install Debian's: apt-get install docker.io (as root), or run this script again as root with --install-docker"
  fi
  is_root || die "--install-docker needs root (apt-get install docker.io)"
  say "installing Debian's docker.io (apt-get, --install-docker)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 docker.io >/dev/null
fi
ensure_docker 2>&1 | indent || die "no Docker Engine answers (see above)"

# --- 3. images -----------------------------------------------------------------------------

step "images"
mapfile -t images < <(sed -n 's/^[[:space:]]*image:[[:space:]]*["'\'']\{0,1\}\([^"'\''[:space:]]*\).*/\1/p' guestbook/*.yaml | sort -u)
say "the Guestbook runs ${images[*]}"
if [ -z "$(node -p 'require("./package.json").scripts?.images ?? ""')" ]; then
  die "this checkout has no \`npm run images\` to build them"
fi
# The builder skips an image that is present and current; it shows progress per image.
npm run --silent images -- "${images[@]}" || die "building the images failed (see above)"

# --- 4. berth serve ------------------------------------------------------------------------

# The URL of the berth serve running on the data dir (server.json's, when its pid answers its
# health check), or nothing.
running_serve_url() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const { readFileSync } = require("node:fs");
    let record;
    try { record = JSON.parse(readFileSync(process.argv[1], "utf8")); } catch { process.exit(1); }
    fetch(`${record.url}/api/v1/health`, { signal: AbortSignal.timeout(2000) })
      .then((response) => response.json())
      .then((body) => {
        if (body.ok !== true || body.pid !== record.pid) process.exit(1);
        console.log(record.url);
      })
      .catch(() => process.exit(1));
  ' "$DATA_DIR/server.json" 2>/dev/null
}

step "berth serve"
SERVE_LOG=$DATA_DIR/serve.log
if SERVER_URL=$(running_serve_url); then
  say "reusing the berth serve at $SERVER_URL (data dir $DATA_DIR)"
else
  say "starting berth serve --listen $LISTEN --data-dir $DATA_DIR (log: $SERVE_LOG)"
  # Own session and no terminal: it keeps running after this script, like a service.
  setsid nohup "${BERTH[@]}" serve --listen "$LISTEN" --data-dir "$DATA_DIR" >>"$SERVE_LOG" 2>&1 </dev/null &
  serve_pid=$!
  deadline=$((SECONDS + SERVE_START_TIMEOUT_SECONDS))
  until SERVER_URL=$(running_serve_url); do
    if ! kill -0 "$serve_pid" 2>/dev/null; then
      echo "berth serve exited; last lines of $SERVE_LOG:" >&2
      tail -n 20 "$SERVE_LOG" >&2 || true
      die "berth serve did not start"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$SERVE_LOG" >&2 || true
      die "berth serve did not answer within ${SERVE_START_TIMEOUT_SECONDS}s (pid $serve_pid)"
    fi
    sleep 0.2
  done
  say "berth serve answers at $SERVER_URL (pid $serve_pid)"
fi

# --- 5. git push ---------------------------------------------------------------------------

step "git push"
TOKEN_FILE=$DATA_DIR/token
[ -s "$TOKEN_FILE" ] || die "no token in $TOKEN_FILE"
PUSH_URL=$SERVER_URL/git/$APP.git

if [ -d "$WORK_REPO/.git" ]; then
  say "reusing the repository $WORK_REPO (its commits as they are)"
elif [ -e "$WORK_REPO" ] && [ -n "$(ls -A "$WORK_REPO" 2>/dev/null)" ]; then
  die "$WORK_REPO exists and is not a git repository; move it away and run again"
else
  mkdir -p "$WORK_REPO"
  # The whole guestbook/ folder: its manifests, README, and frontend/ (the frontend's source and
  # image recipe), which its .berthignore keeps berth from reading as manifests.
  cp -R "$ROOT/guestbook/." "$WORK_REPO/"
  git -C "$WORK_REPO" init -q -b main
  git -C "$WORK_REPO" add -A
  # An identity for this first commit only when git has none.
  identity=()
  if [ -z "$(git -C "$WORK_REPO" config user.email || true)" ]; then
    identity=(-c user.name=berth -c user.email=berth@localhost)
  fi
  git -C "$WORK_REPO" "${identity[@]}" commit -q -m "Guestbook: redis master, redis replicas and the frontend"
  say "made $WORK_REPO from guestbook/ (branch main, one commit)"
fi
branch=main
git -C "$WORK_REPO" rev-parse -q --verify "refs/heads/$branch" >/dev/null ||
  die "$WORK_REPO has no branch $branch to push"

# The remote `berth`, with the token read from the token file by a credential helper at each
# push to this server: the token itself is never written into .git/config, the URL or this
# output. The empty helper first sets aside the user's own helpers, so none stores the token.
if git -C "$WORK_REPO" remote get-url berth >/dev/null 2>&1; then
  git -C "$WORK_REPO" remote set-url berth "$PUSH_URL"
else
  git -C "$WORK_REPO" remote add berth "$PUSH_URL"
fi
helper_key=credential.$SERVER_URL.helper
git -C "$WORK_REPO" config --unset-all "$helper_key" || true
git -C "$WORK_REPO" config --add "$helper_key" ''
# shellcheck disable=SC2016 # expanded by git's shell at each push, not here
helper='!f() { test "$1" = get || return 0; printf "username=berth\npassword=%s\n" "$(cat '
helper+="'${TOKEN_FILE//\'/\'\\\'\'}'"
helper+=')"; }; f'
git -C "$WORK_REPO" config --add "$helper_key" "$helper"

push_output=$(git -C "$WORK_REPO" push -u berth "$branch" 2>&1) || {
  printf '%s\n' "$push_output" | indent >&2
  die "git push to $PUSH_URL failed"
}
# git pads the server's lines with spaces; what matters is what berth says.
printf '%s\n' "$push_output" | sed 's/[[:space:]]*$//' | grep -v '^To \|^branch .* set up to track' | indent || true
if printf '%s\n' "$push_output" | grep -q 'not deployed'; then
  die "berth keeps the push but does not deploy it (see above); another app named $APP exists"
fi
commit=$(git -C "$WORK_REPO" rev-parse "refs/heads/$branch")
say "pushed $branch at ${commit:0:7} to $PUSH_URL"

# --- 6. ready ------------------------------------------------------------------------------

step "waiting until $APP is Synced and Healthy"
"${BERTH[@]}" status "$APP" --wait --timeout "$READY_TIMEOUT" --commit "$commit" --data-dir "$DATA_DIR" ||
  die "$APP is not ready; see \`npx berth status $APP\` and \`npx berth get pods\`"

# The service's rules follow the pods' readiness within a second or so: wait for the page.
# shellcheck disable=SC2016 # JavaScript, not shell
if ! node -e '
  const url = process.argv[1];
  const deadline = Date.now() + 60_000;
  const attempt = () =>
    fetch(url, { signal: AbortSignal.timeout(5000) })
      .then((response) => { if (!response.ok) throw new Error(`HTTP ${response.status}`); })
      .catch((error) => {
        if (Date.now() > deadline) { console.error(`${url}: ${error.message}`); process.exit(1); }
        return new Promise((resolve) => setTimeout(resolve, 500)).then(attempt);
      });
  attempt();
' "$GUESTBOOK_URL"; then
  die "$GUESTBOOK_URL does not answer"
fi
say "$GUESTBOOK_URL answers"

flags=''
if [ "$DATA_DIR_GIVEN" = true ]; then flags=" --data-dir $DATA_DIR"; fi
# berth serve's node name: $BERTH_NODE_NAME, else the host name as defaultNodeName makes it.
node_name=${BERTH_NODE_NAME:-$(tr '[:upper:]' '[:lower:]' </proc/sys/kernel/hostname | sed 's/[^a-z0-9.-]/-/g; s/^[-.]*//; s/[-.]*$//')}
node_name=${node_name:-node}
cat <<EOF

The Guestbook runs on berth: open $GUESTBOOK_URL

Try:
  cd $WORK_REPO     # edit a manifest (e.g. replicas: in frontend-controller.yaml), then
  git commit -am 'scale the frontend' && git push     # berth deploys the push
  cd $ROOT
  npx berth status$flags          # sync state and health of every app
  npx berth get pods$flags        # the pods (get rc, services, endpoints too)

Stop:
  npx berth stop$flags            # stops berth serve; the Guestbook's containers keep running
To remove the Guestbook's pods (containers) first, while berth serve runs:
  npx berth app remove guestbook --prune$flags     # deletes its pods, controllers and services
Or, with berth stopped, remove its containers by hand (the next berth serve starts them again):
  docker rm -f \$(docker ps -aq --filter label=io.berth.node=$node_name)
EOF
