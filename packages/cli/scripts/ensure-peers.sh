#!/usr/bin/env bash
# The CLI's tests talk to real peers nobody here wrote: nc (netcat-openbsd), socat, redis-cli,
# redis-benchmark and redis-server; they also use python3 (a listener with a full accept queue)
# and script (util-linux, a pseudo-terminal). The TLS tests make their certificates with openssl
# and use `openssl s_server` / `s_client`, socat's OPENSSL addresses and redis-server's TLS port.
# The cluster tests of packages/tcp start their own PostgreSQL (Debian's postgresql server
# binaries; setpriv runs it as the postgres user when this is root). Installs the missing ones from Debian's packages when this
# runs as root with apt-get (CI, a fresh machine); otherwise says what to install.
set -u
missing=()
command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -qi openbsd || missing+=(netcat-openbsd)
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test peers: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # redis-server's package starts a system service on port 6379; the tests start their own.
  # The same for postgresql's (port 5432); the cluster tests start their own on a Unix socket.
  if command -v service >/dev/null 2>&1; then
    service redis-server stop >/dev/null 2>&1 || true
    service postgresql stop >/dev/null 2>&1 || true
  fi
  exit 0
fi
echo "warning: the CLI tests need these Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
exit 0
