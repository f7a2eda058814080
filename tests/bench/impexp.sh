#!/usr/bin/env bash
# impexp.sh SERVER CLI -- `cairn import` and `cairn export` against a real
# node (127.0.0.1, port 27200): D12's awkward values survive CSV and JSONL
# round trips cell by cell; malformed records land in the rejects file
# with their line numbers, reasons and verbatim text; a missing file fails
# at once with exit 1.
server=$1 cli=$2 port=27200
. "$(dirname "$0")/common.sh"
start_server
c() { "$cli" --host "127.0.0.1:$port" "$@"; }

c create-keyspace ks --rf 1 >/dev/null
for t in t t2 t3 t4 t5; do
    c create-table "ks.$t" >/dev/null
done

# The values (RFC 4180: quotes doubled, line breaks inside quotes; an
# unquoted empty field is null, "" the empty string).
{
    printf 'pk,ck,txt,num\r\n'
    printf 'p1,a,"line1\nline2",1\r\n'
    printf 'p1,b,"crlf\r\nend",2\r\n'
    printf 'p1,c,"say ""hi"", ok",3\r\n'
    printf 'p1,d,back\\slash\\n,4\r\n'
    printf 'p1,e,"#hash",5\r\n'
    printf 'p1,f,"  spaces  ",6\r\n'
    printf 'p1,g,"",\r\n'
    printf 'p1,h,,""\r\n'
    printf 'p1,i,h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89,9\r\n'
    printf 'p2,j,min,-9223372036854775808\r\n'
    printf 'p2,k,max,9223372036854775807\r\n'
    printf 'p2,l,NULL,\\N\r\n'
} >"$dir/in.csv"

out=$(c import ks.t "$dir/in.csv" --partition pk --clustering ck)
check "import exit" "$?" 0
check "import counts" "$out" "read 12, written 12, rejected 0"

# Cells as the node holds them.
cell() { c --json get ks.t "$1" --ck "$2" |
    jq -c "[.rows[0].cells[] | select(.column == \"$3\") | .value]"; }
check "LF" "$(cell p1 a txt)" '["line1\nline2"]'
check "CRLF" "$(cell p1 b txt)" '["crlf\r\nend"]'
check "quotes" "$(cell p1 c txt)" '["say \"hi\", ok"]'
check "backslash" "$(cell p1 d txt)" '["back\\slash\\n"]'
check "empty" "$(cell p1 g txt)" '[""]'
check "null" "$(cell p1 g num)" '[]'
check "null 2" "$(cell p1 h txt)" '[]'
check "empty 2" "$(cell p1 h num)" '[""]'
check "int64 min" "$(cell p2 j num)" '["-9223372036854775808"]'
check "null marker text" "$(cell p2 l txt)" '["NULL"]'

cols=pk,ck,txt,num
c export ks.t "$dir/t.csv" --columns "$cols" >/dev/null ||
    fail "export csv"
c export ks.t "$dir/t.jsonl" --format jsonl >/dev/null || fail "export jsonl"
# The exported CSV keeps null and empty apart and quotes as it must.
grep -q $'^p1,g,"",\r$' "$dir/t.csv" || fail "empty vs null in CSV"
grep -q $'^p1,h,,""\r$' "$dir/t.csv" || fail "null vs empty in CSV"
grep -q $'^p1,e,"#hash",5\r$' "$dir/t.csv" || fail "leading # quoted"
grep -qF '"say ""hi"", ok"' "$dir/t.csv" || fail "quotes doubled"

# Round trips: both files into fresh tables, exported again the same way.
c import ks.t2 "$dir/t.csv" --partition pk --clustering ck >/dev/null ||
    fail "import of the CSV export"
c import ks.t3 "$dir/t.jsonl" --format jsonl --partition pk \
    --clustering ck >/dev/null || fail "import of the JSONL export"
for t in t2 t3; do
    c export "ks.$t" "$dir/$t.csv" --columns "$cols" >/dev/null
    cmp -s "$dir/t.csv" "$dir/$t.csv" ||
        fail "$t differs from t: $(diff "$dir/t.csv" "$dir/$t.csv" | head)"
