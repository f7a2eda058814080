#!/usr/bin/env bash
# cluster_d06.sh CLI SERVER -- scenario D06, the parts one machine shows
# (ports 23600-23652):
# - a new node whose only seed is down fails with exit 1 and a clear "no
#   reachable seed" error naming the seed, instead of becoming a one-node
#   cluster; with --new-cluster the same node starts alone;
# - a damaged ring file stops a start with a clear error;
# - a node with saved peers, restarted while the only seed is down,
#   rejoins through a peer it knows and serves;
# - every node stopped, then nodes 2 and 3 started with the seed still
#   down: they find each other through their saved peers and serve; the
#   seed rejoins when it comes back.
cli=$1 server=$2
dir=$(mktemp -d /tmp/cairn-cluster-d06-XXXXXX)
. "$(dirname "$0")/lib.sh"
P=23600
Q=23640

# New node, seed down: fails fast, says so.
timeout 60 "$server" --port $Q --data-dir "$dir/lonely" \
    --seeds 127.0.0.1:23630 --seed-timeout-ms 3000 >"$dir/lonely.log" 2>&1
rc=$?
[ $rc = 1 ] || fail "new node without a reachable seed exited $rc, want 1"
grep -q "no reachable seed" "$dir/lonely.log" || fail "no 'no reachable seed' in its log: $(tail -3 "$dir/lonely.log")"
grep -q "127.0.0.1:23630" "$dir/lonely.log" || fail "its log does not name the seed"

# A damaged ring file (this node's tokens) stops the start with a clear
# error, and the file is left as it was.
echo "cairn-ring 1 garbage" >"$dir/lonely/ring"
timeout 60 "$server" --port $Q --data-dir "$dir/lonely" --new-cluster \
    >"$dir/damaged.log" 2>&1
rc=$?
[ $rc = 1 ] || fail "a damaged ring file gave exit $rc, want 1"
grep -q "ring file .* is damaged" "$dir/damaged.log" ||
    fail "no 'ring file is damaged' error: $(tail -3 "$dir/damaged.log")"
[ "$(cat "$dir/lonely/ring")" = "cairn-ring 1 garbage" ] ||
    fail "the damaged ring file was changed"

# The same with --new-cluster starts alone.
"$server" --port $Q --data-dir "$dir/alone" --seeds 127.0.0.1:23630 \
    --new-cluster >"$dir/alone.log" 2>&1 &
extra_pids="$!"
wait_for 30 all_up $Q 1 || fail "--new-cluster node does not serve alone"
kill -9 $extra_pids
wait $extra_pids 2>/dev/null
extra_pids=""

# Saved peers: kill the seed (node 1), restart node 3: it rejoins via 2.
"$cli" cluster start --nodes 3 --dir "$dir/c" --base-port $P >/dev/null \
    2>"$dir/err" || { fail "cluster start: $(cat "$dir/err")"; finish; }
"$cli" cluster kill 1 --dir "$dir/c" || fail "cluster kill 1"
start=$(now_s)
"$cli" cluster restart 3 --dir "$dir/c" >/dev/null ||
    fail "node 3 did not come back while the seed is down"
echo "node 3 served again $(elapsed "$start") s after its restart began"
wait_for 60 node_is $((P + 20)) $((P + 10)) up || fail "node 3 does not see node 2 up"
"$cli" cluster logs 3 --dir "$dir/c" | grep -q "saved peer" ||
    fail "node 3's log names no saved peer"
"$cli" cluster restart 1 --dir "$dir/c" >/dev/null || fail "seed did not rejoin"
wait_for 60 all_up $P 3 || fail "node 1 does not see all three up"

"$cli" cluster stop --dir "$dir/c" || fail "cluster stop"
start=$(now_s)
"$cli" cluster restart 2 --dir "$dir/c" >"$dir/r2" 2>&1 &
r2=$!
"$cli" cluster restart 3 --dir "$dir/c" >/dev/null || fail "node 3 without seed"
wait $r2 || fail "node 2 without seed: $(cat "$dir/r2")"
wait_for 60 node_is $((P + 10)) $((P + 20)) up || fail "node 2 does not see 3 up"
echo "nodes 2 and 3 served without their seed after $(elapsed "$start") s"
"$cli" cluster restart 1 --dir "$dir/c" >/dev/null || fail "seed did not return"
wait_for 60 all_up $P 3 || fail "node 1 does not see all three up at the end"
"$cli" cluster stop --dir "$dir/c" || fail "cluster stop"
finish
