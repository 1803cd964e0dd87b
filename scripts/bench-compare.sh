#!/usr/bin/env bash
# Side-by-side benchmark of berth-lockd, etcd and ZooKeeper on this machine
# (issue #8). One system at a time: a 3-member cluster on 127.0.0.1 with its
# data dirs on one filesystem and fsync on everywhere (berth's default
# synchronous=FULL, etcd's defaults, ZooKeeper forceSync=yes), then every
# workload at every client count, RUNS times each (median reported), with
# the same driver (`berth bench --target ...`). Then the failover gap
# (kill -9 the leader -> first acknowledged write) for berth and etcd.
# Prints a Markdown report; --write-docs puts it into docs/benchmarks.md
# between the bench-compare markers. Stops everything it started.
#
#   scripts/bench-compare.sh [--write-docs]
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]          where berth and berth-lockd are (built if absent)
#   DURATION [2s] WARMUP [1s]  measurement window / unmeasured lead-in per run
#   RUNS [3]                   runs per cell; the table shows the median
#   CLIENTS ["1 16 64"]
#   SYSTEMS ["berth etcd zookeeper"]
#   WORKLOADS ["put get sget cas lock sessions watch watchd"]
#   WATCHERS [1000] SESSIONS [1000]
#   FAILOVER_ROUNDS [3]        per system (berth, etcd); 0 skips
#   PEER_ATTEMPT_TIMEOUT [1s]  etcd failover: bound on each put attempt
#   BENCH_TMP [${TMPDIR:-/tmp}]  parent of the data dirs
#   BERTH_PORT [17511] ETCD_PORT [23791] ZK_PORT [21811]   first of 3 ports
#   BERTH_TICK_MS [50] BERTH_ELECTION_TICKS [10]   berth-lockd's defaults
#   NICE [-10]                 niceness of every server and of the driver, so
#                              background jobs on a shared machine disturb
#                              all three systems less (same for each; 0 = off)
#   TLS [0]                    1: mutual TLS on every client and peer port of
#                              berth and etcd (certificates from `berth cert`,
#                              a new CA per run; etcd with --client-cert-auth
#                              and --peer-client-cert-auth), the driver with a
#                              user certificate. ZooKeeper is left out (SYSTEMS
#                              defaults to "berth etcd"); --write-docs fills the
#                              bench-compare-tls markers instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WRITE_DOCS=0
for arg in "$@"; do
  case "$arg" in
    --write-docs) WRITE_DOCS=1 ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-compare.sh: unknown argument \"$arg\" (try --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR=${BUILD_DIR:-build}
TLS=${TLS:-0}
DURATION=${DURATION:-2s}
WARMUP=${WARMUP:-1s}
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-"1 16 64"}
if [[ "$TLS" == 1 ]]; then
  SYSTEMS=${SYSTEMS:-"berth etcd"}
else
  SYSTEMS=${SYSTEMS:-"berth etcd zookeeper"}
fi
WORKLOADS=${WORKLOADS:-"put get sget cas lock sessions watch watchd"}
WATCHERS=${WATCHERS:-1000}
SESSIONS=${SESSIONS:-1000}
FAILOVER_ROUNDS=${FAILOVER_ROUNDS:-3}
PEER_ATTEMPT_TIMEOUT=${PEER_ATTEMPT_TIMEOUT:-1s}
BERTH_PORT=${BERTH_PORT:-17511}
ETCD_PORT=${ETCD_PORT:-23791}
ZK_PORT=${ZK_PORT:-21811}
NICE=${NICE:--10}
# berth-lockd's defaults (lockservice/lockd/main.cc), so the table shows what
# an operator gets without tuning.
BERTH_TICK_MS=${BERTH_TICK_MS:-50}
BERTH_ELECTION_TICKS=${BERTH_ELECTION_TICKS:-10}

log() { echo "bench-compare.sh: $*" >&2; }
# Every server and driver process runs at the same niceness. nice execs
# its command, so $! stays the server's pid.
NICE_CMD=()
[[ "$NICE" == 0 ]] || NICE_CMD=(nice -n "$NICE")
T0=$SECONDS

# --- Peers -------------------------------------------------------------------
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null ||
  [[ ! -f /usr/share/java/zookeeper.jar ]]; then
  log "installing etcd and ZooKeeper (scripts/setup.sh)"
  scripts/setup.sh >&2
