#!/usr/bin/env bash
# A production-shaped Temporal cluster on this machine, for running ateflow at scale-out:
# PostgreSQL (persistence and SQL visibility, plugin postgres12) and the four Temporal services
# (frontend, history, matching, worker) as separate processes of a server built from source.
# Everything listens on 127.0.0.1 only. See docs/temporal-cluster.md.
#
#   scripts/temporal-cluster.sh build    build (or reuse) temporal-server and temporal-sql-tool
#   scripts/temporal-cluster.sh start    build if needed; start PostgreSQL and the four services in
#                                        the background, wait until healthy, register the namespace
#                                        and ateflow's search attributes; print TEMPORAL_ADDRESS=…
#   scripts/temporal-cluster.sh stop     stop everything `start` started (nothing is left running)
#   scripts/temporal-cluster.sh status   what runs, where; exit 0 only when all of it runs
#
# The server comes from the Go module go.temporal.io/server (its cmd/server and cmd/tools/sql
# main packages) through the Go module proxy: a throw-away module in the cache dir requires it,
# and `go build` builds both binaries there. With the toolchain the module asks for (its `go`
# line; fetched by `go` itself when newer than the local one). Cached in
# ${XDG_CACHE_HOME:-$HOME/.cache}/ateflow/temporal-server-v<version>/, so later runs are instant,
# together with the module's PostgreSQL schema directories (schema/postgresql/v12).
#
# Environment:
#   TEMPORAL_SERVER_VERSION     server version (default 1.32.2; any go.temporal.io/server release)
#   TEMPORAL_CLUSTER_DIR        state: database, config, logs, pids (default <repo>/.data/temporal-cluster)
#   TEMPORAL_CLUSTER_PORT_BASE  B (default 7630); ports B+2 PostgreSQL, B+3 frontend gRPC (the
#                               address ateflow uses), B+4 history, B+5 matching, B+9 worker,
#                               B+10 frontend HTTP, B+13/14/15/19 membership, B+23/24/25/29 metrics;
#                               all below 32768 (the server keeps ports as smallint in PostgreSQL)
#   TEMPORAL_CLUSTER_NAMESPACE  namespace to register (default "default"), retention
#   TEMPORAL_CLUSTER_RETENTION  (default 24h)
#   TEMPORAL_CLUSTER_PG_USER    the user PostgreSQL runs as when we are root (default postgres,
#                               else nobody); it must be able to reach TEMPORAL_CLUSTER_DIR
#   TEMPORAL_CLUSTER_LOG_LEVEL  the services' log level (default info)
#
# Logs go to files under <state dir>/logs (the script's own progress to stderr); stdout carries
# only what is asked for (the binary paths for `build`, TEMPORAL_ADDRESS=… for `start`).
# Build failures are written to <cache>/temporal-server-v<version>/build.failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-1.32.2}"
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION#v}"
# The server's go.mod asks for go 1.26.10; machines have 1.26.8. This is the newer toolchain
# approved for this project's machines (README, "Running ateflow against a Temporal cluster").
GO_TOOLCHAIN="${TEMPORAL_SERVER_GO_TOOLCHAIN:-go1.27.3}"
CACHE_DIR="${ATEFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ateflow}"
BUILD_DIR="$CACHE_DIR/temporal-server-v$TEMPORAL_SERVER_VERSION-$GO_TOOLCHAIN"
SERVER_BIN="$BUILD_DIR/bin/temporal-server"
SQL_TOOL_BIN="$BUILD_DIR/bin/temporal-sql-tool"
SCHEMA_DIR="$BUILD_DIR/schema/postgresql/v12"
FAILED="$BUILD_DIR/build.failed"

STATE="${TEMPORAL_CLUSTER_DIR:-$root/.data/temporal-cluster}"
BASE="${TEMPORAL_CLUSTER_PORT_BASE:-7630}"
NAMESPACE="${TEMPORAL_CLUSTER_NAMESPACE:-default}"
RETENTION="${TEMPORAL_CLUSTER_RETENTION:-24h}"
LOG_LEVEL="${TEMPORAL_CLUSTER_LOG_LEVEL:-info}"
HISTORY_SHARDS=4
SERVICES=(frontend history matching worker)

