#!/usr/bin/env bash
# Runs every test: vet, unit tests (root tests included when run as root), and the end-to-end
# tests that drive the hako binary. Interoperability tests need docker, podman and skopeo
# (.ci/run installs them) and skip without them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
test -x /bin/busybox || { echo "scripts/test.sh: needs busybox-static (apt-get install -y busybox-static)" >&2; exit 1; }
go vet -tags seccomp ./...
# package cli's lean half, which only cmd/hako-monitor is built with (scripts/build.sh)
go vet -tags seccomp,hakolean ./internal/cli ./cmd/hako-monitor
go test -tags seccomp -count=1 -timeout 25m ./...
