#!/usr/bin/env bash
# save-load.sh: times `save -o` and `load -i` of a busybox + 50 MB image in hako, docker 20.10 and
# podman 4.3, in one run, with hyperfine. Prints the medians, the ratios docker/hako and
# podman/hako, and hako's store size before and after, to show that load + rmi leaks nothing.
#
#   bash bench/save-load.sh            # as root, from anywhere
#   RUNS=5 bash bench/save-load.sh     # fewer runs (default 10, plus 1 warm-up)
#   KEEP=1 bash bench/save-load.sh     # keep the work directory (archives, CSVs) for a look
#   HAKO_REV=HEAD bash bench/save-load.sh  # build hako from a commit, not the working tree
#
# Needs root, go, hyperfine and the peers of /work/shared/peers/peers.sh (HAKO_PEERS_SH overrides
# the path; `bash peers.sh install` installs them). Everything runs in a private work directory:
# dockerd in its own network namespace, podman on its own storage, hako on its own --root.
set -euo pipefail

RUNS=${RUNS:-10}
IMAGE=hako-bench/img:50m
PEERS_SH=${HAKO_PEERS_SH:-/work/shared/peers/peers.sh}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"

die() { echo "save-load.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (dockerd, podman storage and hako's overlay snapshots need it)"
for c in go hyperfine docker dockerd podman sha256sum; do
  command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install)"
done
[[ -f $PEERS_SH ]] || die "no $PEERS_SH (set HAKO_PEERS_SH)"

WORK=$(mktemp -d /var/tmp/hako-bench.XXXXXX)
export PEERS_DIR=$WORK/peers PEERS_NETNS=hako-bench-$$
HROOT=$WORK/hako-root
HAKO="$WORK/bin/hako --root $HROOT"

cleanup() {
  set +e
  echo "--- cleaning up"
  $HAKO rmi -f "$IMAGE" >/dev/null 2>&1
  [[ -n ${DOCKER_HOST:-} ]] && docker rmi -f "$IMAGE" >/dev/null 2>&1
  [[ -n ${CONTAINERS_CONF:-} ]] && podman rmi --all --force >/dev/null 2>&1
  stop_peers
  remove_work
}
trap cleanup EXIT

storesize() { # what hako's root holds: data (blobs, snapshots, ingests, leases) and everything
  local data=("$HROOT"/content/blobs "$HROOT"/content/ingest "$HROOT"/snapshots/*/snapshots "$HROOT"/leases)
  printf '%s blobs, %s snapshots, %s ingests, %s leases: %s bytes of data; %s bytes in %s files in all' \
    "$(find "$HROOT/content/blobs" -type f | wc -l)" \
    "$(find "$HROOT"/snapshots/*/snapshots -mindepth 1 -maxdepth 1 | wc -l)" \
    "$(find "$HROOT/content/ingest" -mindepth 1 -maxdepth 1 | wc -l)" \
    "$(find "$HROOT/leases" -mindepth 1 -maxdepth 1 | wc -l)" \
    "$(du -scb "${data[@]}" 2>/dev/null | tail -1 | cut -f1)" \
    "$(du -sb "$HROOT" | cut -f1)" "$(find "$HROOT" -type f | wc -l)"
}

build_hako "$WORK/bin/hako" || die "go build failed"
$WORK/bin/hako version

echo "--- starting dockerd (own netns) and configuring podman (own storage)"
start_dockerd
docker version --format 'docker client {{.Client.Version}}, daemon {{.Server.Version}}' || die "dockerd did not start: $(tail -5 "$PEERS_DIR/dockerd.log")"
use_podman
podman --version

echo "--- making the image: busybox base layer + one layer of 50 MB from /dev/urandom"
# One hand-written docker-archive, loaded into every engine, so all three hold byte-identical
# blobs and the same image ID.
SEED=$WORK/seed
mkdir -p "$SEED/archive" "$SEED/layer2/data"
bash "$PEERS_SH" rootfs "$SEED/rootfs" >/dev/null
tar -C "$SEED/rootfs" -cf "$SEED/base.tar" .
head -c 50M /dev/urandom >"$SEED/layer2/data/random.bin"
tar -C "$SEED/layer2" -cf "$SEED/data.tar" .
d1=$(sha256sum <"$SEED/base.tar" | cut -d' ' -f1)
d2=$(sha256sum <"$SEED/data.tar" | cut -d' ' -f1)
mv "$SEED/base.tar" "$SEED/archive/$d1.tar"
mv "$SEED/data.tar" "$SEED/archive/$d2.tar"
created=2024-01-01T00:00:00Z
printf '%s' '{"architecture":"amd64","os":"linux","created":"'$created'","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:'$d1'","sha256:'$d2'"]},"history":[{"created":"'$created'","created_by":"busybox rootfs (peers.sh rootfs)"},{"created":"'$created'","created_by":"50 MB from /dev/urandom"}]}' >"$SEED/config.json"
cid=$(sha256sum <"$SEED/config.json" | cut -d' ' -f1)
mv "$SEED/config.json" "$SEED/archive/$cid.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s.tar","%s.tar"]}]' "$cid" "$IMAGE" "$d1" "$d2" >"$SEED/archive/manifest.json"
tar -C "$SEED/archive" -cf "$SEED/seed.tar" .
rm -rf "$SEED/archive" "$SEED/layer2" "$SEED/rootfs"
echo "seed archive: $(du -h "$SEED/seed.tar" | cut -f1), image ID sha256:$cid"

