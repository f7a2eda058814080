#!/bin/sh
# cluster_kill_load.sh BIN_DIR BASE_PORT -- QUORUM requests survive the
# SIGKILL of one replica in flight.
#
# Three nodes (`cairn cluster`, node I at BASE + 10 * (I - 1)), a YCSB
# keyspace at RF 3, and a closed-loop QUORUM read/update load (workload
# a, few hot records so reads often find replicas differing and go on
# to read-repair slices) through node 1 while node 2 is SIGKILLed
# mid-run. Node 2 is paused (SIGSTOP) for a second before the kill, so
# that at the kill many requests of every phase are in flight to it
# (without the pause the race is hit about half the time). QUORUM of
# RF 3 is 2 replicas and 2 stay up, so no request may fail: not a timeout
# waiting for the dead node, not an error. Afterwards every record reads
# back at QUORUM with node 2 still down (--verify). The bench exits 0
# only when no request failed and every record verified; its JSON
# summary must also count zero errors.
set -u
BIN=$1
BASE=$2
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-kill-XXXXXX")
BENCH_PID=""

cleanup() {
    [ -n "$BENCH_PID" ] && kill -9 "$BENCH_PID" 2>/dev/null
    "$BIN/cairn" cluster kill 1 --dir "$DIR" >/dev/null 2>&1
    "$BIN/cairn" cluster kill 2 --dir "$DIR" >/dev/null 2>&1
    "$BIN/cairn" cluster kill 3 --dir "$DIR" >/dev/null 2>&1
    wait 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    for i in 1 2 3; do
        echo "--- node $i log (tail)" >&2
        tail -20 "$DIR/node$i/node.log" >&2 2>/dev/null
    done
    exit 1
}

H="127.0.0.1:$BASE"
"$BIN/cairn" cluster start --nodes 3 --dir "$DIR" --base-port "$BASE" ||
    fail "cluster start"
# Load at ALL: every replica holds every record before the kill.
"$BIN/cairn-bench" load --hosts "$H" --rf 3 --records 10 --fields 2 \
    --consistency all --connections 2 --inflight 8 >"$DIR/load.out" 2>&1 ||
    fail "load: $(tail -5 "$DIR/load.out")"

"$BIN/cairn-bench" run --workload a --hosts "$H" --records 10 --fields 2 \
    --consistency quorum --duration 7 --connections 4 --inflight 32 \
    --verify --json "$DIR/run.json" >"$DIR/run.out" 2>&1 &
BENCH_PID=$!
sleep 2
"$BIN/cairn" cluster pause 2 --dir "$DIR" || fail "pause node 2"
sleep 1
"$BIN/cairn" cluster kill 2 --dir "$DIR" || fail "kill node 2"
wait "$BENCH_PID"
rc=$?
BENCH_PID=""
cat "$DIR/run.out"
[ -s "$DIR/run.json" ] || fail "no JSON summary"
tr -d ' \n' <"$DIR/run.json" | grep -q '"error_count":0,' ||
    fail "QUORUM requests failed with one of three replicas down: $(cat "$DIR/run.json")"
[ "$rc" = 0 ] || fail "bench exit $rc with one of three replicas down"
echo "ok: no QUORUM request failed while node 2 was killed"
