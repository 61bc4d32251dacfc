#!/usr/bin/env bash
# run.sh: what running containers costs in hako, against crun and runc (bare OCI bundles of the
# same busybox rootfs), docker 20.10 and podman 4.3, in one run:
#   1. `run --rm busybox true`: median and p95 of each, with hyperfine, and the ratios to hako;
#   2. 100 containers running `sleep` at once: the resident memory of each monitor
#      (/proc/PID/status VmRSS, RssAnon, RssFile; Pss from smaps_rollup);
#   3. `hako ps -a` with 1,000 containers (made with `hako create`): median and p95.
#
#   bash bench/run.sh                    # as root, from anywhere
#   FAST_RUNS=100 bash bench/run.sh      # runs of hako, crun and runc in part 1 (default 100)
#   ROUNDS=10 bash bench/run.sh          # ... in rounds, each engine's spread over them (10,
#                                        # plus 2 warm-ups a round)
#   RUNS=10 bash bench/run.sh            # runs of docker and podman in part 1 (default 30)
#   SLEEPERS=100 PS_CONTAINERS=1000 bash bench/run.sh
#   HAKO_REV=HEAD bash bench/run.sh      # build hako from a commit, not the working tree
#   KEEP=1 bash bench/run.sh             # keep the work directory (hyperfine JSON)
#   SETTLE=60 bash bench/run.sh          # seconds to let the peers settle before part 1 (20)
#
# Needs root, go, hyperfine, jq, crun, runc and the peers of /work/shared/peers/peers.sh
# (HAKO_PEERS_SH overrides the path; `bash peers.sh install` installs them). Everything runs in a
# private work directory: dockerd in its own network namespace, podman on its own storage, hako on
# its own --root. hyperfine runs under `peers.sh nov2` (a private mount namespace without the
# empty cgroup v2 mount, which crun refuses on these hybrid machines), so that every engine pays
# the same for being started and crun pays no wrapper.
set -euo pipefail

RUNS=${RUNS:-30}
FAST_RUNS=${FAST_RUNS:-100}
SLEEPERS=${SLEEPERS:-100}
PS_CONTAINERS=${PS_CONTAINERS:-1000}
IMAGE=hako-bench/busybox:latest
PEERS_SH=${HAKO_PEERS_SH:-/work/shared/peers/peers.sh}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"

