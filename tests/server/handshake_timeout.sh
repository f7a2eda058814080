#!/usr/bin/env bash
# handshake_timeout.sh BIN_DIR PORT -- sockets that never finish their
# handshake must not lock clients out. With max_connections 4, four
# sockets that send half a frame fill every slot; the node must close
# them (its handshake deadline is 10 s) and then serve a real client.
set -euo pipefail
bin=$1 port=$2
dir=$(mktemp -d)
pid=
cleanup()
{
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

"$bin/cairn-server" --data-dir "$dir/d" --port "$port" --max-connections 4 \
    --new-cluster >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$bin/cairn" --host "127.0.0.1:$port" keyspaces >/dev/null 2>&1 && break
    sleep 0.1
done
"$bin/cairn" --host "127.0.0.1:$port" create-keyspace ks --rf 1
"$bin/cairn" --host "127.0.0.1:$port" create-table ks.t

# Four sockets, each with a length prefix of 256 bytes and only 2 sent.
for fd in 3 4 5 6; do
    eval "exec $fd<>/dev/tcp/127.0.0.1/$port"
    printf '\x00\x00\x01\x00ab' >&"$fd"
done
sleep 0.5
set +e
"$bin/cairn" --host "127.0.0.1:$port" put ks.t k v=locked-out 2>"$dir/err"
rc=$?
set -e
echo "put while the slots are held: exit $rc ($(cat "$dir/err"))"
[ "$rc" -ne 0 ] || { echo "FAIL: a fifth client got in past max_connections 4"; exit 1; }

# Each held socket must see the node close it (EOF) well before 30 s; a
# read that times out means the socket was never closed.
for fd in 3 4 5 6; do
    set +e
    cat <&"$fd" >"$dir/reply.$fd" &
    cpid=$!
    waited=0
    while kill -0 "$cpid" 2>/dev/null && [ "$waited" -lt 300 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$cpid" 2>/dev/null; then
        kill "$cpid"
        echo "FAIL: socket $fd still open 30 s after its half handshake"
        exit 1
    fi
    set -e
    eval "exec $fd<&-"
done
echo "all four idle sockets were closed by the node"

"$bin/cairn" --host "127.0.0.1:$port" put ks.t k v=served
"$bin/cairn" --host "127.0.0.1:$port" get ks.t k | grep -q served
grep -q "no handshake within" "$dir/log"
echo "handshake timeout test: ok"