fi

BERTH=$ROOT/$BUILD_DIR/cli/berth
LOCKD=$ROOT/$BUILD_DIR/lockservice/lockd/berth-lockd
if [[ ! -x "$BERTH" || ! -x "$LOCKD" ]]; then
  log "building berth and berth-lockd in $BUILD_DIR"
  BUILD_DIR=$BUILD_DIR scripts/build.sh --target berth berth-lockd >&2
fi

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/bench-compare.XXXXXX")
declare -A PIDS=()  # member index -> pid of the running system

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Certificates (TLS=1) ------------------------------------------------------
# One CA for the run; a server certificate per member (berth's and etcd's,
# SAN 127.0.0.1, serverAuth+clientAuth so etcd's peers can use them both
# ways) and a user certificate for the driver, which the CLI reads from
# BERTH_TLS_* (the servers get explicit flags, which take precedence).
ETCD_SCHEME=http
ETCDCTL_TLS=()
if [[ "$TLS" == 1 ]]; then
  mkdir -p "$WORK/tls"
  "$BERTH" cert ca --out "$WORK/tls/ca" >/dev/null
  issue() { "$BERTH" cert issue --ca "$WORK/tls/ca" --kind "$1" --name "$2" \
    ${3:+--host "$3"} --out "$WORK/tls/$2" >/dev/null; }
  for i in 1 2 3; do issue server "$i" 127.0.0.1; issue server "e$i" 127.0.0.1; done
  issue user bench
  export BERTH_TLS_CA=$WORK/tls/bench/ca.pem BERTH_TLS_CERT=$WORK/tls/bench/cert.pem \
    BERTH_TLS_KEY=$WORK/tls/bench/key.pem
  ETCD_SCHEME=https
  ETCDCTL_TLS=(--cacert "$BERTH_TLS_CA" --cert "$BERTH_TLS_CERT" --key "$BERTH_TLS_KEY")
fi
berth_tls_flags() {  # member -> berth-lockd's TLS flags
  if [[ "$TLS" == 1 ]]; then
    echo "--tls-ca $WORK/tls/$1/ca.pem --tls-cert $WORK/tls/$1/cert.pem --tls-key $WORK/tls/$1/key.pem"
  else
    echo "--insecure"
  fi
}
etcd_tls_flags() {  # member -> etcd's TLS flags
  [[ "$TLS" == 1 ]] || return 0
  local d=$WORK/tls/e$1
  echo "--cert-file $d/cert.pem --key-file $d/key.pem --trusted-ca-file $d/ca.pem" \
    "--client-cert-auth --peer-cert-file $d/cert.pem --peer-key-file $d/key.pem" \
    "--peer-trusted-ca-file $d/ca.pem --peer-client-cert-auth"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  local deadline=$((SECONDS + 60))
  until port_in_use "$1"; do
    ((SECONDS < deadline)) || { log "port $1 never opened; logs in $WORK"; return 1; }
    sleep 0.1
  done
}
for p in $BERTH_PORT $ETCD_PORT $ZK_PORT; do
  for i in 0 1 2 10 11 12 20 21 22; do
    if port_in_use $((p + i)); then
      log "port $((p + i)) is in use; set BERTH_PORT/ETCD_PORT/ZK_PORT"
      exit 1
    fi
  done
done

endpoints() {  # base port -> "127.0.0.1:p,127.0.0.1:p+1,127.0.0.1:p+2"
  echo "127.0.0.1:$1,127.0.0.1:$(($1 + 1)),127.0.0.1:$(($1 + 2))"
}
pid_list() { local IFS=,; echo "${PIDS[*]}"; }

