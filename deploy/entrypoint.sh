#!/bin/sh
# Reads the compose secrets into the CHAT_ settings, then runs `chat "$@"`. Nothing is echoed.
set -eu
if [ -n "${CHAT_SECRET_KEY_FILE:-}" ]; then CHAT_SECRET_KEY="$(cat "$CHAT_SECRET_KEY_FILE")"; export CHAT_SECRET_KEY; fi
if [ -n "${CHAT_METRICS_TOKEN_FILE:-}" ]; then CHAT_METRICS_TOKEN="$(cat "$CHAT_METRICS_TOKEN_FILE")"; export CHAT_METRICS_TOKEN; fi
if [ -n "${CHAT_DATABASE_URL_TEMPLATE:-}" ] && [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  password="$(cat "$POSTGRES_PASSWORD_FILE")"
  CHAT_DATABASE_URL="$(printf '%s' "$CHAT_DATABASE_URL_TEMPLATE" | sed "s|{password}|$password|")"
  export CHAT_DATABASE_URL
fi
exec chat "$@"
