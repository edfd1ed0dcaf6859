#!/bin/sh
# The public redis image's entrypoint: `docker run redis:7.0 --appendonly yes` runs
# redis-server with those arguments; any other command runs as given.
set -e

# A first argument that is an option (or a config file) is redis-server's.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

# Started as root, the server runs as the redis user and owns its data directory.
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi

exec "$@"