# --- berth -------------------------------------------------------------------
start_berth_member() {
  local i=$1 peers=""
  for j in 1 2 3; do peers+="${peers:+,}$j=127.0.0.1:$((BERTH_PORT + j - 1))"; done
  mkdir -p "$WORK/berth/r$i"
  "${NICE_CMD[@]}" "$LOCKD" --id "$i" --listen "127.0.0.1:$((BERTH_PORT + i - 1))" \
    --peers "$peers" --data-dir "$WORK/berth/r$i" --tick-ms "$BERTH_TICK_MS" \
    --election-ticks "$BERTH_ELECTION_TICKS" $(berth_tls_flags "$i") >>"$WORK/berth-r$i.log" 2>&1 &
  PIDS[$i]=$!
}
berth_leader_pid() {  # waits for a leader that accepts a write
  local deadline=$((SECONDS + 60)) id
  while ((SECONDS < deadline)); do
    id=$(BERTH_LOCK_ENDPOINTS=$(endpoints "$BERTH_PORT") "$BERTH" cluster status \
      --output json --timeout 2s 2>/dev/null | jq -r '.leader_id' 2>/dev/null || true)
    if [[ "$id" =~ ^[123]$ ]] && BERTH_LOCK_ENDPOINTS=$(endpoints "$BERTH_PORT") \
      "$BERTH" kv put /bench/ready yes --timeout 5s >/dev/null 2>&1; then
      echo "$id ${PIDS[$id]}"
      return 0
    fi
    sleep 0.1
  done
  log "berth: no leader after 60s"; return 1
}
start_berth() { for i in 1 2 3; do start_berth_member "$i"; done; berth_leader_pid >/dev/null; }

# --- etcd --------------------------------------------------------------------
start_etcd_member() {
  local i=$1 cluster=""
  for j in 1 2 3; do cluster+="${cluster:+,}e$j=$ETCD_SCHEME://127.0.0.1:$((ETCD_PORT + 10 + j - 1))"; done
  local client="$ETCD_SCHEME://127.0.0.1:$((ETCD_PORT + i - 1))"
  local peer="$ETCD_SCHEME://127.0.0.1:$((ETCD_PORT + 10 + i - 1))"
  mkdir -p "$WORK/etcd"
  "${NICE_CMD[@]}" etcd --name "e$i" --data-dir "$WORK/etcd/e$i" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token berth-bench --logger zap --log-level warn \
    $(etcd_tls_flags "$i") >>"$WORK/etcd-e$i.log" 2>&1 &
  PIDS[$i]=$!
}
etcd_leader_pid() {
  local deadline=$((SECONDS + 60)) ep i
  while ((SECONDS < deadline)); do
    ep=$(etcdctl "${ETCDCTL_TLS[@]}" --endpoints="$(endpoints "$ETCD_PORT")" --command-timeout=2s \
      endpoint status -w json 2>/dev/null |
      jq -r '.[] | select(.Status.leader == .Status.header.member_id) | .Endpoint' \
        2>/dev/null | head -n1 || true)
    if [[ -n "$ep" ]] && etcdctl "${ETCDCTL_TLS[@]}" --endpoints="$(endpoints "$ETCD_PORT")" \
      --command-timeout=5s put /bench/ready yes >/dev/null 2>&1; then
      i=$((${ep##*:} - ETCD_PORT + 1))
      echo "$i ${PIDS[$i]}"
      return 0
    fi
    sleep 0.1
  done
  log "etcd: no leader after 60s"; return 1
}
start_etcd() { for i in 1 2 3; do start_etcd_member "$i"; done; etcd_leader_pid >/dev/null; }

# --- ZooKeeper -----------------------------------------------------------------
start_zk_member() {
  local i=$1 dir="$WORK/zk/z$1"
  mkdir -p "$dir/data"
  echo "$i" >"$dir/data/myid"
  {
    echo "tickTime=2000"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$dir/data"
    echo "clientPort=$((ZK_PORT + i - 1))"
    echo "clientPortAddress=127.0.0.1"
    echo "maxClientCnxns=0"
    echo "forceSync=yes"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=srvr"
    for j in 1 2 3; do
      echo "server.$j=127.0.0.1:$((ZK_PORT + 10 + j - 1)):$((ZK_PORT + 20 + j - 1))"
    done
  } >"$dir/zoo.cfg"
  # -Xmx1000m is zkServer.sh's default heap.
  "${NICE_CMD[@]}" java -Xmx1000m -cp "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar" \
    -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=WARN,CONSOLE \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
    >>"$WORK/zk-z$i.log" 2>&1 &
  PIDS[$i]=$!
}
zk_mode() {  # "leader" / "follower" / ""
  (exec 3<>"/dev/tcp/127.0.0.1/$1" && echo srvr >&3 && timeout 2 cat <&3) 2>/dev/null |
    awk '/^Mode:/ {print $2}'
}
start_zk() {
  for i in 1 2 3; do start_zk_member "$i"; done
  local deadline=$((SECONDS + 90)) i
  while ((SECONDS < deadline)); do
    for i in 1 2 3; do
      if [[ "$(zk_mode $((ZK_PORT + i - 1)))" == leader ]]; then return 0; fi
    done
    sleep 0.2
  done
  log "zookeeper: no leader after 90s"; return 1
}

# --- Machine -----------------------------------------------------------------
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM_GIB=$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
FSTYPE=$(df -PT "$WORK" | awk 'NR == 2 {print $2}')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "measuring fdatasync latency in $WORK ($FSTYPE)"
DD_SECONDS=$(dd if=/dev/zero of="$WORK/dsync.test" bs=4k count=300 oflag=dsync 2>&1 |
  awk '/copied/ {for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) print $(i-1)}')
rm -f "$WORK/dsync.test"
FSYNC_MS=$(awk -v s="$DD_SECONDS" 'BEGIN {printf "%.3f", s * 1000 / 300}')
RTT_US="not measured (no python3)"
if command -v python3 >/dev/null; then
  # Raw TCP ping-pong on loopback: the floor under every request.
  RTT_US=$(python3 - <<'EOF'
import socket, threading, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def echo():
    c, _ = srv.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(64)
        if not d: return
        c.sendall(d)
threading.Thread(target=echo, daemon=True).start()
s = socket.create_connection(srv.getsockname()); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
n, samples = 2000, []
for _ in range(n):
    t = time.perf_counter(); s.sendall(b"x"); s.recv(64); samples.append(time.perf_counter() - t)
samples.sort()
print("%.0f µs median, %.0f µs p99" % (samples[n // 2] * 1e6, samples[int(n * 0.99)] * 1e6))
EOF
)
fi
log "fdatasync ≈ ${FSYNC_MS} ms; loopback RTT ${RTT_US}"

# --- Runs --------------------------------------------------------------------
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
bench_args() {  # workload -> berth bench arguments
  case "$1" in
    put) echo "put" ;;
    get) echo "get" ;;
    sget) echo "get --serializable" ;;
    cas) echo "cas" ;;
    lock) echo "lock" ;;
    sessions) echo "sessions --sessions $SESSIONS" ;;
    watch) echo "watch --watchers $WATCHERS" ;;
    watchd) echo "watch --watchers $WATCHERS --distinct-keys" ;;
    *) log "unknown workload $1"; return 1 ;;
  esac
}
port_of() {
  case "$1" in berth) echo "$BERTH_PORT" ;; etcd) echo "$ETCD_PORT" ;; zookeeper) echo "$ZK_PORT" ;; esac
}

