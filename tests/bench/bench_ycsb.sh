#!/usr/bin/env bash
# bench_ycsb.sh SERVER CLI BENCH -- cairn-bench against a real node
# (127.0.0.1, port 27000): load, then every workload with --verify and
# --json, checking the JSON's keys and counts; --verify must find records
# that were never loaded (missing) and a value damaged behind its back
# (wrong), and exit 1 for them.
server=$1 cli=$2 bench=$3 port=27000
. "$(dirname "$0")/common.sh"
start_server
h=127.0.0.1:$port
records=300

b() { "$bench" "$@" --hosts "$h" --records "$records" --connections 2 \
    --inflight 4 >"$dir/out" 2>"$dir/err"; }

# check_json FILE OP... -- the keys the issue names, with sane values.
check_json()
{
    local f=$1 op k
    shift
    check "$f ops_per_sec is a number" "$(jq '.ops_per_sec | type' "$f")" \
        '"number"'
    check "$f errors" "$(jq '[.errors[]] | add' "$f")" 0
    for op in "$@"; do
        for k in count p50_us p99_us p999_us max_us; do
            check "$f $op.$k" "$(jq ".operations[\"$op\"].$k | type" "$f")" \
                '"number"'
        done
    done
    check "$f verify.checked" "$(jq '.verify.checked' "$f")" "$records"
    check "$f verify.missing" "$(jq '.verify.missing' "$f")" 0
    check "$f verify.wrong" "$(jq '.verify.wrong' "$f")" 0
}

b load --rf 1 --verify --json "$dir/load.json" || fail "load: $(cat "$dir/err")"
check_json "$dir/load.json" insert
check "load inserts" "$(jq '.operations.insert.count' "$dir/load.json")" \
    "$records"

# Per YCSB core: which operation types each workload runs.
declare -A ops=([a]="read update" [b]="read update" [c]="read"
    [d]="read insert" [e]="scan insert" [f]="read read-modify-write"
    [write]="update" [read]="read" [mixed]="read update")
for w in a b c d e f write read mixed; do
    b run --workload "$w" --operations 400 --verify --json "$dir/$w.json" ||
        fail "workload $w exited non-zero: $(tail -3 "$dir/err")"
    # shellcheck disable=SC2086
    check_json "$dir/$w.json" ${ops[$w]}
    total=$(jq '[.operations[].count] | add' "$dir/$w.json")
    check "workload $w operations" "$total" 400
done

# Ten records more than were loaded (into a table of their own, since
# workloads D and E inserted records past the first table's 300): ten
# missing, exit 1.
b load --table m >/dev/null || fail "load of table m"
records=310
if b run --table m --operations 0 --verify --json "$dir/missing.json"; then
    fail "verify with missing records exited 0"
fi
check "missing" "$(jq '.verify.missing' "$dir/missing.json")" 10
check "checked" "$(jq '.verify.checked' "$dir/missing.json")" 310
# A verify-only run did no timed operations: its rate is 0, not NaN.
check "verify-only rate" "$(jq '.ops_per_sec' "$dir/missing.json")" 0
records=300

# A value written behind cairn-bench's back fails its self-check. Record
# 0's key is "user" and FNV-1a 64 of eight zero bytes.
"$cli" --host "$h" put ycsb.usertable user6284781860667377211 \
    field3=garbage >/dev/null || fail "put of a bad value"
if b run --operations 0 --verify --json "$dir/wrong.json"; then
    fail "verify with a wrong value exited 0"
fi
check "wrong" "$(jq '.verify.wrong' "$dir/wrong.json")" 1
check "missing" "$(jq '.verify.missing' "$dir/wrong.json")" 0

# Usage errors exit 2 and touch nothing.
"$bench" run --workload z --hosts "$h" >/dev/null 2>&1
check "unknown workload exit" "$?" 2
"$bench" load --value-size 10 --hosts "$h" >/dev/null 2>&1
check "too small values exit" "$?" 2
finish
