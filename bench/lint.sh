#!/usr/bin/env bash
# lint.sh: times `hako lint` of 1,000 Dockerfiles in one process. Goal: under 1 second.
#
#   bash bench/lint.sh                 # from anywhere; no root needed
#   N=5000 bash bench/lint.sh          # more files (default 1000)
#   RUNS=10 bash bench/lint.sh         # more timed runs (default 5, plus 1 warm-up)
#   HAKO_BIN=/path/hako bash bench/lint.sh   # use a built binary instead of building one
#   HAKO_REV=HEAD bash bench/lint.sh   # build hako from a commit, not the working tree
#
# The Dockerfiles are the corpus of internal/lint/testdata/corpus (official-image and tutorial
# patterns: multi-line RUNs, heredoc-free shell, multi-stage builds) plus the good Dockerfile,
# copied round-robin with a per-file comment and ARG so no two files are byte-identical. Every
# file goes through BuildKit's parser, the shell parser for each RUN/CMD, and every rule; the
# context rules are off (--no-context) so the figure measures the linter, not a directory walk.
# It prints the median wall time of one `hako lint` over all files, and files per second.
set -euo pipefail

N=${N:-1000}
RUNS=${RUNS:-5}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
WORK=$(mktemp -d /tmp/hako-lint-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

BIN=${HAKO_BIN:-}
if [[ -z $BIN ]]; then
  BIN=$WORK/bin/hako
  build_hako "$BIN" >/dev/null
fi

mapfile -t SRC < <(ls "$REPO"/internal/lint/testdata/corpus/*.Dockerfile "$REPO"/internal/lint/testdata/good/Dockerfile)
mkdir -p "$WORK/df"
for ((i = 0; i < N; i++)); do
  src=${SRC[$((i % ${#SRC[@]}))]}
  { echo "# bench file $i"; cat "$src"; printf '\nARG BENCH_%d=%d\n' "$i" "$i"; } >"$WORK/df/$i.Dockerfile"
done
FILES=("$WORK"/df/*.Dockerfile)
[[ ${#FILES[@]} -eq $N ]] || { echo "lint.sh: made ${#FILES[@]} files, want $N" >&2; exit 1; }

lint() { "$BIN" lint --no-context -t none -f json "${FILES[@]}" >"$WORK/out.json"; }

lint # warm-up: page cache, binary
findings=$(grep -c '"rule"' "$WORK/out.json" || true)
times=()
for ((r = 0; r < RUNS; r++)); do
  s=$(date +%s%N)
  lint
  e=$(date +%s%N)
  times+=($(((e - s) / 1000000)))
done
IFS=$'\n' sorted=($(sort -n <<<"${times[*]}")); unset IFS
median=${sorted[$((RUNS / 2))]}
echo "hako lint: $N Dockerfiles in one process, $findings findings"
echo "runs (ms): ${times[*]}"
echo "median: ${median} ms ($((N * 1000 / (median > 0 ? median : 1))) files/s); goal < 1000 ms: $([[ $median -lt 1000 ]] && echo met || echo MISSED)"
