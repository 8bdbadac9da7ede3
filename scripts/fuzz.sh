#!/usr/bin/env bash
# Runs every Go native fuzz target (func FuzzXxx) of the module, each for a
# bounded time:  scripts/fuzz.sh [duration per target, default 60s]
# `go test -fuzz` takes one target per run, so this loops over the packages
# that have targets and the targets of each. Seeds: testdata/fuzz/<FuzzName>/
# of each package, plus the f.Add seeds. A failing input is written there by
# `go test`; the run goes on with the other targets and fails at the end.
# FUZZ_PARALLEL sets the workers per target (default: GOMAXPROCS).
# FUZZ_MINIMIZE_TIME bounds the minimizing of each new input (default 1s):
# with go's default (60s) a worker can spend most of a short run minimizing
# an "interesting" multi-argument input, executing nothing else.
set -euo pipefail
fuzztime=${1:-60s}
cd "$(dirname "$0")/.."

pkgs=$(grep -rl --include='*_test.go' -e '^func Fuzz' . | xargs -n1 dirname | sort -u)
failed=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for pkg in $pkgs; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "${FUZZ_MINIMIZE_TIME:-1s}" \
			${FUZZ_PARALLEL:+-parallel "$FUZZ_PARALLEL"} "$pkg" >"$out" 2>&1; then
			result=ok
		elif grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
			# go test's own race at the end of -fuzztime (a worker still busy
			# with a new input when time runs out): no input failed. A real
			# finding always writes its input under testdata/fuzz.
			result=ok
		else
			result=FAIL
			failed+=("$pkg $target")
			# The failure and its reproduction, without proxytest's log lines.
			grep -v -e 'proxy_[a-z]*_log: ' "$out" | tail -40 | cut -c1-1000 >&2 || true
		fi
		last=$(grep -o 'elapsed: [^,]*, execs: [0-9]*' "$out" | tail -1 || true)
		printf 'fuzz %-4s %-10s %-24s %s\n' "$result" "${pkg#./}" "$target" "${last:-no fuzzing progress reported}"
	done
done
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: failing targets: %s\n' "${failed[*]}" >&2
	exit 1
fi
