#!/usr/bin/env bash
# Makes sure the local PostgreSQL and NATS (with JetStream) that Weft uses by default are up:
# starts them if installed, installs them from Debian's packages if not (needs root).
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v nats-server >/dev/null 2>&1; then
  echo "services: installing postgresql and nats-server from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql nats-server >/dev/null
fi

# Python clients' runtime and code generator (clients/python), from Debian's packages.
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1 || ! command -v protoc >/dev/null 2>&1 || \
   ! /usr/bin/python3 -c 'import grpc_tools' >/dev/null 2>&1; then
  echo "services: installing protobuf-compiler, python3-grpcio, python3-protobuf, python3-grpc-tools" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq protobuf-compiler python3-grpcio python3-protobuf python3-grpc-tools >/dev/null
fi

# The console's browser tests drive Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "services: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

if ! pg_up; then
  echo "services: starting PostgreSQL" >&2
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then pg_createcluster "$version" main >/dev/null; fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  pg_up || { echo "services: PostgreSQL did not come up" >&2; exit 1; }
fi
# Trust auth for local TCP as the quick start expects (only where we can and must change it).
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  echo "services: PostgreSQL refuses user postgres over TCP; set WEFT_DATABASE_URL / WEFT_TEST_DATABASE_URL" >&2
  exit 1
fi

if ! nats_up; then
  echo "services: starting nats-server with JetStream" >&2
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 50); do nats_up && break; sleep 0.2; done
  nats_up || { echo "services: nats-server did not come up" >&2; exit 1; }
fi