run_matrix() {
  local sys=$1 eps wl c run args out
  eps=$(endpoints "$(port_of "$sys")")
  # Warm-up: one unrecorded put run, so that JITs, caches and connections
  # are hot before the first measured cell.
  "${NICE_CMD[@]}" "$BERTH" bench put --target "$sys" --endpoints "$eps" --clients 16 \
    --duration 2s --warmup 0 --key-prefix /bench/warm/ >/dev/null 2>&1 || true
  for wl in $WORKLOADS; do
    for c in $CLIENTS; do
      for ((run = 1; run <= RUNS; run++)); do
        # shellcheck disable=SC2207
        args=($(bench_args "$wl"))
        out=$("${NICE_CMD[@]}" "$BERTH" bench "${args[@]}" --target "$sys" --endpoints "$eps" \
          --clients "$c" --duration "$DURATION" --warmup "$WARMUP" \
          --server-pids "$(pid_list)" --key-prefix "/bench/$wl-$c-$run/" \
          --timeout 30s --output json 2>"$WORK/bench.err") || {
          log "$sys $wl c=$c run $run failed: $(head -c 300 "$WORK/bench.err")"
          out='{"failed":true}'
        }
        jq -c --arg sys "$sys" --arg wl "$wl" --argjson c "$c" --argjson run "$run" \
          '. + {system: $sys, wl: $wl, clients: $c, run: $run}' <<<"$out" >>"$RESULTS"
        log "$sys $wl c=$c run $run: $(jq -r 'if .failed then "failed" else "\(.ops_per_sec) ops/s p99 \(.latency_ms.p99) ms errors \(.errors)" end' <<<"$out")"
      done
    done
  done
}

