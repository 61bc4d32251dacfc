#!/usr/bin/env bash
# exec.sh: times `exec box true` in a running busybox container in hako (its C path and, as
# hako-go, its libcontainer path), docker 20.10 and podman 4.3, in one run, with hyperfine.
# Prints the medians and the ratios docker/hako and podman/hako.
#
#   bash bench/exec.sh                 # as root, from anywhere
#   RUNS=20 bash bench/exec.sh         # runs per engine (default 30, plus 3 warm-ups)
#   HAKO_REV=HEAD bash bench/exec.sh   # build hako from a commit, not the working tree
#   KEEP=1 bash bench/exec.sh          # keep the work directory
#
# Needs root, go, hyperfine and the peers of /work/shared/peers/peers.sh (HAKO_PEERS_SH overrides
# the path). dockerd runs in its own network namespace, podman on its own storage, hako on its own
# --root; every container has no network.
set -euo pipefail

RUNS=${RUNS:-30}
PEERS_SH=${HAKO_PEERS_SH:-/work/shared/peers/peers.sh}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
die() { echo "exec.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root"
for c in go hyperfine docker dockerd podman; do command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install)"; done
[[ -f $PEERS_SH ]] || die "no $PEERS_SH (set HAKO_PEERS_SH)"

WORK=$(mktemp -d /var/tmp/hako-bench-exec.XXXXXX)
export PEERS_DIR=$WORK/peers PEERS_NETNS=hako-bench-exec-$$
HROOT=$WORK/hako-root
HAKO="$WORK/bin/hako --root $HROOT"
IMAGE=hako-bench/busybox:exec

cleanup() {
  set +e
  echo "--- cleaning up"
  $HAKO rm -f box >/dev/null 2>&1
  [[ -n ${DOCKER_HOST:-} ]] && docker rm -f box >/dev/null 2>&1 && docker rmi -f "$IMAGE" >/dev/null 2>&1
  [[ -n ${CONTAINERS_CONF:-} ]] && podman rm -f box >/dev/null 2>&1 && podman rmi --all --force >/dev/null 2>&1
  stop_peers
  remove_work
}
trap cleanup EXIT

build_hako "$WORK/bin/hako" || die "go build failed"
$WORK/bin/hako version

echo "--- starting dockerd (own netns) and configuring podman (own storage)"
start_dockerd
docker version --format 'docker client {{.Client.Version}}, daemon {{.Server.Version}}' || die "dockerd did not start"
use_podman
podman --version

echo "--- one busybox rootfs, imported into each engine, one container running sleep in each"
bash "$PEERS_SH" rootfs-tar "$WORK/busybox.tar" >/dev/null
$HAKO import -c 'CMD ["sleep", "1000000"]' "$WORK/busybox.tar" "$IMAGE" >/dev/null
docker import -c 'CMD ["sleep", "1000000"]' "$WORK/busybox.tar" "$IMAGE" >/dev/null
podman import -c 'CMD ["sleep", "1000000"]' "$WORK/busybox.tar" "$IMAGE" >/dev/null
$HAKO run -d --name box --network none "$IMAGE" >/dev/null
docker run -d --name box --network none "$IMAGE" >/dev/null
podman run -d --name box --network none "$IMAGE" >/dev/null || die "podman run failed"
for e in "$HAKO" docker podman; do
  [[ $($e exec box echo ok) == ok ]] || die "$e exec does not work"
done
# The row "hako" must be hako's C path (docs/exec.md), "hako-go" the libcontainer path beside it.
HAKO_EXEC_PATH=c $HAKO exec box true || die "hako exec does not take its C path"

OUT=$WORK/out
mkdir -p "$OUT"
echo
echo "=== exec box true ($RUNS runs each) ==="
hyperfine --style basic -N --runs "$RUNS" --warmup 3 --time-unit millisecond --export-csv "$OUT/exec.csv" \
  -n hako "$HAKO exec box true" \
  -n hako-go "env HAKO_EXEC_PATH=go $HAKO exec box true" \
  -n docker "docker exec box true" \
  -n podman "podman exec box true"

echo
echo "=== medians (ms) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) ==="
awk -F, 'NR > 1 { med[$1] = $4 * 1000 }
  END {
    printf "%-6s %10s %10s %10s %14s %14s\n", "op", "hako", "docker", "podman", "docker/hako", "podman/hako"
    h = med["hako"]
    printf "%-6s %10.1f %10.1f %10.1f %13.2fx %13.2fx\n", "exec", h, med["docker"], med["podman"], med["docker"] / h, med["podman"] / h
    g = med["hako-go"]
    printf "%-6s %10.1f %10.1f %10.1f %13.2fx %13.2fx   (HAKO_EXEC_PATH=go: libcontainer)\n", "exec", g, med["docker"], med["podman"], med["docker"] / g, med["podman"] / g
  }' "$OUT/exec.csv"
