#!/usr/bin/env bash
# `make run`: three app instances (127.0.0.1:8081-8083) and Envoy with the filter
# (envoy.yaml, through func-e, on 127.0.0.1:10000). Ctrl-C stops everything.
# Needs ENVOY_PATH (make run sets it) and build/vcap-sticky.wasm (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ENVOY_PATH:?run through make run}"

go build -o build/demo-upstreams ./cmd/demo-upstreams
build/demo-upstreams -listen 127.0.0.1:8081,127.0.0.1:8082,127.0.0.1:8083 &
apps=$!
trap 'kill $apps 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM

cat <<'TXT'

vcap-sticky demo: Envoy on http://127.0.0.1:10000, app instances instance-a/b/c.
In another terminal:

  # No session: Envoy balances; each answer names the instance that served it.
  for i in 1 2 3; do curl -s 127.0.0.1:10000/ | head -c 30; echo; done

  # Start a session: the app sets JSESSIONID, the filter adds __VCAP_ID__.
  curl -si '127.0.0.1:10000/?session=new' -c /tmp/vcap-jar | grep -i -e set-cookie -e x-instance-id

  # Send the cookies back: every request lands on the same instance.
  for i in 1 2 3 4 5; do curl -s -b /tmp/vcap-jar 127.0.0.1:10000/ | head -c 30; echo; done

  # The filter's counters.
  curl -s 127.0.0.1:9901/stats | grep vcap_sticky

TXT
# func-e runs the given Envoy binary (ENVOY_PATH); it downloads nothing.
go tool func-e run -c envoy.yaml --log-level warn --component-log-level wasm:info
