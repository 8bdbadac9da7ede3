#!/usr/bin/env bash
# `make run`: three app instances (127.0.0.1:8081-8083) and Envoy with the filter
# (envoy.yaml, through func-e, on 127.0.0.1:10000). It walks through a short
# tour that shows stickiness, then keeps serving until Ctrl-C
# (DEMO_EXIT=1 stops right after the tour, e.g. in scripts).
# Needs ENVOY_PATH (make run sets it) and build/vcap-sticky.wasm (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ENVOY_PATH:?run through make run}"
envoy_url=http://127.0.0.1:10000
admin_url=http://127.0.0.1:9901

go build -o build/demo-upstreams ./cmd/demo-upstreams
go build -o build/func-e github.com/tetratelabs/func-e/cmd/func-e
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build/demo-upstreams -listen 127.0.0.1:8081,127.0.0.1:8082,127.0.0.1:8083 &
pids+=($!)
# func-e runs the given Envoy binary (ENVOY_PATH); it downloads nothing.
# Envoy's access log (stdout) goes to a file, so it does not mix with the tour.
build/func-e run -c envoy.yaml --log-level warn --component-log-level wasm:info >build/envoy-access.log &
pids+=($!)

for _ in $(seq 100); do
	curl -fs "$admin_url/ready" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fs "$admin_url/ready" >/dev/null || { echo "demo: Envoy did not become ready" >&2; exit 1; }

served_by() { curl -s -o /dev/null -D - "$@" | tr -d '\r' | sed -n 's/^[Xx]-[Ii]nstance-[Ii]d: //p'; }
jar=$(mktemp)
trap 'rm -f "$jar"; cleanup' EXIT

echo
echo "== No session: Envoy balances over the instances"
for i in 1 2 3 4 5 6; do echo "  request $i served by $(served_by "$envoy_url/")"; done

echo
echo "== Start a session: the app sets JSESSIONID, the filter adds __VCAP_ID__"
curl -s -o /dev/null -D - -c "$jar" "$envoy_url/?session=new" | tr -d '\r' |
	grep -i -e '^set-cookie' -e '^x-instance-id' | sed 's/^/  /'

echo
echo "== Send the cookies back: every request lands on the same instance"
for i in 1 2 3 4 5 6; do echo "  request $i served by $(served_by -b "$jar" "$envoy_url/")"; done

echo
echo "== The filter's counters (Envoy admin /stats)"
sleep 1.2 # the request counters reach Envoy's stats once a second (metrics_flush_interval_ms)
curl -s "$admin_url/stats?filter=vcap_sticky" | sed 's/^/  /'

cat <<TXT

Envoy on $envoy_url, admin on $admin_url, access log in build/envoy-access.log.
Try it yourself in another terminal:
  curl -si -c /tmp/vcap-jar '$envoy_url/?session=new'   # new session
  curl -s  -b /tmp/vcap-jar $envoy_url/ | head -c 40    # pinned
TXT
if [ "${DEMO_EXIT:-0}" = 1 ]; then
	exit 0
fi
echo "Ctrl-C stops everything."
wait
