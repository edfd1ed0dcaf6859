# shellcheck shell=bash
# Making sure a Docker Engine answers, for .ci/run and scripts/quickstart.sh (sourced by both).
#
# ensure_docker: an engine that answers is reused; a dockerd that runs but does not answer yet
# is waited for; else dockerd is started in the background (own session, output to
# $DOCKERD_LOG) and waited for up to $DOCKERD_START_TIMEOUT_SECONDS. Starting dockerd needs
# root. Returns non-zero, with dockerd's last log lines, when no engine answers in time.

: "${DOCKERD_LOG:=/var/log/berth/dockerd.log}"
: "${DOCKERD_START_TIMEOUT_SECONDS:=60}"

docker_answers() { docker info >/dev/null 2>&1; }

# Scans /proc rather than using pgrep/pidof, which a minimal Debian may lack.
dockerd_running() {
  local comm name
  for comm in /proc/[0-9]*/comm; do
    { read -r name <"$comm"; } 2>/dev/null || continue
    if [ "$name" = dockerd ]; then return 0; fi
  done
  return 1
}

# An engine is installed here, or one answers (any package's: docker-ce conflicts with docker.io).
docker_installed() { docker_answers || command -v dockerd >/dev/null 2>&1; }

ensure_docker() {
  if docker_answers; then
    echo "using the Docker Engine that answers"
    return 0
  fi
  local started_pid=''
  if dockerd_running; then
    echo "a dockerd is running but not answering yet; waiting for it"
  else
    local args=()
    case ${DOCKER_HOST:-} in
      '') ;;
      unix://*) args+=(--host "$DOCKER_HOST") ;;
      *)
        echo "DOCKER_HOST=$DOCKER_HOST does not answer and is not a local socket" >&2
        return 1
        ;;
    esac
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # A pid file left by an engine that is gone makes dockerd refuse to start.
    rm -f /var/run/docker.pid
    echo "starting dockerd (log: $DOCKERD_LOG)"
    # Own session, output to the log: the engine outlives this script, so later runs and
    # other processes use it, and it never writes into this script's output.
    setsid nohup dockerd "${args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    started_pid=$!
  fi
  local deadline=$((SECONDS + DOCKERD_START_TIMEOUT_SECONDS))
  until docker_answers; do
    local gone=false
    if ! dockerd_running; then
      # Just after the start the process may still be exec'ing: trust its pid then.
      if [ -z "$started_pid" ] || ! kill -0 "$started_pid" 2>/dev/null; then gone=true; fi
    fi
    if [ "$gone" = true ] || [ "$SECONDS" -ge "$deadline" ]; then
      if [ "$gone" = true ]; then
        echo "dockerd exited before answering" >&2
      else
        echo "Docker Engine did not answer within ${DOCKERD_START_TIMEOUT_SECONDS}s" >&2
      fi
      echo "last lines of $DOCKERD_LOG:" >&2
      tail -n 40 "$DOCKERD_LOG" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  echo "Docker Engine answers"
}
