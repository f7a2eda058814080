#!/usr/bin/env bash
# cluster_pause.sh CLI -- two nodes (ports 23400-23412): `cluster pause 2`
# (SIGSTOP) gets node 2 convicted by node 1; after `cluster resume 2` node
# 1 shows it Up again and node 2 sees both Up. Times are printed only.
cli=$1
dir=$(mktemp -d /tmp/cairn-cluster-pause-XXXXXX)
. "$(dirname "$0")/lib.sh"
P=23400

"$cli" cluster start --nodes 2 --dir "$dir/c" --base-port $P >/dev/null \
    2>"$dir/err" || { fail "cluster start: $(cat "$dir/err")"; finish; }
"$cli" cluster pause 2 --dir "$dir/c" || fail "cluster pause 2"
"$cli" cluster status --dir "$dir/c" | grep -q "paused" ||
    fail "cluster status does not show node 2 paused"
start=$(now_s)
wait_for 90 node_is $P $((P + 10)) down || fail "paused node 2 never convicted"
echo "paused node 2 shown down after $(elapsed "$start") s"
"$cli" cluster resume 2 --dir "$dir/c" || fail "cluster resume 2"
start=$(now_s)
wait_for 60 node_is $P $((P + 10)) up || fail "node 2 never up after resume"
echo "resumed node 2 shown up after $(elapsed "$start") s"
wait_for 60 all_up $((P + 10)) 2 || fail "node 2 does not see both up"
"$cli" cluster stop --dir "$dir/c" || fail "cluster stop"
finish
