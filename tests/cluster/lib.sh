# lib.sh -- what the cluster tests share; sourced, never run.
# Set `cli` (build/bin/cairn) and `dir` (the test's directory) before
# sourcing. Everything a test starts is killed on exit, failure included:
# `cairn cluster stop`, then SIGKILL to every pid in the layout and to any
# extra server started by the test (`extra_pids`).
set -uo pipefail
failures=0
extra_pids=""

# A watchdog ends the script (running the cleanup below) before ctest's
# own timeout would kill it with no chance to stop the servers.
TEST_LIMIT_S=${TEST_LIMIT_S:-120}
{ sleep "$TEST_LIMIT_S" && kill -TERM $$; } >/dev/null 2>&1 &
watchdog=$!

cleanup()
{
    local p
    pkill -P "$watchdog" 2>/dev/null
    kill "$watchdog" 2>/dev/null
    if [ -f "$dir/c/cluster.layout" ]; then
        timeout 40 "$cli" cluster stop --dir "$dir/c" >/dev/null 2>&1
        for p in $(awk '/^node/ {print $6}' "$dir/c/cluster.layout"); do
            [ "$p" != 0 ] && kill -9 "$p" 2>/dev/null
        done
    fi
    for p in $extra_pids; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$failures" != 0 ] && [ -d "$dir/c" ]; then
        for f in "$dir"/c/node*/node.log; do
            echo "---- $f (last lines)" >&2
            tail -n 30 "$f" >&2
        done
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'echo "FAIL: stopped by a signal (time limit ${TEST_LIMIT_S} s?)" >&2; exit 1' INT TERM HUP

fail()
{
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# now_s -- seconds since the epoch, with decimals, for reported times.
now_s()
{
    date +%s.%N
}

# elapsed START -- seconds since START, one decimal.
elapsed()
{
    awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'
}

# wait_for SECONDS CMD... -- run CMD every 0.3 s until it succeeds; 1 if
# it never did within SECONDS (a generous bound, not a timing check).
wait_for()
{
    local limit=$1 start
    shift
    start=$(date +%s)
    while ! "$@"; do
        if [ $(($(date +%s) - start)) -ge "$limit" ]; then
            return 1
        fi
        sleep 0.3
    done
    return 0
}

# status_json PORT -- `cairn status --json` of the node at PORT.
status_json()
{
    "$cli" --host "127.0.0.1:$1" status --json 2>/dev/null
}

# node_is PORT ADDR_PORT STATUS -- the node at PORT shows the node at
# ADDR_PORT with status "up" or "down".
node_is()
{
    status_json "$1" |
        grep -q "\"address\":\"127.0.0.1:$2\",\"status\":\"$3\""
}

# count_in PORT PATTERN -- how many times PATTERN is in PORT's status.
count_in()
{
    status_json "$1" | grep -o "$2" | wc -l
}

# all_up PORT N -- the node at PORT sees N nodes, all up and normal.
all_up()
{
    local js
    js=$(status_json "$1") || return 1
    [ "$(grep -o '"host_id"' <<<"$js" | wc -l)" = "$2" ] &&
        [ "$(grep -o '"status":"up"' <<<"$js" | wc -l)" = "$2" ] &&
        [ "$(grep -o '"state":"normal"' <<<"$js" | wc -l)" = "$2" ]
}

# host_ids PORT -- the sorted host ids the node at PORT knows.
host_ids()
{
    status_json "$1" | grep -o '"host_id":"[^"]*"' | sort
}

# table_ids PORT KS -- "name id" of every table of KS at PORT, sorted.
table_ids()
{
    "$cli" --host "127.0.0.1:$1" tables "$2" 2>/dev/null |
        awk '{print $1, $2}' | sort
}

finish()
{
    if [ "$failures" != 0 ]; then
        echo "$failures check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

# tables_are PORT KS WANT -- table_ids of KS at PORT are exactly WANT.
tables_are()
{
    [ "$(table_ids "$1" "$2")" = "$3" ]
}
