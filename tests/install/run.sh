#!/usr/bin/env bash
# run.sh BUILD STAGE [SANITIZERS] -- stage `cmake --install BUILD` into
# STAGE, then build and run a tiny outside program against it twice: once
# through find_package(cairn), once through pkg-config. Both must link the
# shared libcairn (resolved through its SONAME) and the static one.
set -euo pipefail
build=$1 stage=$2 san=${3:-}
src=$(cd "$(dirname "$0")/project" && pwd)
rm -rf "$stage"
cmake --install "$build" --prefix "$stage/usr" >/dev/null

extra=()
flags=""
if [ -n "$san" ]; then
    flags="-fsanitize=$san"
    extra=(-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags")
fi

echo "== find_package(cairn)"
cmake -S "$src" -B "$stage/proj" -DCMAKE_PREFIX_PATH="$stage/usr" \
    "${extra[@]}" >/dev/null
cmake --build "$stage/proj" >/dev/null
"$stage/proj/hello_shared"
"$stage/proj/hello_static"
readelf -d "$stage/proj/hello_shared" | grep -q 'NEEDED.*libcairn.so.0'

echo "== pkg-config --cflags --libs cairn"
pcdir=$(dirname "$(find "$stage/usr" -name cairn.pc | head -n 1)")
export PKG_CONFIG_PATH=$pcdir
cc $flags "$src/hello.c" -o "$stage/hello_pc" $(pkg-config --cflags --libs cairn)
LD_LIBRARY_PATH=$(pkg-config --variable=libdir cairn) "$stage/hello_pc"
cc $flags -static-libgcc "$src/hello.c" -o "$stage/hello_pc_static" \
    $(pkg-config --cflags cairn) \
    "$(pkg-config --variable=libdir cairn)/libcairn.a" \
    $(pkg-config --libs-only-l --static libuv libprotobuf-c libxxhash) \
    -lpthread -lm
"$stage/hello_pc_static"
echo "install test: ok"
