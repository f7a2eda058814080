#!/usr/bin/env bash
# cluster_c25.sh CLI -- scenario C25 (ports 23550-23572): the same CREATE
# TABLE sent to nodes 1 and 2 at the same instant ends as one table with
# one id on all three nodes once schemas agree; a drop and a re-create
# give a new id everywhere; the schema survives a restart of every node.
cli=$1
dir=$(mktemp -d /tmp/cairn-cluster-c25-XXXXXX)
. "$(dirname "$0")/lib.sh"
P=23550

"$cli" cluster start --nodes 3 --dir "$dir/c" --base-port $P >/dev/null \
    2>"$dir/err" || { fail "cluster start: $(cat "$dir/err")"; finish; }
"$cli" --host 127.0.0.1:$P create-keyspace ks --rf 3 >/dev/null ||
    fail "create-keyspace"
for port in $((P + 10)) $((P + 20)); do
    wait_for 60 sh -c "'$cli' --host 127.0.0.1:$port keyspaces | grep -q '^ks '" ||
        fail "keyspace never reached $port"
done

# agreed -- every node reports agreement and one schema version.
agreed()
{
    local v1 v
    v1=$("$cli" --host 127.0.0.1:$P info --json | grep -o '"schema_version":"[^"]*"')
    for port in $P $((P + 10)) $((P + 20)); do
        "$cli" --host 127.0.0.1:$port info --json |
            grep -q '"schema_agreement":true' || return 1
        v=$("$cli" --host 127.0.0.1:$port info --json | grep -o '"schema_version":"[^"]*"')
        [ "$v" = "$v1" ] || return 1
    done
}

# same_everywhere -- the table lists of ks are equal and non-empty.
same_everywhere()
{
    local a
    a=$(table_ids $P ks)
    [ -n "$a" ] && tables_are $((P + 10)) ks "$a" && tables_are $((P + 20)) ks "$a"
}

"$cli" --host 127.0.0.1:$P create-table ks.t >"$dir/a" 2>&1 &
a=$!
"$cli" --host 127.0.0.1:$((P + 10)) create-table ks.t >"$dir/b" 2>&1 &
b=$!
wait $a || fail "create-table on node 1: $(cat "$dir/a")"
wait $b || fail "create-table on node 2: $(cat "$dir/b")"
start=$(now_s)
wait_for 60 agreed || fail "schemas never agreed"
echo "schema agreement after $(elapsed "$start") s"
same_everywhere || fail "nodes disagree on ks's tables"
[ "$(table_ids $P ks | wc -l)" = 1 ] || fail "more than one table: $(table_ids $P ks)"
first=$(table_ids $P ks)

"$cli" --host 127.0.0.1:$((P + 20)) drop-table ks.t >/dev/null || fail "drop-table"
wait_for 60 tables_are $((P + 10)) ks "" || fail "the drop never reached node 2"
"$cli" --host 127.0.0.1:$((P + 10)) create-table ks.t >/dev/null ||
    fail "re-create on node 2"
wait_for 60 agreed || fail "schemas never agreed after drop and re-create"
wait_for 30 same_everywhere || fail "nodes disagree after re-create"
second=$(table_ids $P ks)
[ "$(wc -l <<<"$second")" = 1 ] || fail "after re-create: '$second'"
[ "$second" != "$first" ] || fail "re-created table kept its old id"

for i in 1 2 3; do
    "$cli" cluster restart $i --dir "$dir/c" >/dev/null || fail "restart $i"
done
wait_for 60 agreed || fail "schemas never agreed after the restarts"
[ "$(table_ids $((P + 20)) ks)" = "$second" ] || fail "table changed over restarts"
"$cli" cluster stop --dir "$dir/c" || fail "cluster stop"
finish