declare -A GAPS=()
run_failover() {
  local sys=$1 eps round leader idx pid out gap
  eps=$(endpoints "$(port_of "$sys")")
  for ((round = 1; round <= FAILOVER_ROUNDS; round++)); do
    read -r idx pid < <("${sys}_leader_pid") || { log "$sys: no leader"; return; }
    if [[ "$sys" == berth ]]; then
      out=$(BERTH_LOCK_ENDPOINTS=$eps "${NICE_CMD[@]}" "$BERTH" bench failover --kill-pid "$pid" \
        --dial-timeout 100ms --output json 2>>"$WORK/bench.err") || out=""
    else
      out=$("${NICE_CMD[@]}" "$BERTH" bench failover --target "$sys" --endpoints "$eps" \
        --kill-pid "$pid" --attempt-timeout "$PEER_ATTEMPT_TIMEOUT" --output json 2>>"$WORK/bench.err") || out=""
    fi
    wait "$pid" 2>/dev/null || true
    gap=$(jq -r '.gap_ms // empty' <<<"$out" 2>/dev/null || true)
    if [[ -n "$gap" ]]; then
      GAPS[$sys]+="$gap "
      log "$sys failover round $round: killed member $idx, first write after ${gap} ms"
    else
      log "$sys failover round $round failed"
    fi
    "start_${sys}_member" "$idx"
    wait_port $(($(port_of "$sys") + idx - 1))
  done
}

for sys in $SYSTEMS; do
  case "$sys" in berth | etcd | zookeeper) ;; *) log "unknown system $sys"; exit 2 ;; esac
  log "starting $sys"
  case "$sys" in
    berth) start_berth ;;
    etcd) start_etcd ;;
    zookeeper) start_zk ;;
  esac
  run_matrix "$sys"
  if ((FAILOVER_ROUNDS > 0)) && [[ "$sys" != zookeeper ]]; then run_failover "$sys"; fi
  log "stopping $sys"
  stop_all
  case "$sys" in berth) rm -rf "$WORK/berth" ;; etcd) rm -rf "$WORK/etcd" ;; zookeeper) rm -rf "$WORK/zk" ;; esac
