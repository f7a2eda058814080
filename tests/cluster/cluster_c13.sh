#!/usr/bin/env bash
# cluster_c13.sh CLI SERVER -- scenario C13, membership half (ports
# 23700-23722): nodes B (2) and C (3) of a three-node cluster stop and
# come back on each other's addresses with their own data (so their own
# host ids). Node 1 then shows each host id at its new address, three
# nodes and no stale entry, and every token still belongs to the host id
# that owned it: ownership follows host ids, not addresses.
cli=$1 server=$2
dir=$(mktemp -d /tmp/cairn-cluster-c13-XXXXXX)
. "$(dirname "$0")/lib.sh"
P=23700

"$cli" cluster start --nodes 3 --dir "$dir/c" --base-port $P >/dev/null \
    2>"$dir/err" || { fail "cluster start: $(cat "$dir/err")"; finish; }

# id_at PORT -- the host id of the node listening at PORT.
id_at()
{
    "$cli" --host "127.0.0.1:$1" info --json | grep -o '"host_id":"[^"]*"'
}

# token_owners -- "token host_id" pairs of node 1's ring, sorted.
token_owners()
{
    "$cli" --host 127.0.0.1:$P ring --json | tr '{' '\n' |
        sed -n 's/.*"token":"\([^"]*\)","host_id":"\([^"]*\)".*/\1 \2/p' | sort
}

# swapped -- node 1 sees B at C's old address and C at B's, three nodes.
swapped()
{
    local js
    js=$(status_json $P) || return 1
    [ "$(grep -o '"host_id"' <<<"$js" | wc -l)" = 3 ] &&
        grep -q "$idb,\"address\":\"127.0.0.1:$((P + 20))\",\"status\":\"up\"" <<<"$js" &&
        grep -q "$idc,\"address\":\"127.0.0.1:$((P + 10))\",\"status\":\"up\"" <<<"$js"
}

idb=$(id_at $((P + 10)))
idc=$(id_at $((P + 20)))
owners=$(token_owners)
[ "$(wc -l <<<"$owners")" = 48 ] || fail "ring before: $(wc -l <<<"$owners") tokens"
"$cli" cluster kill 2 --dir "$dir/c" || fail "kill 2"
"$cli" cluster kill 3 --dir "$dir/c" || fail "kill 3"

"$server" --listen 127.0.0.1 --port $((P + 20)) --data-dir "$dir/c/node2/data" \
    --seeds 127.0.0.1:$P --loops 1 >"$dir/b.log" 2>&1 &
extra_pids="$!"
"$server" --listen 127.0.0.1 --port $((P + 10)) --data-dir "$dir/c/node3/data" \
    --seeds 127.0.0.1:$P --loops 1 >"$dir/c.log" 2>&1 &
extra_pids="$extra_pids $!"

start=$(now_s)
wait_for 90 swapped || fail "node 1 never showed the swapped addresses: $(status_json $P)"
echo "node 1 showed the swap after $(elapsed "$start") s"
[ "$(id_at $((P + 20)))" = "$idb" ] || fail "B does not answer at C's old address"
[ "$(token_owners)" = "$owners" ] || fail "tokens moved with the addresses"
wait_for 60 all_up $((P + 10)) 3 || fail "C does not see three nodes up"
[ "$(host_ids $((P + 10)))" = "$(host_ids $P)" ] || fail "C knows other host ids"
grep -q "refused" "$dir/b.log" "$dir/c.log" "$dir/c"/node1/node.log &&
    echo "(a connection meant for another host id was refused, as it should be)"
finish
