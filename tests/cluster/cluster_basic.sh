#!/usr/bin/env bash
# cluster_basic.sh CLI -- three nodes from one seed through `cairn
# cluster` (ports 23300-23322): every node sees all three Up and Normal
# with the same host ids and the same ring; a keyspace and a table created
# on node 1 reach nodes 2 and 3 with one table id; after `cluster kill 2`
# nodes 1 and 3 show it Down, after `cluster restart 2` Up again, with
# its host id and tokens unchanged. Admin exit codes: 0, 1, 2, 3. The
# times to conviction and recovery are printed, never asserted.
cli=$1
dir=$(mktemp -d /tmp/cairn-cluster-basic-XXXXXX)
. "$(dirname "$0")/lib.sh"
P=23300

"$cli" cluster start --nodes 3 --dir "$dir/c" --base-port $P >"$dir/out" \
    2>"$dir/err" || { fail "cluster start: $(cat "$dir/err")"; finish; }
grep -q "127.0.0.1:$P" "$dir/out" || fail "start does not say where node 1 is"

for port in $P $((P + 10)) $((P + 20)); do
    all_up $port 3 || fail "node at $port does not see 3 nodes up and normal"
done
[ "$(host_ids $P)" = "$(host_ids $((P + 10)))" ] &&
    [ "$(host_ids $P)" = "$(host_ids $((P + 20)))" ] ||
    fail "nodes disagree on the host ids"
ring1=$("$cli" --host 127.0.0.1:$P ring --json)
[ "$(grep -o '"token"' <<<"$ring1" | wc -l)" = 48 ] ||
    fail "ring of 3 nodes x 16 tokens has $(grep -o '"token"' <<<"$ring1" | wc -l) tokens"
for port in $((P + 10)) $((P + 20)); do
    [ "$("$cli" --host 127.0.0.1:$port ring --json)" = "$ring1" ] ||
        fail "node at $port has another ring than node 1"
done

# Schema: created on node 1, visible on 2 and 3 with one id.
"$cli" --host 127.0.0.1:$P create-keyspace ks --rf 3 >/dev/null ||
    fail "create-keyspace"
"$cli" --host 127.0.0.1:$P create-table ks.t >/dev/null || fail "create-table"
want=$(table_ids $P ks)
[ -n "$want" ] || fail "node 1 lists no table"
start=$(now_s)
for port in $((P + 10)) $((P + 20)); do
    wait_for 60 tables_are $port ks "$want" ||
        fail "node at $port has tables '$(table_ids $port ks)', want '$want'"
done
echo "schema reached nodes 2 and 3 in $(elapsed "$start") s"

# Exit codes.
"$cli" --host 127.0.0.1:$P status >/dev/null || fail "status exit $?"
"$cli" --host 127.0.0.1:$P describe-ring nosuch >/dev/null 2>&1
[ $? = 1 ] || fail "describe-ring of an unknown keyspace should exit 1"
"$cli" --host 127.0.0.1:$P describe-ring >/dev/null 2>&1
[ $? = 2 ] || fail "describe-ring without a keyspace should exit 2"
"$cli" --host 127.0.0.1:$((P + 9)) status >/dev/null 2>&1
[ $? = 3 ] || fail "status against a closed port should exit 3"
"$cli" --host 127.0.0.1:$P flush ks >/dev/null || fail "flush ks"
"$cli" --host 127.0.0.1:$P compact >/dev/null || fail "compact"
"$cli" --host 127.0.0.1:$P describe-ring ks --json | grep -q '"endpoints"' ||
    fail "describe-ring ks --json"
"$cli" --host 127.0.0.1:$P gossipinfo | grep -q "heartbeat" ||
    fail "gossipinfo"
"$cli" cluster kill 9 --dir "$dir/c" >/dev/null 2>&1
[ $? = 2 ] || fail "cluster kill of node 9 of 3 should exit 2"

# kill -9 node 2: the others convict it; a restart brings it back.
id2=$("$cli" --host 127.0.0.1:$((P + 10)) info --json | grep -o '"host_id":"[^"]*"')
"$cli" cluster kill 2 --dir "$dir/c" || fail "cluster kill 2"
start=$(now_s)
for port in $P $((P + 20)); do
    wait_for 90 node_is $port $((P + 10)) down ||
        fail "node at $port never showed node 2 down"
done
echo "node 2 shown down after $(elapsed "$start") s"
start=$(now_s)
"$cli" cluster restart 2 --dir "$dir/c" >/dev/null || fail "cluster restart 2"
for port in $P $((P + 20)); do
    wait_for 60 node_is $port $((P + 10)) up ||
        fail "node at $port never showed node 2 up again"
done
echo "node 2 shown up again $(elapsed "$start") s after the restart began"
[ "$("$cli" --host 127.0.0.1:$((P + 10)) info --json | grep -o '"host_id":"[^"]*"')" = "$id2" ] ||
    fail "node 2 came back with another host id"
wait_for 30 all_up $((P + 10)) 3 || fail "restarted node 2 does not see all up"
[ "$("$cli" --host 127.0.0.1:$((P + 10)) ring --json)" = "$ring1" ] ||
    fail "the ring changed over node 2's restart (tokens must be kept)"
[ "$(table_ids $((P + 10)) ks)" = "$want" ] ||
    fail "node 2 lost the schema over its restart"
"$cli" cluster status --dir "$dir/c" >/dev/null || fail "cluster status"
"$cli" cluster logs 2 --dir "$dir/c" | grep -q "serving" ||
    fail "cluster logs 2 shows no serving line"
"$cli" cluster stop --dir "$dir/c" || fail "cluster stop"
finish
