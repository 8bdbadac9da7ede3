#!/usr/bin/env bash
# Makes the build-time copy of the pinned proxy-wasm-go-sdk with our standard-Go
# ABI binding in it, and a go.mod that points the SDK at that copy.
# Usage: sdkabi/prepare.sh OUT_DIR   (run from the module root)
# Writes OUT_DIR/sdk (the patched SDK) and OUT_DIR/go.mod + go.sum (use with -modfile).
set -euo pipefail

out=${1:?usage: prepare.sh OUT_DIR}
sdk_module=github.com/tetratelabs/proxy-wasm-go-sdk
here=$(cd "$(dirname "$0")" && pwd)

# The version go.mod pins; `go mod download` checks it against go.sum.
version=$(go list -m -f '{{.Version}}' "$sdk_module")
src=$(go mod download -json "$sdk_module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "prepare.sh: $sdk_module@$version not in the module cache" >&2; exit 1; }

rm -rf "$out/sdk"
mkdir -p "$out"
cp -R "$src" "$out/sdk"
chmod -R u+w "$out/sdk"
internal="$out/sdk/proxywasm/internal"

# The SDK compiles mocks for every non-tinygo build. Keep them for native
# tests, drop them for wasip1, where our binding provides the real host.
mocks=$(grep -l '^//go:build !tinygo$' "$internal"/*.go || true)
count=$(printf '%s\n' "$mocks" | grep -c . || true)
if [ "$count" -ne 3 ]; then
	echo "prepare.sh: expected 3 '!tinygo' mock files in $sdk_module@$version, found $count; update sdkabi for this SDK version" >&2
	exit 1
fi
for f in $mocks; do
	sed -i 's|^//go:build !tinygo$|//go:build !tinygo \&\& !wasip1|' "$f"
done

# The SDK's two reads of contextIDToRootID for a stream ask the binding's
# table instead (streams.go keeps a stream's plugin in its slot).
patch_line() { # file, exact line, replacement
	local n
	n=$(grep -cxF -- "$2" "$1" || true)
	if [ "$n" -ne 1 ]; then
		echo "prepare.sh: expected one line '$2' in $1, found $n; update sdkabi for this SDK version" >&2
		exit 1
	fi
	OLD="$2" NEW="$3" perl -0pi -e 's/^\Q$ENV{OLD}\E$/$ENV{NEW}/m' "$1"
}
patch_line "$internal/vmstate.go" \
	'	r := s.pluginContexts[s.contextIDToRootID[s.activeContextID]]' \
	'	r := s.pluginContexts[rootIDOf(s.activeContextID)]'
patch_line "$internal/abi_callback_l7.go" \
	'	if _, ok := currentState.contextIDToRootID[ctxID]; ok {' \
	'	if contextLive(ctxID) {'

cp "$here"/*.go "$internal"/
# The binding's additions to the SDK's API (reads into the caller's buffers).
cp "$here"/proxywasm/*.go "$out/sdk/proxywasm/"

cp go.mod "$out/go.mod"
cp go.sum "$out/go.sum"
go mod edit -modfile="$out/go.mod" -replace="$sdk_module=$(cd "$out/sdk" && pwd)"
