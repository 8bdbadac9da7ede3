#!/usr/bin/env bash
# Runs istiod's own config generator in-process (deploy/istio/xdsgen: the
# fake discovery server of istio.io/istio/pilot/test/xds, the version pinned
# in deploy/istio/go.mod) on the Istio manifests of deploy/istio/gateway/ and
# the cluster state of deploy/istio/testdata/cluster.yaml, and writes what
# the ingress gateway's Envoy would receive to deploy/istio/testdata/xds.yaml,
# which deploy/istio/xds_test.go checks and the e2e test TestIstioConfig runs.
#
# Building istio.io/istio takes ~10 min and ~2.3 GB of build cache on two
# cores the first time; the cache is kept in build/istio-gocache (ISTIO_GOCACHE).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/deploy/istio"
export GOCACHE="${ISTIO_GOCACHE:-$root/build/istio-gocache}"
mkdir -p "$GOCACHE"
out=testdata/xds.yaml
log=$(mktemp)
trap 'rm -f "$log" "$out.tmp"' EXIT
if ! go run -tags istioxds ./xdsgen -out "$out.tmp" >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
mv "$out.tmp" "$out"
echo "istio-xds: wrote $root/deploy/istio/$out ($(sed -n 's/^# Istio \([^;]*\);.*/\1/p' "$out"))" >&2
