#!/bin/bash
# Entrypoint of mariadb:10.11 (Debian's mariadb-server), with the environment interface of the
# public image: MARIADB_* or MYSQL_* for the root password, a database, a user and its password.
#
# On an empty data directory it initialises it (mariadb-install-db), runs a temporary server
# without networking to set the root password and create the database and the user (all rights
# on that database, from any host), runs /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz}, stops
# that server, and then starts the real one. On a data directory that holds a database it just
# starts. The server runs in the foreground as PID 1 (it drops to user mysql itself), listens on
# 0.0.0.0:3306 (see /etc/mysql/mariadb.conf.d/99-container.cnf) and shuts down on SIGTERM.
set -eo pipefail
shopt -s nullglob

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
fail() {
	log "error: $*"
	exit 1
}

# The value of MARIADB_<name>, else MYSQL_<name>, else the default.
env_either() {
	local default=${2:-} mariadb="MARIADB_$1" mysql="MYSQL_$1"
	if [ -n "${!mariadb:-}" ]; then
		printf '%s' "${!mariadb}"
	elif [ -n "${!mysql:-}" ]; then
		printf '%s' "${!mysql}"
	else
		printf '%s' "$default"
	fi
}

# A string literal for SQL: backslashes and single quotes escaped, in single quotes.
sql_string() {
	local value=${1//\\/\\\\}
	printf "'%s'" "${value//\'/\\\'}"
}

# An identifier for SQL: backticks doubled, in backticks.
sql_identifier() {
	# shellcheck disable=SC2016 # literal backticks
	printf '`%s`' "${1//\`/\`\`}"
}

SOCKET=/run/mysqld/mysqld.sock

# Runs SQL from standard input as root over the socket (no password before it is set).
run_sql() {
	mariadb --protocol=socket --socket="$SOCKET" -uroot ${ROOT_PASSWORD_SET:+"-p$ROOT_PASSWORD"} \
		--database=mysql --batch --skip-column-names "$@"
}

wait_for_temporary_server() {
	local pid=$1 tries=0
	until run_sql -e 'SELECT 1' >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || fail 'the temporary server stopped during initialisation'
		tries=$((tries + 1))
		[ "$tries" -le 600 ] || fail 'the temporary server did not answer within 60 s'
		sleep 0.1
	done
}

initialise() {
	local datadir=$1 pid
	ROOT_PASSWORD=$(env_either ROOT_PASSWORD)
	local allow_empty random_root database user password root_host
	allow_empty=$(env_either ALLOW_EMPTY_ROOT_PASSWORD)
	random_root=$(env_either RANDOM_ROOT_PASSWORD)
	database=$(env_either DATABASE)
	user=$(env_either USER)
	password=$(env_either PASSWORD)
	root_host=$(env_either ROOT_HOST '%')

	if [ -z "$ROOT_PASSWORD" ] && [ -z "$allow_empty" ] && [ -z "$random_root" ]; then
		fail 'the database is uninitialised and no root password is given: set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ -n "$random_root" ]; then
		ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
		log "GENERATED ROOT PASSWORD: $ROOT_PASSWORD"
	fi
	if [ "$user" = root ]; then
		fail 'MARIADB_USER=root: the root user exists already; set MARIADB_ROOT_PASSWORD instead'
	fi
	if [ -n "$user" ] && [ -z "$password" ]; then
		fail "MARIADB_USER=$user is set but MARIADB_PASSWORD (or MYSQL_PASSWORD) is not"
	fi

	log "initialising the database files in $datadir"
	mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
		--auth-root-authentication-method=normal --skip-name-resolve \
		--skip-log-bin --default-time-zone=SYSTEM >/dev/null

	log 'starting a temporary server without networking'
	mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$SOCKET" \
		--skip-log-bin --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 &
	pid=$!
	wait_for_temporary_server "$pid"

	{
		# Anonymous users, and root at this container's name and addresses: root is
		# root@localhost (socket) and root@MARIADB_ROOT_HOST.
		cat <<'SQL'
DROP USER IF EXISTS ''@'localhost';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \'\'@\'', @@hostname, '\'');
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
SQL
		echo "ALTER USER root@localhost IDENTIFIED BY $(sql_string "$ROOT_PASSWORD");"
		if [ "$root_host" != localhost ]; then
			echo "CREATE USER root@$(sql_string "$root_host") IDENTIFIED BY $(sql_string "$ROOT_PASSWORD");"
			echo "GRANT ALL ON *.* TO root@$(sql_string "$root_host") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO root@$(sql_string "$root_host") WITH GRANT OPTION;"
		fi
		if [ -n "$database" ]; then
			echo "CREATE DATABASE IF NOT EXISTS $(sql_identifier "$database");"
		fi
		if [ -n "$user" ]; then
			echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
			if [ -n "$database" ]; then
				echo "GRANT ALL ON $(sql_identifier "${database//_/\\_}").* TO $(sql_string "$user")@'%';"
			fi
		fi
		echo 'FLUSH PRIVILEGES;'
	} | run_sql
	log "root password set; database: ${database:-(none)}; user: ${user:-(none)}"
	ROOT_PASSWORD_SET=1

	local file
	for file in /docker-entrypoint-initdb.d/*; do
		case $file in
		*.sh)
			log "running $file"
			# shellcheck disable=SC1090 # user-provided
			. "$file"
			;;
		*.sql)
			log "running $file"
			run_sql ${database:+"--database=$database"} <"$file"
			;;
		*.sql.gz)
			log "running $file"
			gzip -dc "$file" | run_sql ${database:+"--database=$database"}
			;;
		*) log "ignoring $file" ;;
		esac
	done

	log 'stopping the temporary server'
	mariadb-admin --socket="$SOCKET" -uroot "-p$ROOT_PASSWORD" shutdown
	wait "$pid" || fail 'the temporary server did not stop cleanly'
	log 'initialisation done'
}

# `docker run mariadb:10.11 --some-option` passes options to the server.
if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
	datadir=$(mariadbd --verbose --help 2>/dev/null | awk '$1 == "datadir" { print $2; exit }')
	datadir=${datadir%/}
	[ -n "$datadir" ] || datadir=/var/lib/mysql
	mkdir -p "$datadir" /run/mysqld
	if [ "$(id -u)" = 0 ]; then
		chown mysql:mysql /run/mysqld
		# A hostPath or bind mount comes owned by whoever made it.
		find "$datadir" \! -user mysql -exec chown mysql:mysql '{}' +
	fi
	if [ ! -d "$datadir/mysql" ]; then
		initialise "$datadir"
	else
		log "database found in $datadir: starting without initialisation"
	fi
	if [ "$(id -u)" = 0 ]; then
		set -- "$@" --user=mysql
	fi
fi

exec "$@"
