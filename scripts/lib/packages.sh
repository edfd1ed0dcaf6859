# shellcheck shell=bash
# The Debian packages berth's tests need, and installing the missing ones; sourced by .ci/run
# and scripts/test-prereqs.sh (npm test's pretest), so the list lives in one place.
# Node 20 and npm come with the machine.

# shellcheck disable=SC2034 # used by the scripts that source this file
TEST_PACKAGES=(
  docker.io      # Docker Engine (dockerd) and the docker client
  busybox-static # the agent's pod sandbox image and the test image berth-test/busybox:1
  git            # tests drive the real git client
  iptables       # the agent's service proxy rules
  iproute2       # the agent routes the service range to its sink bridge (ip)
  procps         # sysctl, for the proxy's kernel settings
  mmdebstrap     # root filesystems of the example images (npm run images)
  chromium       # headless browser for the Guestbook UI test (driven by playwright-core)
)

package_present() {
  case $1 in
    # Any engine will do: one that already answers, or another package's dockerd
    # (docker-ce conflicts with docker.io).
    docker.io) docker info >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1 ;;
    *) [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = 'install ok installed' ] ;;
  esac
}

# install_missing_packages PACKAGE...: installs those not installed (apt-get update only then);
# not root, it names them and the command to run, and fails.
install_missing_packages() {
  local missing=() package
  for package in "$@"; do
    package_present "$package" || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "installing Debian packages: ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
}
