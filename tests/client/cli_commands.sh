#!/usr/bin/env bash
# cli_commands.sh SERVER CLI EXAMPLE_SYNC EXAMPLE_ASYNC -- run every
# `cairn` data command against a real cairn-server on 127.0.0.1 (a port in
# 22000-22499, a temporary data dir) and check outputs and exit codes (0
# ok, 1 error, 2 usage, 3 unreachable); the two example programs run
# against the same server. The server is killed on any exit.
set -uo pipefail
server=$1 cli=$2 ex_sync=$3 ex_async=$4
dir=$(mktemp -d /tmp/cairn-cli-test-XXXXXX)
pid=""
failures=0

cleanup()
{
    if [ -n "$pid" ]; then
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail()
{
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect CODE ARGS... -- run cairn with ARGS, check the exit code; stdout
# is left in $dir/out, stderr in $dir/err.
expect()
{
    local want=$1 got
    shift
    "$cli" --host "$host" "$@" >"$dir/out" 2>"$dir/err"
    got=$?
    if [ "$got" != "$want" ]; then
        fail "cairn $* exited $got, want $want: $(cat "$dir/err")"
    fi
}

# has TEXT -- the last stdout contains TEXT.
has()
{
    grep -qF -- "$1" "$dir/out" || fail "output lacks '$1': $(cat "$dir/out")"
}

start_server()
{
    local i
    "$server" --data-dir "$dir/data" --listen 127.0.0.1 --port "$port" \
        --sync group 2>>"$dir/server.log" &
    pid=$!
    for i in $(seq 1 300); do
        if "$cli" --host "$host" keyspaces >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            pid=""
            return 1
        fi
        sleep 0.1
    done
    return 1
}

for try in 0 1 2 3 4 5 6 7; do
    port=$((22000 + (($$ + try * 53) % 166) * 3))
    host=127.0.0.1:$port
    start_server && break
done
[ -n "$pid" ] || { echo "cannot start cairn-server" >&2; exit 1; }

echo "== schema"
expect 0 create-keyspace demo --rf 1
expect 1 create-keyspace demo --rf 1
grep -q exists "$dir/err" || fail "duplicate keyspace error lacks 'exists'"
expect 0 keyspaces
has "demo rf=1"
expect 0 keyspaces --json
has '{"name":"demo","replication_factor":1}'
expect 0 create-table demo.users --gc-grace 100 --compression none
expect 0 create-table demo.events --default-ttl 3600
expect 0 tables demo
has "users id="
has "gc_grace=100 default_ttl=0 compression=none"
has "default_ttl=3600 compression=lz4"
expect 0 --json tables demo
has '"name":"users"'
expect 1 tables nosuch
expect 0 drop-table demo.events
expect 0 tables demo
grep -q events "$dir/out" && fail "dropped table still listed"

echo "== put and get"
expect 0 put demo.users alice name=Alice "city=New York"
expect 0 get demo.users alice
has 'alice "" '
has 'name=Alice'
has 'city="New York"'
expect 0 put demo.users bob --ck 2024 --ttl 3600 score=7 --consistency one
expect 0 get demo.users bob --ck 2024
has "bob 2024 score=7"
expect 0 get demo.users bob --ck 2025
[ -s "$dir/out" ] && fail "missing row printed something"
expect 0 --json get demo.users bob
has '"partition":"bob","ck":"2024","cells":[{"column":"score","value":"7"'
expect 1 put demo.nosuch k a=1
expect 2 put demo.users k
expect 0 --consistency all put demo.users carol a=1
expect 0 --json put demo.users quoted "v=line1"$'\n'"line2 \"x\""
has '{"ok":true}'
expect 0 get demo.users quoted
has 'quoted "" v="line1\nline2 \"x\""'
expect 0 delete demo.users quoted

echo "== scan"
for ck in a b c d e; do
    expect 0 put demo.users series --ck "$ck" v="$ck"
done
expect 0 scan demo.users series
[ "$(wc -l <"$dir/out")" = 5 ] || fail "scan of a partition: not 5 rows"
expect 0 scan demo.users series --from b --to d
[ "$(cut -d' ' -f2 "$dir/out" | tr -d '\n')" = bcd ] || fail "slice b..d"
expect 0 scan demo.users series --limit 2
[ "$(wc -l <"$dir/out")" = 2 ] || fail "--limit 2"
expect 0 scan demo.users
# alice, bob, carol, 5 rows of series
[ "$(wc -l <"$dir/out")" = 8 ] || fail "table scan: not 8 rows"
expect 2 scan demo.users --from a

echo "== delete"
expect 0 delete demo.users alice city
expect 0 get demo.users alice
has "name=Alice"
grep -q city "$dir/out" && fail "deleted cell still there"
expect 0 delete demo.users series --ck c
expect 0 scan demo.users series
[ "$(wc -l <"$dir/out")" = 4 ] || fail "row delete"
expect 0 delete demo.users series
expect 0 scan demo.users series
[ -s "$dir/out" ] && fail "partition delete left rows"

echo "== examples and a table larger than a page"
"$ex_sync" "$host" >"$dir/out" 2>"$dir/err" || fail "example-sync: $(cat "$dir/err")"
has "page 3:"
"$ex_async" "$host" 2500 >"$dir/out" 2>"$dir/err" ||
    fail "example-async: $(cat "$dir/err")"
has "2500 writes: 2500 ok, 0 failed"
has "key-8 value=64"
has "scan saw 2500 rows"
expect 0 scan example.counters
[ "$(wc -l <"$dir/out")" = 2500 ] || fail "scan across pages: not 2500 rows"
expect 0 scan example.counters --limit 1001
[ "$(wc -l <"$dir/out")" = 1001 ] || fail "scan --limit 1001"

echo "== drop keyspace and unreachable node"
expect 0 drop-keyspace demo
expect 0 keyspaces
grep -q demo "$dir/out" && fail "dropped keyspace still listed"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 0 ] || fail "cairn-server exited $rc on SIGTERM"
expect 3 keyspaces
expect 3 get demo.users alice

if [ "$failures" -gt 0 ]; then
    echo "cli_commands: $failures failures" >&2
    exit 1
fi
echo "cli_commands: ok"
