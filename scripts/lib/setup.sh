# Shared set-up for scripts/test and scripts/demo: install the Debian
# packages cairn needs (only those missing), then configure and build.
# Sourced, not run; expects bash with `set -euo pipefail`.

# Everything a bare Debian 12 image lacks for building and testing cairn.
CAIRN_DEBS=(
    cmake make gcc libc6-dev pkg-config
    libuv1-dev libprotobuf-c-dev protobuf-c-compiler liblz4-dev
    libxxhash-dev libcmocka-dev libyaml-dev libmicrohttpd-dev
    clang libclang-rt-14-dev clang-format procps
    libjansson-dev jq
)

# cairn_missing_debs -- print the packages of CAIRN_DEBS not yet installed.
cairn_missing_debs()
{
    local p
    for p in "${CAIRN_DEBS[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed'; then
            echo "$p"
        fi
    done
}

# cairn_install_deps -- apt-get install what is missing; as non-root, name
# the packages and fail, since we cannot install them ourselves.
cairn_install_deps()
{
    local missing
    missing=$(cairn_missing_debs | tr '\n' ' ')
    if [ -z "${missing// /}" ]; then
        echo "setup: all Debian packages present"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages: $missing" >&2
        echo "setup: run as root, or: apt-get install $missing" >&2
        exit 1
    fi
    echo "setup: installing $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
}

# cairn_build DIR [CMAKE ARGS...] -- configure and build into DIR.
cairn_build()
{
    local dir=$1
    shift
    cmake -S "$CAIRN_TOP" -B "$CAIRN_TOP/$dir" "$@" >/dev/null
    cmake --build "$CAIRN_TOP/$dir" -j "$(nproc)"
}
