#!/usr/bin/env bash
# setup_script.sh -- checks scripts/lib/setup.sh's install logic without
# installing anything: with every package present it must not reach
# apt-get; as a non-root user with a package missing it must name the
# package and fail with exit 1.
set -euo pipefail
lib=$(cd "$(dirname "$0")/../../scripts/lib" && pwd)/setup.sh

# 1. Nothing missing: no apt-get. A fake apt-get first on PATH would fail.
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
printf '#!/bin/sh\necho "apt-get must not run" >&2\nexit 99\n' >"$fake/apt-get"
chmod +x "$fake/apt-get"
out=$(PATH="$fake:$PATH" bash -c "set -euo pipefail; . '$lib';
    CAIRN_DEBS=(bash coreutils); cairn_install_deps")
echo "$out"
grep -q 'all Debian packages present' <<<"$out"

# 2. Non-root with a missing package: named, exit 1, no apt-get.
# The checkout may sit where user nobody cannot read; use a copy.
chmod 755 "$fake"
cp "$lib" "$fake/setup.sh"
chmod 644 "$fake/setup.sh"
lib=$fake/setup.sh
set +e
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    env PATH="$fake:$PATH" bash -c "set -euo pipefail; . '$lib';
    CAIRN_DEBS=(bash cairn-no-such-package); cairn_install_deps" 2>&1)
rc=$?
set -e
echo "$out"
[ "$rc" -eq 1 ]
grep -q 'missing Debian packages: cairn-no-such-package' <<<"$out"
echo "setup script test: ok"