# The membership table stores ports as PostgreSQL smallint: every port must stay below 32768.
[[ "$BASE" =~ ^[0-9]+$ ]] && [ "$BASE" -ge 1024 ] && [ $((BASE + 29)) -le 32767 ] ||
  { echo "temporal-cluster.sh: TEMPORAL_CLUSTER_PORT_BASE must be 1024..32738 (ports up to base+29 < 32768), not '$BASE'" >&2; exit 2; }
PG_PORT=$((BASE + 2))
FRONTEND_PORT=$((BASE + 3))
FRONTEND_HTTP_PORT=$((BASE + 10))
ADDRESS="127.0.0.1:$FRONTEND_PORT"
grpc_port() { case $1 in frontend) echo $((BASE + 3)) ;; history) echo $((BASE + 4)) ;; matching) echo $((BASE + 5)) ;; worker) echo $((BASE + 9)) ;; esac; }
membership_port() { echo $(($(grpc_port "$1") + 10)); }
metrics_port() { echo $(($(grpc_port "$1") + 20)); }

log() { echo "temporal-cluster.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# ---------------------------------------------------------------------------------------- build

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [ -x /usr/local/go/bin/go ]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

build_binaries() {
  local go start mod required modroot
  mkdir -p "$BUILD_DIR/bin"
  go=$(find_go) || { echo "go is not installed (nor /usr/local/go/bin/go)" >"$FAILED"; return 1; }
  start=$(date +%s)
  log "resolving go.temporal.io/server v$TEMPORAL_SERVER_VERSION through the Go module proxy"
  # Its go.mod, to learn the toolchain it needs (outside any module: ours names that toolchain
  # already; the local one may be older, which only fails the download's last step).
  mod=$(cd "$(mktemp -d)" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" mod download -json \
    "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" 2>/dev/null |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p') || true
  [ -n "$mod" ] && [ -f "$mod" ] ||
    { echo "cannot download go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" >"$FAILED"; return 1; }
  required=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$mod")
  [ -n "$required" ] || { echo "no go line in $mod" >"$FAILED"; return 1; }
  {
    echo "// Throw-away module of scripts/temporal-cluster.sh: builds the server's own main packages."
    echo "module ateflow.local/temporal-server-build"
    echo
    echo "go $required"
    echo
    echo "require go.temporal.io/server v$TEMPORAL_SERVER_VERSION"
  } >"$BUILD_DIR/go.mod"
  rm -f "$BUILD_DIR/go.sum"
  # The server needs a newer Go than Debian's machines have (go $required): the one approved newer
  # toolchain, which the go command takes from the Go module proxy (golang.org/toolchain).
  export GOTOOLCHAIN="$GO_TOOLCHAIN" GOFLAGS=-mod=mod CGO_ENABLED=0
  local ldflags="-s -w"
  log "building go.temporal.io/server v$TEMPORAL_SERVER_VERSION cmd/server and cmd/tools/sql with $GO_TOOLCHAIN (it asks for go $required)" \
    "(slow the first time: about 10 minutes on 2 cores); log: $BUILD_DIR/build.log"
  if ! (cd "$BUILD_DIR" &&
    "$go" build -trimpath -ldflags "$ldflags" -o "$SERVER_BIN.tmp" go.temporal.io/server/cmd/server &&
    "$go" build -trimpath -ldflags "$ldflags" -o "$SQL_TOOL_BIN.tmp" go.temporal.io/server/cmd/tools/sql) \
    >"$BUILD_DIR/build.log" 2>&1; then
    tail -n 40 "$BUILD_DIR/build.log" >&2
    { echo "go build go.temporal.io/server@v$TEMPORAL_SERVER_VERSION failed:"; tail -n 20 "$BUILD_DIR/build.log"; } >"$FAILED"
    return 1
  fi
  # The module's PostgreSQL schema, next to the binaries that apply it (the module cache may be
  # cleaned; the cached build must not depend on it).
  modroot=$(cd "$BUILD_DIR" && "$go" list -m -f '{{.Dir}}' go.temporal.io/server)
  [ -d "$modroot/schema/postgresql/v12/temporal/versioned" ] ||
    { echo "no schema/postgresql/v12 in $modroot" >"$FAILED"; return 1; }
  rm -rf "$BUILD_DIR/schema"
  mkdir -p "$BUILD_DIR/schema/postgresql"
  cp -r --no-preserve=mode "$modroot/schema/postgresql/v12" "$BUILD_DIR/schema/postgresql/v12"
  mv "$SQL_TOOL_BIN.tmp" "$SQL_TOOL_BIN"
  mv "$SERVER_BIN.tmp" "$SERVER_BIN"
  rm -f "$FAILED"
  echo "$(($(date +%s) - start))" >"$BUILD_DIR/build.seconds"
  log "built $SERVER_BIN and $SQL_TOOL_BIN in $(($(date +%s) - start))s"
}

# Builds once (one build at a time across processes); instant when cached.
ensure_built() {
  mkdir -p "$BUILD_DIR"
  exec 8>"$BUILD_DIR/build.lock"
  flock 8
  if [ -x "$SERVER_BIN" ] && [ -x "$SQL_TOOL_BIN" ] && [ -d "$SCHEMA_DIR/visibility/versioned" ]; then
    log "reusing $SERVER_BIN ($("$SERVER_BIN" --version 2>/dev/null | head -n1))"
  else
    build_binaries || { flock -u 8; die "build failed: see $FAILED"; }
  fi
  flock -u 8
}

# ------------------------------------------------------------------------------------ processes

pid_alive() { # <pid file>
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_bin() {
  local dir
  for dir in "${PG_BIN_DIR:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [ -n "$dir" ] && [ -x "$dir/postgres" ] && { echo "$dir"; return 0; }
  done
  command -v postgres >/dev/null 2>&1 && { dirname "$(command -v postgres)"; return 0; }
  return 1
}

# PostgreSQL refuses to run as root: as root, run its programs as an unprivileged user.
pg_user() {
  if [ "$(id -u)" != 0 ]; then
    id -un
  elif [ -n "${TEMPORAL_CLUSTER_PG_USER:-}" ]; then
    echo "$TEMPORAL_CLUSTER_PG_USER"
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    echo nobody
  fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$(pg_user)" -- "$@"
  else
    "$@"
  fi
}

temporal_cli() {
  local cli="${TEMPORAL_CLI_PATH:-$root/.tools/bin/temporal}"
  if [ ! -x "$cli" ]; then
    "$root/scripts/setup-temporal.sh" >&2 || die "the Temporal CLI is missing (scripts/setup-temporal.sh failed)"
  fi
  "$cli" "$@"
}

start_postgres() {
  local bin user pgdata="$STATE/postgres" run="$STATE/run/postgres"
  bin=$(pg_bin) || die "PostgreSQL is not installed (apt-get install postgresql)"
  user=$(pg_user)
  mkdir -p "$STATE/logs" "$STATE/run"
  mkdir -p "$run"
  touch "$STATE/logs/postgres.log"
  if [ "$(id -u)" = 0 ]; then
    chown "$user" "$run" "$STATE/logs/postgres.log"
    as_pg test -w "$run" ||
      die "PostgreSQL's user '$user' cannot reach $STATE (every parent directory must be searchable by it): set TEMPORAL_CLUSTER_DIR elsewhere or TEMPORAL_CLUSTER_PG_USER"
  fi
  chmod 700 "$run"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    log "initialising PostgreSQL ($("$bin/postgres" --version)) in $pgdata as user $user"
    rm -rf "$pgdata"
    mkdir -p "$pgdata"
    [ "$(id -u)" = 0 ] && chown "$user" "$pgdata"
    chmod 700 "$pgdata"
    [ -f "$STATE/postgres-password" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/postgres-password")
    # The superuser logs in over the private socket only; TCP (loopback) needs a password.
    as_pg "$bin/initdb" -D "$pgdata" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C >"$STATE/logs/initdb.log" 2>&1 ||
      { tail -n 20 "$STATE/logs/initdb.log" >&2; die "initdb failed: $STATE/logs/initdb.log"; }
  fi
  if as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    log "PostgreSQL already runs ($pgdata)"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$pgdata" -l "$STATE/logs/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$run -c max_connections=200" \
      start >/dev/null 8>&- 9>&- || { tail -n 20 "$STATE/logs/postgres.log" >&2; die "PostgreSQL did not start: $STATE/logs/postgres.log"; }
  fi
  # The role the services use, with the generated password (idempotent).
  local password
  password=$(cat "$STATE/postgres-password")
  as_pg "$bin/psql" -h "$run" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null \
    -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') THEN CREATE ROLE temporal LOGIN CREATEDB; END IF; END \$\$;" \
    -c "ALTER ROLE temporal PASSWORD '$password';" || die "could not create the temporal role"
}

sql_tool() { # <database> <args...>
  local db=$1
  shift
  SQL_PASSWORD=$(cat "$STATE/postgres-password") "$SQL_TOOL_BIN" --plugin postgres12 \
    --endpoint 127.0.0.1 --port "$PG_PORT" --user temporal --database "$db" "$@"
}

setup_schemas() {
  local db dir
  for db in temporal temporal_visibility; do
    [ "$db" = temporal ] && dir="$SCHEMA_DIR/temporal/versioned" || dir="$SCHEMA_DIR/visibility/versioned"
    {
      # create-database fails when it exists: fine; setup-schema -v 0.0 only creates the version
      # tables (idempotent); update-schema applies every versioned step not applied yet.
      sql_tool "$db" create-database || true
      sql_tool "$db" setup-schema -v 0.0 &&
        sql_tool "$db" update-schema -d "$dir"
    } >>"$STATE/logs/schema.log" 2>&1 || { tail -n 20 "$STATE/logs/schema.log" >&2; die "schema setup of $db failed: $STATE/logs/schema.log"; }
  done
  local versions="" bin
  bin=$(pg_bin)
  for db in temporal temporal_visibility; do
    versions="$versions $db v$(as_pg "$bin/psql" -h "$STATE/run/postgres" -p "$PG_PORT" -U postgres -d "$db" -qAt \
      -c 'SELECT curr_version FROM schema_version' 2>/dev/null || echo '?')"
  done
  log "schemas up to date:$versions"
}

write_config() {
  local conf="$STATE/config" password
  mkdir -p "$conf"
  password=$(cat "$STATE/postgres-password")
  cp "$root/scripts/temporal-cluster/dynamicconfig.yaml" "$conf/dynamicconfig.yaml"
  sed -e "s#__LOG_LEVEL__#$LOG_LEVEL#" -e "s#__HISTORY_SHARDS__#$HISTORY_SHARDS#" \
    -e "s#__PG_PORT__#$PG_PORT#g" -e "s#__PG_PASSWORD__#$password#g" \
    -e "s#__FRONTEND_PORT__#$(grpc_port frontend)#g" -e "s#__FRONTEND_HTTP_PORT__#$FRONTEND_HTTP_PORT#g" \
    -e "s#__FRONTEND_MEMBERSHIP_PORT__#$(membership_port frontend)#" \
    -e "s#__HISTORY_PORT__#$(grpc_port history)#" -e "s#__HISTORY_MEMBERSHIP_PORT__#$(membership_port history)#" \
    -e "s#__MATCHING_PORT__#$(grpc_port matching)#" -e "s#__MATCHING_MEMBERSHIP_PORT__#$(membership_port matching)#" \
    -e "s#__WORKER_PORT__#$(grpc_port worker)#" -e "s#__WORKER_MEMBERSHIP_PORT__#$(membership_port worker)#" \
    -e "s#__DYNAMIC_CONFIG__#$conf/dynamicconfig.yaml#" \
    "$root/scripts/temporal-cluster/temporal.yaml" >"$conf/temporal.yaml.tmp"
  chmod 600 "$conf/temporal.yaml.tmp"
  ! grep -n '__[A-Z_]*__' "$conf/temporal.yaml.tmp" >&2 || die "placeholders left unfilled in $conf/temporal.yaml.tmp"
  mv "$conf/temporal.yaml.tmp" "$conf/temporal.yaml"
}

start_service() { # <service>
  local svc=$1 pidfile="$STATE/run/$1.pid" logfile="$STATE/logs/$1.log"
  if pid_alive "$pidfile"; then
    log "$svc already runs (pid $(cat "$pidfile"))"
    return 0
  fi
  for port in "$(grpc_port "$svc")" "$(membership_port "$svc")" "$(metrics_port "$svc")"; do
    port_open "$port" && die "port $port (for $svc) is taken by another program: set TEMPORAL_CLUSTER_PORT_BASE"
  done
  echo "--- $(date -u +%FT%TZ) start" >>"$logfile"
  # Its own session: not in our process group, so the shell's Ctrl-C and our exit leave it alone;
  # without our lock files' descriptors, or it would hold the locks for its whole life.
  ATEFLOW_TEMPORAL_METRICS_PORT=$(metrics_port "$svc") setsid "$SERVER_BIN" \
    --config-file "$STATE/config/temporal.yaml" --allow-no-auth start --service "$svc" \
    </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
  echo $! >"$pidfile"
  log "started $svc (pid $!, gRPC 127.0.0.1:$(grpc_port "$svc"), log $logfile)"
}

wait_until() { # <seconds> <what> <command...>
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    local svc
    for svc in "${SERVICES[@]}"; do
      # Only services started (or found running) by now have a pid file.
      [ -f "$STATE/run/$svc.pid" ] || continue
      pid_alive "$STATE/run/$svc.pid" ||
        { tail -n 15 "$STATE/logs/$svc.log" | cut -c1-400 >&2; die "$svc exited while waiting for $what: $STATE/logs/$svc.log"; }
    done
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${seconds}s waiting for $what (logs: $STATE/logs)"
    sleep 0.5
  done
}

metrics_up() { curl -fsS -o /dev/null "http://127.0.0.1:$(metrics_port "$1")/metrics"; }
all_metrics_up() {
  local svc
  for svc in "${SERVICES[@]}"; do metrics_up "$svc" || return 1; done
}
frontend_healthy() { temporal_cli operator cluster health --address "$ADDRESS" | grep -q SERVING; }

# ateflow's search attributes, from the one place that defines them: `Name Type` lines.
search_attributes() {
  sed -n "s/.*defineSearchAttributeKey('\([A-Za-z0-9_]*\)', '\([A-Z_]*\)').*/\1 \2/p" \
    "$root/src/workflows/search-attributes.ts" |
    while read -r name type; do
      case $type in
        KEYWORD) echo "$name Keyword" ;; TEXT) echo "$name Text" ;; INT) echo "$name Int" ;;
        DOUBLE) echo "$name Double" ;; BOOL) echo "$name Bool" ;; DATETIME) echo "$name Datetime" ;;
        KEYWORD_LIST) echo "$name KeywordList" ;; *) die "unknown search attribute type $type of $name" ;;
      esac
    done
}