die() { echo "run.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (namespaces, cgroups and overlay mounts need it)"
for c in go hyperfine jq crun runc docker dockerd podman unshare; do
  command -v "$c" >/dev/null || die "$c is missing (bash $PEERS_SH install; apt-get install jq)"
done
[[ -f $PEERS_SH ]] || die "no $PEERS_SH (set HAKO_PEERS_SH)"

WORK=$(mktemp -d /var/tmp/hako-bench.XXXXXX)
export PEERS_DIR=$WORK/peers PEERS_NETNS=hako-bench-$$
HROOT=$WORK/hako-root
# The binary sits in a directory of its own, as in /usr/local/bin: libcontainer seals it for the
# container's init with an overlay of that directory, which the kernel refuses when the store
# (the runtime state) lies below it, and then copies the whole binary into a memfd on every start.
HBIN=$WORK/bin/hako
HAKO="$HBIN --root $HROOT"

cleanup() {
  set +e
  echo "--- cleaning up"
  $HAKO ps -aq --no-trunc 2>/dev/null | xargs -r -n 50 $HAKO rm -f >/dev/null 2>&1
  [[ -n ${DOCKER_HOST:-} ]] && docker rmi -f "$IMAGE" >/dev/null 2>&1
  [[ -n ${CONTAINERS_CONF:-} ]] && podman rmi --all --force >/dev/null 2>&1
  stop_peers
  remove_work
}
trap cleanup EXIT

build_hako "$HBIN" || die "go build failed"
$HBIN version

echo "--- starting dockerd (own netns) and configuring podman (own storage)"
start_dockerd
docker version --format 'docker client {{.Client.Version}}, daemon {{.Server.Version}}' || die "dockerd did not start: $(tail -5 "$PEERS_DIR/dockerd.log")"
use_podman
podman --version
echo "crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}')"

echo "--- one busybox rootfs for every engine"
bash "$PEERS_SH" rootfs-tar "$WORK/busybox.tar"
$HAKO import -c 'CMD ["sh"]' "$WORK/busybox.tar" "$IMAGE" >/dev/null
docker import -c 'CMD ["sh"]' "$WORK/busybox.tar" "$IMAGE" >/dev/null
podman import -c 'CMD ["sh"]' "$WORK/busybox.tar" "$IMAGE" >/dev/null 2>&1
# The bare bundle: runc's default spec (namespaces incl. network, Docker-like mounts, no
# terminal), on a plain copy of the rootfs, writable like a container's.
BUNDLE=$WORK/bundle
mkdir -p "$BUNDLE/rootfs"
tar -C "$BUNDLE/rootfs" -xf "$WORK/busybox.tar"
(cd "$BUNDLE" && runc spec)
jq '.process.terminal = false | .process.args = ["/bin/true"] | .root.readonly = false' "$BUNDLE/config.json" >"$BUNDLE/c.json"
mv "$BUNDLE/c.json" "$BUNDLE/config.json"
for check in "$HAKO run --rm $IMAGE true" "crun run -b $BUNDLE bench-crun" "runc run -b $BUNDLE bench-runc" \
  "docker run --rm --network none $IMAGE true" "podman run --rm --network none $IMAGE true"; do
  bash "$PEERS_SH" nov2 $check || die "$check failed"
done

OUT=$WORK/out
mkdir -p "$OUT"

# dockerd, containerd and podman keep working for a while after the imports above (their load
# average reached 3 on 2 cores): the engine measured first, hako, would pay for it (104 ms
# median with a p95 of 138, against 86 +- 4 measured alone). Let them settle first.
echo "--- letting the peers settle (${SETTLE:=20} s)"
sleep "$SETTLE"

echo
# hako, crun and runc in ROUNDS rounds (hyperfine runs one command's runs before the next's):
# each one's runs are spread over the part, so that a drift of the machine's speed (crun's
# median moved from 13.7 to 18 ms between runs of this script on 2026-11-29) does not fall on
# one of them. docker and podman come after, in one round: what their daemons and cleanup keep
# doing for seconds after their runs would fall on the next round's first engine.
#
# Ten rounds of ten since 2026-11-30 (three of ten before): on this machine a median of 30 runs
# moves by several percent from one run of the script to the next, and with it the ratio to crun
# (1.22 to 1.51 over ten runs of the script on one commit); 100 runs in ten rounds cost ~8 s more,
# and the ratios of each round are printed with the pooled ones, so that the spread shows.
ROUNDS=${ROUNDS:-10}
((ROUNDS >= 1)) || die "ROUNDS must be 1 or more"
((FAST_RUNS >= ROUNDS)) || die "FAST_RUNS must be ROUNDS or more"
per=$(((FAST_RUNS + ROUNDS - 1) / ROUNDS))
echo "=== 1. run --rm busybox true (hako, crun, runc: $((per * ROUNDS)) runs each in $ROUNDS rounds; then docker and podman, $RUNS each, with --network none as hako; under nov2) ==="
# Each round starts with another engine (hako, crun, runc; then crun, runc, hako; ...): the one
# measured first in a round pays for what the machine still does before it (the peers' daemons
# after the settling above, the previous round's last engine), and in every run of this script
# until 2026-11-29, hako, always first, had its slowest round first (28.9 ms against 23.6 and
# 25.6 on 2026-11-29; crun, second, 27.4 against 16.8 and 19.1).
engines=(hako crun runc)
declare -A engine_cmd=([hako]="$HAKO run --rm $IMAGE true" [crun]="crun run -b $BUNDLE bench-crun" [runc]="runc run -b $BUNDLE bench-runc")
for ((r = 1; r <= ROUNDS; r++)); do
  order=()
  for ((i = 0; i < ${#engines[@]}; i++)); do
    e=${engines[$(((i + r - 1) % ${#engines[@]}))]}
    order+=(-n "$e" "${engine_cmd[$e]}")
  done
  bash "$PEERS_SH" nov2 hyperfine -N --style basic --runs "$per" --warmup 2 --time-unit millisecond --export-json "$OUT/run-$r.json" "${order[@]}"
done
bash "$PEERS_SH" nov2 hyperfine -N --style basic --runs "$RUNS" --warmup 2 --time-unit millisecond --export-json "$OUT/run-peers.json" \
  -n docker "docker run --rm --network none $IMAGE true" \
  -n podman "podman run --rm --network none $IMAGE true"
# The rounds' runs pooled, per engine, in the order of the first round, then docker and podman.
jq -s '(.[0].results | map(.command) + ["docker", "podman"]) as $order |
  {results: (map(.results) | add | group_by(.command) |
    map({command: .[0].command, times: (map(.times) | add)} | . + {mean: ((.times | add) / (.times | length))}) |
    sort_by(.command as $c | $order | index($c)))}' "$OUT"/run-*.json >"$OUT/run.json"

[[ -z $($HAKO ps -aq) ]] || die "hako run --rm left containers behind"
# How the page cache held hako's binaries through part 1 (docs/run.md, "The binaries"): 2 MiB
# folios, as installed, or small ones once the machine's reclaim took them (back to back, 2 ms
# more a run here on 2026-11-30).
"${CC:-gcc}" -O2 -o "$WORK/folios" "$REPO/bench/folios.c"
for b in hako hako-monitor; do "$WORK/folios" "${HBIN%/*}/$b"; done

echo
echo "=== 2. $SLEEPERS containers running sleep at once: the monitors' memory ==="
start=$(date +%s%N)
for i in $(seq "$SLEEPERS"); do $HAKO run -d $IMAGE sleep 100000 >/dev/null; done
echo "started $SLEEPERS containers in $(( ($(date +%s%N) - start) / 1000000 )) ms"
sleep 2
running=$($HAKO ps -q | wc -l)
mons=()
# A container's monitor is the process that holds its monitor lock (a run's forked child keeps
# the run's command line until it becomes the keeper).
for p in /proc/[0-9]*; do
  ls -l "$p/fd" 2>/dev/null | grep -q -- " $HROOT/containers/.*/monitor.lock$" && mons+=("${p#/proc/}")
done
echo "running: $running containers, ${#mons[@]} monitors"
for pid in "${mons[@]}"; do
  awk '/^(VmRSS|RssAnon|RssFile|Threads):/ { printf "%s ", $2 }' "/proc/$pid/status"
  awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup"
done | awk -v n="${#mons[@]}" '
  { rss += $1; anon += $2; file += $3; thr += $4; pss += $5; if ($1 > max) max = $1 }
  END {
    printf "per monitor (kB, mean of %d): VmRSS %.0f (max %d), RssAnon %.0f, RssFile %.0f, Pss %.0f, threads %.1f\n", n, rss/n, max, anon/n, file/n, pss/n, thr/n
    printf "MONITOR_RSS_KB=%.0f MONITOR_ANON_KB=%.0f MONITOR_PSS_KB=%.0f\n", rss/n, anon/n, pss/n
  }' | tee "$OUT/monitors.txt"
start=$(date +%s%N)
$HAKO ps -q --no-trunc | xargs -r $HAKO rm -f >/dev/null
echo "removed them (rm -f, one command) in $(( ($(date +%s%N) - start) / 1000000 )) ms"

echo
echo "=== 3. hako ps -a with $PS_CONTAINERS containers ==="
start=$(date +%s%N)
seq "$PS_CONTAINERS" | xargs -P 4 -I{} $HAKO create $IMAGE sleep 1 >/dev/null
echo "created $($HAKO ps -aq | wc -l) containers (4 creates at a time) in $(( ($(date +%s%N) - start) / 1000000 )) ms"
hyperfine -N --style basic --runs 20 --warmup 2 --time-unit millisecond --export-json "$OUT/ps.json" \
  -n "hako ps -a" "$HAKO ps -a" \
  -n "hako ps -a -q" "$HAKO ps -a -q" \
  -n "hako version (start-up alone)" "$HBIN version"

echo
echo "=== summary (ms) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) ==="
# pct(p): the p-quantile of a hyperfine result's times, in ms (the index hyperfine's median takes).
pct='def pct(p): (.times | sort) as $t | $t[((($t | length) - 1) * p | floor)] * 1000;'
jq -r "$pct"'
  .results | (map(select(.command == "hako")) | .[0] | pct(0.5)) as $h |
  ["engine", "median", "p95", "mean", "median/hako"], (.[] | [.command, (pct(0.5) | . * 10 | round / 10), (pct(0.95) | . * 10 | round / 10),
    (.mean * 10000 | round / 10), ((pct(0.5) / $h) * 100 | round / 100)]) | @tsv' "$OUT/run.json" | column -t
# hako's median over crun's, pooled (the goal) and in each round (the spread).
ratio="$pct"'(.results | map({key: .command, value: pct(0.5)}) | from_entries) | .hako / .crun * 100 | round / 100'
echo "hako/crun: $(jq -r "$ratio" "$OUT/run.json") pooled; by round: $(for ((r = 1; r <= ROUNDS; r++)); do jq -r "$ratio" "$OUT/run-$r.json"; done | tr '\n' ' ')"
echo
jq -r "$pct"'
  ["command", "median", "p95"], (.results[] | [.command, (pct(0.5) | . * 10 | round / 10), (pct(0.95) | . * 10 | round / 10)]) | @tsv' "$OUT/ps.json" | column -t -s $'\t'
echo
cat "$OUT/monitors.txt" | head -1
