#!/usr/bin/env bash
# build.sh: times `build` of the issue's Dockerfile (FROM busybox, RUN, COPY of a context of 1,000
# small files and one 50 MB file, RUN, USER, CMD) with no cache and fully cached (after `touch`
# of every context file), in hako, BuildKit (docker 20.10 with DOCKER_BUILDKIT=1) and podman 4.3,
# in one run, with hyperfine. Prints the medians and the ratios hako/BuildKit.
#
#   bash bench/build.sh              # as root, from anywhere
#   RUNS=5 bash bench/build.sh       # fewer runs (default 10, plus 1 warm-up)
#   NO_PEERS=1 bash bench/build.sh   # hako only
#   KEEP=1 bash bench/build.sh       # keep the work directory
#
# Goal (issue 5): cold at most 0.7x BuildKit's time; cached at most 0.2x BuildKit's and < 200 ms.
set -euo pipefail

RUNS=${RUNS:-10}
PEERS_SH=${HAKO_PEERS_SH:-/work/shared/peers/peers.sh}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
die() { echo "build.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root"
for c in go hyperfine; do command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install)"; done
if [[ -z ${NO_PEERS:-} ]]; then
  for c in docker dockerd podman; do command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install)"; done
fi

WORK=$(mktemp -d /var/tmp/hako-bench-build.XXXXXX)
export PEERS_DIR=$WORK/peers PEERS_NETNS=hako-bb-$$
HROOT=$WORK/hako-root
# The binary sits in a directory of its own, as in /usr/local/bin: with the store below its
# directory, libcontainer cannot seal it for a RUN step's init with an overlay and copies all
# of it into a memfd for every RUN instead (see run.sh).
HBIN=$WORK/bin/hako
HAKO="$HBIN --root $HROOT"
cleanup() {
  set +e
  if [[ -z ${NO_PEERS:-} ]]; then
    docker rmi -f bench-build busybox >/dev/null 2>&1
    podman rmi --all --force >/dev/null 2>&1
    stop_peers
  fi
  remove_work
}
trap cleanup EXIT

build_hako "$HBIN" >/dev/null || die "go build failed"
bash "$PEERS_SH" rootfs-tar "$WORK/busybox.tar" >/dev/null
$HAKO import "$WORK/busybox.tar" busybox >/dev/null

CTX=$WORK/ctx
mkdir -p "$CTX/small"
for i in $(seq 1 1000); do printf 'file %d\n' "$i" >"$CTX/small/f$i.txt"; done
head -c 50M /dev/urandom >"$CTX/big.bin"
cat >"$CTX/Dockerfile" <<'EOF'
FROM busybox
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && mkdir -p /home/app
COPY . /data
RUN ls /data/small | wc -l > /data/count
USER 1000
CMD ["cat", "/data/count"]
EOF
echo "context: $(find "$CTX" -type f | wc -l) files, $(du -sh "$CTX" | cut -f1)"

HF=(hyperfine --style basic --runs "$RUNS" --warmup 1 --time-unit millisecond)
cold=(-n hako "$HAKO build -q --no-cache -t bench-build $CTX")
cached=(-n hako --prepare "find $CTX -exec touch {} +" "$HAKO build -q -t bench-build $CTX")
if [[ -z ${NO_PEERS:-} ]]; then
  start_dockerd
  use_podman
  docker import "$WORK/busybox.tar" busybox >/dev/null
  podman import "$WORK/busybox.tar" busybox >/dev/null 2>&1
  cold+=(-n buildkit "DOCKER_BUILDKIT=1 /usr/bin/docker build -q --no-cache -t bench-build $CTX"
    -n podman "podman build -q --no-cache -t bench-build $CTX")
  cached+=(-n buildkit --prepare "find $CTX -exec touch {} +" "DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t bench-build $CTX"
    -n podman --prepare "find $CTX -exec touch {} +" "podman build -q -t bench-build $CTX")
fi
[[ $($HAKO run --rm bench-build 2>/dev/null || $HAKO build -q -t bench-build "$CTX" >/dev/null && $HAKO run --rm bench-build) == 1000 ]] || die "hako's image does not count 1000 files"

OUT=$WORK/out
mkdir -p "$OUT"
echo; echo "=== cold build, --no-cache ($RUNS runs each) ==="
"${HF[@]}" --export-csv "$OUT/cold.csv" "${cold[@]}"
echo; echo "=== fully cached rebuild after touch ($RUNS runs each) ==="
"${HF[@]}" --export-csv "$OUT/cached.csv" "${cached[@]}"

echo; echo "=== medians (ms) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) ==="
awk -F, '
  FNR == 1 { op = FILENAME; sub(/.*\//, "", op); sub(/\.csv$/, "", op); next }
  { med[op, $1] = $4 * 1000 }
  END {
    printf "%-7s %10s %10s %10s %16s\n", "build", "hako", "buildkit", "podman", "hako/buildkit"
    split("cold cached", ops, " ")
    for (i = 1; i <= 2; i++) {
      o = ops[i]; h = med[o, "hako"]; b = med[o, "buildkit"]
      printf "%-7s %10.0f %10.0f %10.0f %15s\n", o, h, b, med[o, "podman"], (b > 0 ? sprintf("%.2fx", h / b) : "-")
    }
  }' "$OUT/cold.csv" "$OUT/cached.csv"
