# common.sh -- shared by the tests/bench scripts (sourced): a scratch
# directory, one cairn-server on 127.0.0.1:$port, failure counting, and
# cleanup of everything started on any exit.
set -uo pipefail
dir=$(mktemp -d /tmp/cairn-bench-test-XXXXXX)
pid=""
failures=0

cleanup()
{
    if [ -n "$pid" ]; then
        kill -CONT "$pid" 2>/dev/null
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

# check WHAT GOT WANT -- equal strings.
check()
{
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', want '$3'"
    fi
}

start_server()
{
    local i
    "$server" --data-dir "$dir/data" --listen 127.0.0.1 --port "$port" \
        --sync none 2>>"$dir/server.log" &
    pid=$!
    for i in $(seq 1 300); do
        if "$cli" --host "127.0.0.1:$port" keyspaces >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "FAIL: cairn-server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
}

finish()
{
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    echo "all passed"
}