done
ELAPSED=$((SECONDS - T0))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report ------------------------------------------------------------------
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print ""; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
REPORT=$WORK/report.md
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "(working tree may differ), \`TLS=$TLS DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS CLIENTS=\"$CLIENTS\" WATCHERS=$WATCHERS SESSIONS=$SESSIONS scripts/bench-compare.sh\`," \
    "${ELAPSED} s end to end."
  echo
  echo "Machine: $(nproc) CPUs ($CPU_MODEL), ${MEM_GIB} GiB RAM, kernel $(uname -r)." \
    "Load average $LOAD_START at start, $LOAD_END at the end." \
    "Data dirs on $FSTYPE; 4 KiB O_DSYNC write (≈ fdatasync): ${FSYNC_MS} ms." \
    "Loopback TCP round trip: ${RTT_US}." \
    "Versions: $(etcd --version 2>/dev/null | head -n1), ZooKeeper $(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo '?'), berth-lockd from $BUILD_DIR." \
    "Servers and driver at niceness $NICE."
  if [[ "$TLS" == 1 ]]; then
    echo
    echo "**Mutual TLS on** (\`TLS=1\`): every client and peer connection of both systems is TLS with client" \
      "certificates verified against one CA (\`berth cert\`; berth-lockd --tls-ca/--tls-cert/--tls-key, etcd" \
      "--client-cert-auth and --peer-client-cert-auth); the driver presents a user certificate."
  fi
  echo
  echo "Each cell: median of $RUNS runs of $DURATION (after $WARMUP warm-up); latency from the request's due time, in ms;" \
    "CPU s = user+sys of the 3 server processes over the whole run (setup and warm-up included);" \
    "RSS = sum of the 3 servers' peak resident memory (VmHWM, lifetime peak) in MiB; errors = worst run."
  echo
  echo "| workload | clients | system | ops/s | p50 | p99 | p99.9 | server CPU s | peak RSS MiB | errors | notes |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
  for wl in $WORKLOADS; do
    for c in $CLIENTS; do
      for sys in $SYSTEMS; do
        sel=$(jq -c --arg s "$sys" --arg w "$wl" --argjson c "$c" \
          'select(.system == $s and .wl == $w and .clients == $c and (.failed | not))' "$RESULTS")
        n=$(grep -c . <<<"$sel" || true)
        if [[ -z "$sel" || "$n" == 0 ]]; then
          echo "| $wl | $c | $sys | failed | | | | | | | |"
          continue
        fi
        ops=$(jq -r '.ops_per_sec' <<<"$sel" | median)
        p50=$(jq -r '.latency_ms.p50' <<<"$sel" | median)
        p99=$(jq -r '.latency_ms.p99' <<<"$sel" | median)
        p999=$(jq -r '.latency_ms.p999' <<<"$sel" | median)
        cpu=$(jq -r '.server_cpu_s' <<<"$sel" | median)
        rss=$(jq -r '.server_peak_rss_mb' <<<"$sel" | sort -g | tail -n1)
        err=$(jq -r '.errors' <<<"$sel" | sort -g | tail -n1)
        note=$(jq -r '.note' <<<"$sel" | head -n1)
        extra=""
        [[ "$wl" == cas ]] && extra="lost attempts $(jq -r '.conflicts' <<<"$sel" | median)"
        [[ "$wl" == watch ]] && extra="$(jq -r '.events_per_sec' <<<"$sel" | median) events/s"
        [[ "$n" -lt "$RUNS" ]] && extra+="${extra:+; }only $n of $RUNS runs succeeded"
        echo "| $wl | $c | $sys | $ops | $p50 | $p99 | $p999 | $cpu | $rss | $err | ${note}${note:+${extra:+; }}${extra} |"
      done
    done
  done
  echo
  echo "Workloads: put = 256 B values to random keys of 1000; get = linearizable read (berth ReadIndex, etcd default, ZooKeeper sync+get);" \
    "sget = serializable read; cas = read then compare-and-swap of ONE key by all clients, retried until won (ops = won swaps);" \
    "lock = acquire then release of ONE lock by all clients, latency = call → grant (berth Lock, etcd v3lock, ZooKeeper ephemeral-sequential recipe);" \
    "sessions = $SESSIONS sessions (TTL 10 s) renewed every TTL/3 on a fixed schedule, ops = keepalives;" \
    "watch = $WATCHERS watchers of one key over the clients' connections, one putter, latency = put due → event;" \
    "watchd = $WATCHERS watchers each on its own key (no client-side coalescing possible), one putter writing the keys round-robin, so each put is one event."
  echo
  for sys in berth etcd; do
    [[ " $SYSTEMS " == *" $sys "* ]] || continue
    gaps=${GAPS[$sys]:-}
    if [[ -z "$gaps" ]]; then
      echo "Failover $sys: not measured."
      continue
    fi
    med=$(tr ' ' '\n' <<<"$gaps" | grep . | median)
    if [[ "$sys" == berth ]]; then
      timeouts="tick ${BERTH_TICK_MS} ms, election after ${BERTH_ELECTION_TICKS}–$((2 * BERTH_ELECTION_TICKS)) ticks ($((BERTH_TICK_MS * BERTH_ELECTION_TICKS))–$((2 * BERTH_TICK_MS * BERTH_ELECTION_TICKS)) ms), client dial timeout 100 ms"
    else
      timeouts="heartbeat 100 ms, election timeout 1000 ms (etcd defaults, randomized up to 2×), put attempts of ≤ $PEER_ATTEMPT_TIMEOUT rotated over the 3 members"
    fi
    echo "Failover $sys (kill -9 the leader → first acknowledged put; $timeouts): median **${med} ms** of: ${gaps}ms."
    echo
  done
} >"$REPORT"
cat "$REPORT"
cp "$RESULTS" "${BENCH_RESULTS_OUT:-/dev/null}" 2>/dev/null || true

if ((WRITE_DOCS)); then
  DOC=docs/benchmarks.md
  MARK=bench-compare
  [[ "$TLS" == 1 ]] && MARK=bench-compare-tls
  if ! grep -q "<!-- BEGIN $MARK -->" "$DOC" 2>/dev/null; then
    log "$DOC has no <!-- BEGIN $MARK --> marker; not written"
    exit 1
  fi
  awk -v report="$REPORT" -v begin="<!-- BEGIN $MARK -->" -v end="<!-- END $MARK -->" '
    $0 == begin {print; while ((getline line < report) > 0) print line; skip = 1; next}
    $0 == end {skip = 0}
    !skip {print}' "$DOC" >"$WORK/doc.md"
  cp "$WORK/doc.md" "$DOC"
  log "wrote the report into $DOC"
fi