done
c export ks.t3 "$dir/t3.jsonl" --format jsonl >/dev/null
cmp -s "$dir/t.jsonl" "$dir/t3.jsonl" || fail "JSONL round trip differs"
# Multi-byte UTF-8 came through byte for byte.
grep -q $'h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89' \
    "$dir/t3.csv" || fail "UTF-8 value changed"
# A JSON array of objects imports too.
{
    echo '['
    sed '$!s/$/,/' "$dir/t.jsonl"
    echo ']'
} >"$dir/t.json"
c import ks.t5 "$dir/t.json" --format json --partition pk \
    --clustering ck >/dev/null || fail "import of a JSON array"
c export ks.t5 "$dir/t5.csv" --columns "$cols" >/dev/null
cmp -s "$dir/t.csv" "$dir/t5.csv" || fail "JSON array round trip differs"

# Malformed records: rejected with line and reason, the rest imported.
{
    printf 'pk,ck,txt\n'                 # line 1
    printf 'p1,r1,ok\n'                  # 2
    printf 'p1,r2\n'                     # 3: two fields
    printf 'p1,r3,"fine"\n'              # 4
    printf 'p1,r"4,x\n'                  # 5: quote in an unquoted field
    printf ',r5,x\n'                     # 6: null partition key
    printf 'p1,r6,"never closed\n'       # 7: unterminated quote
    for i in 8 9 10 11 12 13; do
        printf 'p1,r%d,a line after the unterminated quote\n' "$i"
    done
} >"$dir/bad.csv"
out=$(c import ks.t4 "$dir/bad.csv" --partition pk --clustering ck \
    --max-record-bytes 100 --rejects "$dir/bad.rej" 2>"$dir/err")
check "import of bad.csv exit" "$?" 1
check "bad.csv counts" "$out" "read 12, written 8, rejected 4"
want=$(printf '%s\n' 'line 3: 2 fields, the header has 3' 'p1,r2' \
    'line 5: quote inside an unquoted field' 'p1,r"4,x' \
    "line 6: partition field 'pk' missing or null" ',r5,x' \
    'line 7: record longer than --max-record-bytes (unterminated quote?)' \
    'p1,r6,"never closed')
check "rejects file" "$(cat "$dir/bad.rej")" "$want"
# The same at the end of the file: the quote is never closed.
printf 'pk,ck,txt\np1,z1,"open\np1,z2,fine\n' >"$dir/eof.csv"
out=$(c import ks.t4 "$dir/eof.csv" --partition pk --clustering ck \
    --rejects "$dir/eof.rej" 2>/dev/null)
check "eof.csv counts" "$out" "read 2, written 1, rejected 1"
check "eof rejects" "$(head -1 "$dir/eof.rej")" \
    "line 2: quoted field never closed"
# --max-errors stops the run.
c import ks.t4 "$dir/bad.csv" --partition pk --clustering ck \
    --max-record-bytes 100 --max-errors 1 --rejects "$dir/b2.rej" \
    >/dev/null 2>"$dir/err"
check "max-errors exit" "$?" 1
grep -q "more than 1 rejected" "$dir/err" || fail "no max-errors message"

printf '{"pk":"a","ck":"1"}\n{"pk":"a",\n[1,2]\n{"ck":"2"}\n' >"$dir/bad.jsonl"
out=$(c import ks.t4 "$dir/bad.jsonl" --format jsonl --partition pk \
    --clustering ck --rejects "$dir/j.rej" 2>/dev/null)
check "bad.jsonl counts" "$out" "read 4, written 1, rejected 3"
check "jsonl reject lines" "$(grep -o '^line [0-9]*' "$dir/j.rej" | tr '\n' ' ')" \
    "line 2 line 3 line 4 "
grep -q '^line 3: not a JSON object$' "$dir/j.rej" || fail "array reason"

# A missing file fails at once, before any node is asked.
"$cli" --host 127.0.0.1:1 import ks.t "$dir/nope.csv" --partition pk \
    >/dev/null 2>"$dir/err"
check "missing file exit" "$?" 1
grep -q "cannot open" "$dir/err" || fail "missing file message"
finish
