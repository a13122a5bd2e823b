#!/bin/sh
# redis-server with redis.conf, and with the password of the Docker secret REDIS_PASSWORD_FILE
# when one is given. The password reaches Redis as configuration on its standard input ("-"),
# never on its command line, where any process of the container could read it.
set -eu
config=/usr/local/etc/redis/redis.conf
if [ -z "${REDIS_PASSWORD_FILE:-}" ]; then
    exec redis-server "$config"
fi
password=$(cat "$REDIS_PASSWORD_FILE")
if [ -z "$password" ]; then
    echo "REDIS_PASSWORD_FILE ($REDIS_PASSWORD_FILE) is empty" >&2
    exit 1
fi
exec redis-server "$config" - <<EOF_CONFIG
requirepass $password
EOF_CONFIG
