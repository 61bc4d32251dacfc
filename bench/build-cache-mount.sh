#!/usr/bin/env bash
# build-cache-mount.sh: a RUN whose cache mount (RUN --mount=type=cache) is filled with 200 MB on
# the first build, then a rebuild after a source change that finds the 200 MB still there, in
# hako and BuildKit (docker 20.10 with DOCKER_BUILDKIT=1) in one run, with hyperfine. Prints the
# medians and the ratios hako/BuildKit.
#
#   bash bench/build-cache-mount.sh              # as root, from anywhere
#   RUNS=3 bash bench/build-cache-mount.sh       # fewer runs (default 5, plus 1 warm-up)
#   NO_PEERS=1 bash bench/build-cache-mount.sh   # hako only
#   KEEP=1 bash bench/build-cache-mount.sh       # keep the work directory
#
# "fill": the cache is emptied first (builder prune), the RUN writes 200 MB into it.
# "rebuild": a source file changed, so the COPY and the RUN run again; the RUN finds the cache
# full and only checks it (every byte read back, so a cache that is not really kept fails).
set -euo pipefail

RUNS=${RUNS:-5}
PEERS_SH=${HAKO_PEERS_SH:-/work/shared/peers/peers.sh}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
die() { echo "build-cache-mount.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root"
for c in go hyperfine; do command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install)"; done
if [[ -z ${NO_PEERS:-} ]]; then
  for c in docker dockerd; do command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install)"; done
fi

WORK=$(mktemp -d /var/tmp/hako-bench-cachemount.XXXXXX)
export PEERS_DIR=$WORK/peers PEERS_NETNS=hako-bcm-$$
HROOT=$WORK/hako-root
HAKO="$WORK/bin/hako --root $HROOT"
cleanup() {
  set +e
  if [[ -z ${NO_PEERS:-} ]]; then
    docker rmi -f bench-cm busybox >/dev/null 2>&1
    docker builder prune -af >/dev/null 2>&1
    stop_peers
  fi
  remove_work
}
trap cleanup EXIT

build_hako "$WORK/bin/hako" >/dev/null || die "go build failed"
bash "$PEERS_SH" rootfs-tar "$WORK/busybox.tar" >/dev/null
$HAKO import "$WORK/busybox.tar" busybox >/dev/null

CTX=$WORK/ctx
mkdir -p "$CTX/src"
echo 0 >"$CTX/src/version"
cat >"$CTX/Dockerfile" <<'EOF'
FROM busybox
COPY src /src
RUN --mount=type=cache,id=bench-200m,target=/cache \
    if [ ! -f /cache/done ]; then \
      dd if=/dev/urandom of=/cache/blob bs=1M count=200 2>/dev/null && md5sum /cache/blob > /cache/done; \
    fi && \
    md5sum -c /cache/done >/dev/null && cat /src/version > /built && echo "cache: $(du -sm /cache | cut -f1) MB"
EOF

HF=(hyperfine --style basic --runs "$RUNS" --warmup 1 --time-unit millisecond)
change="date +%s%N > $CTX/src/version"
fill=(-n hako --prepare "$HAKO builder prune -af >/dev/null; $change" "$HAKO build -q -t bench-cm $CTX")
rebuild=(-n hako --prepare "$change" "$HAKO build -q -t bench-cm $CTX")
if [[ -z ${NO_PEERS:-} ]]; then
  start_dockerd
  docker import "$WORK/busybox.tar" busybox >/dev/null
  fill+=(-n buildkit --prepare "docker builder prune -af >/dev/null; $change" "DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t bench-cm $CTX")
  rebuild+=(-n buildkit --prepare "$change" "DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t bench-cm $CTX")
fi

# The cache must really be kept: after a rebuild hako's mount holds the 200 MB, the image does not.
$HAKO build -q -t bench-cm "$CTX" >/dev/null
eval "$change"
out=$($HAKO build --progress plain -t bench-cm "$CTX" 2>&1) || die "rebuild failed: $out"
grep -q "cache: 20[0-9] MB" <<<"$out" || die "the rebuild did not find the 200 MB cache: $out"
[[ $($HAKO run --rm bench-cm sh -c 'ls /cache 2>/dev/null | wc -l') == 0 ]] || die "the cache mount is in hako's image"
[[ $(du -sm "$HROOT/cachemounts" | cut -f1) -ge 200 ]] || die "no 200 MB under $HROOT/cachemounts"

OUT=$WORK/out
mkdir -p "$OUT"
echo; echo "=== fill: empty cache, the RUN writes 200 MB ($RUNS runs each) ==="
"${HF[@]}" --export-csv "$OUT/fill.csv" "${fill[@]}"
echo; echo "=== rebuild after a source change: the RUN finds the 200 MB ($RUNS runs each) ==="
"${HF[@]}" --export-csv "$OUT/rebuild.csv" "${rebuild[@]}"

echo; echo "=== medians (ms) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) ==="
awk -F, '
  FNR == 1 { op = FILENAME; sub(/.*\//, "", op); sub(/\.csv$/, "", op); next }
  { med[op, $1] = $4 * 1000 }
  END {
    printf "%-8s %10s %10s %16s\n", "build", "hako", "buildkit", "hako/buildkit"
    split("fill rebuild", ops, " ")
    for (i = 1; i <= 2; i++) {
      o = ops[i]; h = med[o, "hako"]; b = med[o, "buildkit"]
      printf "%-8s %10.0f %10.0f %15s\n", o, h, b, (b > 0 ? sprintf("%.2fx", h / b) : "-")
    }
  }' "$OUT/fill.csv" "$OUT/rebuild.csv"
