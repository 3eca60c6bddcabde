#!/usr/bin/env bash
# Makes sure the local Redis and PostgreSQL answer, starting them with this machine's own
# commands (see DEVELOPERS.md) when they do not. Tests that need them fail under CI=true
# when they are missing, so a service that cannot be started fails here, loudly.
set -euo pipefail

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

wait_for() {
  local what=$1 check=$2
  for _ in $(seq 1 50); do
    if $check; then echo "$what answers"; return 0; fi
    sleep 0.2
  done
  echo "$what does not answer" >&2
  return 1
}

if ! redis_up; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis redis_up

if ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
wait_for PostgreSQL pg_up