register() {
  if temporal_cli operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
    log "namespace $NAMESPACE exists"
  else
    temporal_cli operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --retention "$RETENTION" >>"$STATE/logs/setup.log" 2>&1 ||
      die "could not register namespace $NAMESPACE: $STATE/logs/setup.log"
    log "registered namespace $NAMESPACE (retention $RETENTION)"
  fi
  local existing name type added=""
  # The namespace must be known to the frontend's registry first (refreshed every 2 s).
  wait_until 30 "namespace $NAMESPACE" temporal_cli operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE"
  existing=$(temporal_cli operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" -o json)
  while read -r name type; do
    grep -q "\"$name\"" <<<"$existing" && continue
    # One at a time: the CLI takes one --type per call.
    temporal_cli operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$type" >>"$STATE/logs/setup.log" 2>&1 ||
      die "could not register search attribute $name ($type): $STATE/logs/setup.log"
    added="$added $name"
  done < <(search_attributes)
  [ -n "$added" ] || { log "search attributes registered"; return 0; }
  log "registered search attributes:$added"
  # SQL visibility keeps them in the namespace record: history sees them after its next refresh.
  sleep 3
}

# Proof that frontend, history and matching serve together: a workflow is started (history),
# its first task reaches a task queue (matching), then it is terminated.
probe() {
  local id="ateflow-cluster-probe-$$-$RANDOM"
  temporal_cli workflow start --address "$ADDRESS" --namespace "$NAMESPACE" --type probe \
    --task-queue ateflow-cluster-probe --workflow-id "$id" --execution-timeout 1m &&
    temporal_cli task-queue describe --address "$ADDRESS" --namespace "$NAMESPACE" \
      --task-queue ateflow-cluster-probe &&
    temporal_cli workflow terminate --address "$ADDRESS" --namespace "$NAMESPACE" --workflow-id "$id" --reason probe
}

# ------------------------------------------------------------------------------------- commands

cmd_build() {
  ensure_built
  echo "$SERVER_BIN"
  echo "$SQL_TOOL_BIN"
}

cmd_start() {
  local started=$EPOCHREALTIME
  ensure_built
  mkdir -p "$STATE/run" "$STATE/logs"
  exec 9>"$STATE/run/start.lock"
  flock 9
  if [ -f "$STATE/run/port-base" ] && [ "$(cat "$STATE/run/port-base")" != "$BASE" ] && cluster_running_any; then
    die "this cluster runs with TEMPORAL_CLUSTER_PORT_BASE=$(cat "$STATE/run/port-base"); stop it first"
  fi
  echo "$BASE" >"$STATE/run/port-base"
  local svc
  for svc in "${SERVICES[@]}"; do pid_alive "$STATE/run/$svc.pid" || rm -f "$STATE/run/$svc.pid"; done
  start_postgres
  setup_schemas
  write_config
  # The frontend first, alone: every service writes the cluster metadata record when it boots,
  # and on a fresh database concurrent first writes fail (a service that loses exits). Once the
  # frontend listens, the record exists and the others only read it.
  start_service frontend
  wait_until 120 "the frontend to listen on $ADDRESS" port_open "$FRONTEND_PORT"
  for svc in history matching worker; do start_service "$svc"; done
  wait_until 120 "every service's metrics endpoint" all_metrics_up
  wait_until 120 "the frontend to be healthy" frontend_healthy
  register
  wait_until 60 "a probe workflow through frontend, history and matching" probe
  log "cluster ready in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s;" \
    "state $STATE, logs $STATE/logs"
  echo "TEMPORAL_ADDRESS=$ADDRESS" | tee "$STATE/run/address"
}

cluster_running_any() {
  local svc
  for svc in "${SERVICES[@]}"; do pid_alive "$STATE/run/$svc.pid" && return 0; done
  [ -f "$STATE/postgres/postmaster.pid" ] && kill -0 "$(head -n1 "$STATE/postgres/postmaster.pid")" 2>/dev/null
}

stop_pid() { # <name> <pid file> [signal, default TERM]
  local name=$1 pidfile=$2 signal=${3:-TERM} pid i
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "-$signal" "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIG$signal for 20 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "stopped $name (pid $pid)"
}

cmd_stop() {
  [ -d "$STATE" ] || { log "nothing to stop ($STATE does not exist)"; return 0; }
  local svc
  # The services first, all at once (each drains for a few seconds), the database last.
  for svc in worker matching history frontend; do stop_pid "$svc" "$STATE/run/$svc.pid" & done
  wait
  # PostgreSQL by its postmaster's pid (SIGINT: fast shutdown), which needs no access to the
  # data directory as its user (a parent made private since would stop pg_ctl).
  local pid
  if [ -f "$STATE/postgres/postmaster.pid" ] && pid=$(head -n1 "$STATE/postgres/postmaster.pid") &&
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid" >"$STATE/run/postgres.pid"
    stop_pid PostgreSQL "$STATE/run/postgres.pid" INT
  fi
  rm -f "$STATE/run/address"
}

cmd_status() {
  local ok=0 svc pid
  if [ -f "$STATE/postgres/postmaster.pid" ] && pid=$(head -n1 "$STATE/postgres/postmaster.pid") && kill -0 "$pid" 2>/dev/null; then
    echo "postgres  running  pid $pid  127.0.0.1:$PG_PORT"
  else
    echo "postgres  stopped"
    ok=1
  fi
  for svc in "${SERVICES[@]}"; do
    if pid_alive "$STATE/run/$svc.pid"; then
      printf '%-9s running  pid %s  127.0.0.1:%s  metrics http://127.0.0.1:%s/metrics%s\n' "$svc" \
        "$(cat "$STATE/run/$svc.pid")" "$(grpc_port "$svc")" "$(metrics_port "$svc")" \
        "$(metrics_up "$svc" 2>/dev/null || echo '  (not answering)')"
    else
      echo "$svc  stopped"
      ok=1
    fi
  done
  if [ "$ok" = 0 ] && frontend_healthy 2>/dev/null; then
    echo "TEMPORAL_ADDRESS=$ADDRESS"
  else
    ok=1
  fi
  echo "state $STATE, logs $STATE/logs"
  return "$ok"
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
