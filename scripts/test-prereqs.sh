#!/usr/bin/env bash
# `npm test`'s pretest: makes sure this machine can run every test, Docker tests included.
# Installs the missing Debian packages of scripts/lib/packages.sh (as root; otherwise it says
# which to install) and makes sure a Docker Engine answers, starting dockerd when installed.
# Quiet when everything is there already.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib/packages.sh
source scripts/lib/packages.sh
# shellcheck source=scripts/lib/docker.sh
source scripts/lib/docker.sh

install_missing_packages "${TEST_PACKAGES[@]}"
if ! docker_answers; then
  ensure_docker
fi
