#!/usr/bin/env bash
# run_fuzz.sh TOP BUILD OUT SECONDS -- compile fuzz_frame.c with clang and
# libFuzzer (address and undefined sanitizers) from the sources, seed a
# corpus with a valid handshake and requests, and fuzz for SECONDS. The
# project itself builds with gcc, so this is a separate clang invocation.
set -euo pipefail
top=$1 build=$2 out=$3 secs=$4
mkdir -p "$out/corpus"
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$top" -I"$build" \
    $(pkg-config --cflags libprotobuf-c) \
    "$top/tests/fuzz/fuzz_frame.c" "$top/server/frame.c" \
    "$top/server/validate.c" "$top/common/err.c" "$top/common/mem.c" \
    "$top/common/buf.c" "$build/proto/client.pb-c.c" \
    "$build/proto/common.pb-c.c" \
    $(pkg-config --libs libprotobuf-c) -o "$out/fuzz_frame"

# Seeds: mode byte, a handshake frame, then request frames.
hs='\x00\x00\x00\x09\x08\x01\x12\x05cairn'
list='\x00\x00\x00\x04\x08\x01\x62\x00'
write='\x00\x00\x00\x12\x08\x02\x82\x01\x0e\x0a\x01k\x12\x01t\x1a\x01p\x22\x03\x22\x01c'
read='\x00\x00\x00\x0f\x08\x03\x8a\x01\x0a\x0a\x01k\x12\x01t\x1a\x01p\x3a\x00'
printf "\x00$hs$list$write$read" >"$out/corpus/seed-all"
printf "\x03$hs$write" >"$out/corpus/seed-pieces"
printf "\x80$write$read" >"$out/corpus/seed-ready"
printf "\x81\x7f\xff\xff\xff" >"$out/corpus/seed-absurd"

ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_frame" -max_total_time="$secs" \
    -seed=1 -max_len=8192 -print_final_stats=1 "$out/corpus"