$HAKO load -i "$SEED/seed.tar" >/dev/null
docker load -i "$SEED/seed.tar" >/dev/null
podman load -i "$SEED/seed.tar" >/dev/null 2>&1
for id in "$($HAKO inspect --format '{{.Id}}' "$IMAGE")" \
  "$(docker image inspect --format '{{.Id}}' "$IMAGE")" \
  "sha256:$(podman image inspect --format '{{.Id}}' "$IMAGE")"; do
  [[ $id == "sha256:$cid" ]] || die "an engine loaded the seed as $id, not sha256:$cid"
done
echo "all three engines hold $IMAGE as sha256:$cid"
echo "hako store with the image loaded: $(storesize)"

OUT=$WORK/out
mkdir -p "$OUT"
HF=(hyperfine --style basic --runs "$RUNS" --warmup 1 --time-unit millisecond)

echo
echo "=== save -o ($RUNS runs each) ==="
"${HF[@]}" --export-csv "$OUT/save.csv" \
  -n hako --prepare "rm -f $OUT/hako.tar" "$HAKO save -o $OUT/hako.tar $IMAGE" \
  -n docker --prepare "rm -f $OUT/docker.tar" "docker save -o $OUT/docker.tar $IMAGE" \
  -n podman --prepare "rm -f $OUT/podman.tar" "podman save -o $OUT/podman.tar $IMAGE"
ls -l "$OUT"/*.tar

# every engine now loads its own save output, from an empty store each time
$HAKO rmi "$IMAGE" >/dev/null
docker rmi "$IMAGE" >/dev/null
podman rmi "$IMAGE" >/dev/null
before=$(storesize)
echo "hako store after rmi, before the load runs:   $before"

echo
echo "=== load -i, rmi before every run ($RUNS runs each) ==="
"${HF[@]}" --export-csv "$OUT/load.csv" \
  -n hako --prepare "$HAKO rmi $IMAGE >/dev/null 2>&1 || true" "$HAKO load -i $OUT/hako.tar" \
  -n docker --prepare "docker rmi $IMAGE >/dev/null 2>&1 || true" "docker load -i $OUT/docker.tar" \
  -n podman --prepare "podman rmi $IMAGE >/dev/null 2>&1 || true" "podman load -i $OUT/podman.tar"

[[ $($HAKO inspect --format '{{.Id}}' "$IMAGE") == "sha256:$cid" ]] || die "hako's last load has the wrong ID"
$HAKO rmi "$IMAGE" >/dev/null
after=$(storesize)
echo "hako store after $((RUNS + 1)) more loads and rmis: $after"
# the data and the counts must match; the total may differ by a byte or two: the snapshotter's
# metadata keeps a growing ID counter
if [[ ${before%%;*} == "${after%%;*}" ]]; then echo "hako store: nothing leaked"; else echo "hako store: LEAK: the data changed"; fi

echo
echo "=== medians (ms) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) ==="
awk -F, '
  FNR == 1 { op = FILENAME; sub(/.*\//, "", op); sub(/\.csv$/, "", op); next }
  { med[op, $1] = $4 * 1000 }
  END {
    printf "%-6s %10s %10s %10s %14s %14s\n", "op", "hako", "docker", "podman", "docker/hako", "podman/hako"
    split("save load", ops, " ")
    for (i = 1; i <= 2; i++) {
      o = ops[i]; h = med[o, "hako"]
      printf "%-6s %10.0f %10.0f %10.0f %13.2fx %13.2fx\n", o, h, med[o, "docker"], med[o, "podman"], med[o, "docker"] / h, med[o, "podman"] / h
    }
  }' "$OUT/save.csv" "$OUT/load.csv"
