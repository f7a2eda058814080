#!/usr/bin/env bash
# bench_openloop.sh SERVER CLI BENCH -- D11: an open-loop run must not
# hide a stall. The node is frozen (SIGSTOP) for about 2 s during a
# --rate run; every operation due during the freeze waits for its end,
# and its latency counts from when it was due. So:
#   - max >= the freeze, less one interval between operations (the first
#     one due after SIGSTOP) and a little for the signals themselves;
#   - about a third of the operations (2 s of 6) were due during the
#     freeze, their latencies spread over [0, freeze], so the slowest 1%
#     of all are among the slowest 3% of those: p99 >= freeze / 2 holds
#     with room to spare;
#   - operations due during the freeze, beyond the few slots that could
#     be sent before it, start late.
# A closed-loop run must say it is closed-loop.
server=$1 cli=$2 bench=$3 port=27100
. "$(dirname "$0")/common.sh"
start_server
h=127.0.0.1:$port
rate=500

"$bench" load --hosts "$h" --records 200 >/dev/null 2>&1 || fail "load"
"$bench" run --workload c --hosts "$h" --records 200 --rate "$rate" \
    --duration 6 --connections 4 --json "$dir/open.json" \
    >"$dir/open.out" 2>"$dir/open.err" &
bpid=$!
sleep 2
t0=$(date +%s%N)
kill -STOP "$pid"
sleep 2
kill -CONT "$pid"
t1=$(date +%s%N)
wait "$bpid" || fail "open-loop run exited non-zero: $(tail "$dir/open.err")"

pause_us=$(((t1 - t0) / 1000))
slack_us=$((1000000 / rate + 50000))
max=$(jq '.operations.read.max_us' "$dir/open.json")
p99=$(jq '.operations.read.p99_us' "$dir/open.json")
late=$(jq '.late' "$dir/open.json")
echo "pause ${pause_us} us: max ${max} us, p99 ${p99} us, late ${late}"
[ "$max" -ge $((pause_us - slack_us)) ] ||
    fail "max $max us is below the pause of $pause_us us"
[ "$p99" -ge $((pause_us / 2)) ] ||
    fail "p99 $p99 us is below half the pause of $pause_us us"
[ "$late" -ge $((rate * pause_us / 1000000 / 2)) ] ||
    fail "only $late operations started late"
check "loop" "$(jq -r '.loop' "$dir/open.json")" open
grep -q "^open loop: target 500 ops/s, achieved" "$dir/open.out" ||
    fail "no achieved-vs-target line: $(cat "$dir/open.out")"

"$bench" run --workload c --hosts "$h" --records 200 --operations 500 \
    --json "$dir/closed.json" >"$dir/closed.out" 2>&1 ||
    fail "closed-loop run"
check "loop" "$(jq -r '.loop' "$dir/closed.json")" closed
grep -q "^closed loop: .*no claim about latency at a given rate" \
    "$dir/closed.out" || fail "closed loop not said: $(cat "$dir/closed.out")"

# --warmup is reported apart: its operations are not in the table.
"$bench" run --workload c --hosts "$h" --records 200 --duration 1 \
    --warmup 1 --json "$dir/warm.json" >"$dir/warm.out" 2>&1 ||
    fail "warm-up run"
[ "$(jq '.warmup.count' "$dir/warm.json")" -gt 0 ] ||
    fail "no warm-up operations counted"
grep -q "^warm-up (excluded below)" "$dir/warm.out" ||
    fail "warm-up not reported apart"
finish
