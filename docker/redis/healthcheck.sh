#!/bin/sh
# Healthy when PING (after AUTH, with the password of REDIS_PASSWORD_FILE if any) gets PONG: a
# server still loading its append-only file, or failing, answers something else.
set -eu
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
    export REDISCLI_AUTH
fi
[ "$(redis-cli --no-auth-warning -p 6379 ping)" = PONG ]
