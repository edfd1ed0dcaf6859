#!/bin/bash
# Entrypoint of wordpress:6.1-apache (Debian's wordpress package on apache2 with mod_php), with
# the environment interface of the public image:
#
#   WORDPRESS_DB_HOST      host[:port] of the database; default `mysql`, or the Docker-link
#                          variables MYSQL_PORT_3306_TCP_ADDR[:MYSQL_PORT_3306_TCP_PORT] when set
#   WORDPRESS_DB_USER      default `wordpress`
#   WORDPRESS_DB_PASSWORD  default empty
#   WORDPRESS_DB_NAME      default `wordpress`
#   WORDPRESS_TABLE_PREFIX default `wp_`
#   WORDPRESS_DEBUG        non-empty turns WP_DEBUG on
#   WORDPRESS_CONFIG_EXTRA PHP appended to the configuration
#   WORDPRESS_HTTP_BLOCK_EXTERNAL  default `true`: WordPress makes no HTTP requests to other
#                          hosts (update checks, translations, embeds); `false` allows them
#
# It writes /etc/wordpress/config-default.php, which Debian's wp-config.php loads for any Host
# header, then runs the command; the default command, apache2-foreground, runs apache as PID 1.
set -eo pipefail

# A PHP single-quoted string literal.
php_string() {
	local value=${1//\\/\\\\}
	printf "'%s'" "${value//\'/\\\'}"
}

random_key() {
	tr -dc 'A-Za-z0-9!#%&()*+,-./:;<=>?@[]^_{|}~' </dev/urandom | head -c 64
}

write_config() {
	local host=${WORDPRESS_DB_HOST:-}
	if [ -z "$host" ]; then
		if [ -n "${MYSQL_PORT_3306_TCP_ADDR:-}" ]; then
			host="$MYSQL_PORT_3306_TCP_ADDR:${MYSQL_PORT_3306_TCP_PORT:-3306}"
		else
			host=mysql
		fi
	fi
	local block=${WORDPRESS_HTTP_BLOCK_EXTERNAL:-true}
	local config=/etc/wordpress/config-default.php tmp
	tmp=$(mktemp /etc/wordpress/.config-default.XXXXXX)
	{
		echo '<?php'
		echo '// Written by docker-entrypoint.sh from the environment at every start.'
		echo "define('DB_NAME', $(php_string "${WORDPRESS_DB_NAME:-wordpress}"));"
		echo "define('DB_USER', $(php_string "${WORDPRESS_DB_USER:-wordpress}"));"
		echo "define('DB_PASSWORD', $(php_string "${WORDPRESS_DB_PASSWORD:-}"));"
		echo "define('DB_HOST', $(php_string "$host"));"
		echo "define('DB_CHARSET', 'utf8mb4');"
		echo "define('DB_COLLATE', '');"
		echo "\$table_prefix = $(php_string "${WORDPRESS_TABLE_PREFIX:-wp_}");"
		local key
		for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
			local from_env="WORDPRESS_$key"
			echo "define('$key', $(php_string "${!from_env:-$(random_key)}"));"
		done
		if [ -n "${WORDPRESS_DEBUG:-}" ]; then
			echo "define('WP_DEBUG', true);"
		fi
		if [ "$block" != false ]; then
			echo "define('WP_HTTP_BLOCK_EXTERNAL', true);"
		fi
		echo "define('AUTOMATIC_UPDATER_DISABLED', true);"
		# Behind a proxy that terminates TLS (Debian's wp-config.php also checks this header).
		echo "if (isset(\$_SERVER['HTTP_X_FORWARDED_PROTO']) && \$_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https') { \$_SERVER['HTTPS'] = 'on'; }"
		if [ -n "${WORDPRESS_CONFIG_EXTRA:-}" ]; then
			printf '%s\n' "$WORDPRESS_CONFIG_EXTRA"
		fi
	} >"$tmp"
	chown root:www-data "$tmp"
	chmod 0640 "$tmp"
	mv -f "$tmp" "$config"
	echo "docker-entrypoint.sh: WordPress configured for database ${WORDPRESS_DB_NAME:-wordpress} on $host as ${WORDPRESS_DB_USER:-wordpress}" >&2
}

case $1 in
apache2* | php-fpm* | php*) write_config ;;
esac

exec "$@"
