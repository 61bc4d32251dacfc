#!/usr/bin/env bash
# build.sh DIR: builds hako, its monitor (hako-monitor), its keeper (hako-keeper) and its --init
# (hako-init) into DIR, side by side as hako looks for them, from the source tree this script is
# in. The demo, the integration tests and the benchmarks all build this way, so that they run
# what is installed.
#
# hako and hako-monitor are cgo programs (libseccomp, and the C constructors of the exec, run and
# keeper paths), linked statically, as runc's release binaries are: a `run` starts three
# processes from them (the command, the container's monitor, the sealed init), and none has a
# dynamic loader and shared libraries to map (about 4 ms of a 79 ms `run --rm busybox true`
# here); nor does a machine that runs them need the libseccomp.so they were built against.
# netgo and osusergo keep glibc's NSS, which a static binary cannot load, out of the link. It
# needs libseccomp-dev and libc6-dev (the static libraries); `go build -tags seccomp` alone makes
# the same programs, dynamically linked. hako-init is pure Go, static anyway.
set -euo pipefail
dir=${1:?usage: scripts/build.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=/usr/local/go/bin:$PATH
# hako-monitor is built with package cli's lean half (-tags hakolean, internal/cli/lean.go): it
# runs the child of a forked `run`, which needs neither the builder nor the linters.
#
# The segments are aligned to 2 MiB (max-page-size; separate-code keeps the read-only data out of
# the executable segment, as the default), and tools/elfinstall extends the read-only ones to
# their 2 MiB boundary and writes each file in one write: the page cache then holds the binaries
# in 2 MiB folios that exec maps with one page-table entry each, instead of ~500 4 KiB pages that
# each cost a trap on a virtualised MMU (docs/run.md, "The binaries": ~5 ms of a `run`).
ld="-linkmode external -extldflags '-static -Wl,-z,separate-code -Wl,-z,max-page-size=0x200000'"
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
go build -tags seccomp,netgo,osusergo -ldflags "$ld" -o "$tmp/" ./cmd/hako
go build -tags seccomp,netgo,osusergo,hakolean -ldflags "$ld" -o "$tmp/" ./cmd/hako-monitor
go build -o "$tmp/" ./cmd/hako-init
go build -o "$tmp/elfinstall" ./tools/elfinstall
for b in hako hako-monitor hako-init; do
  "$tmp/elfinstall" "$tmp/$b" "$dir/$b"
done
# hako-keeper is package monitor's keeper.c alone, a C program of its own: a detached container's
# monitor becomes it (internal/engine/keeper.go), and a keeper running from hako-monitor would
# keep the 2 MiB folios it touches resident (~8 MB instead of ~1). Installed as any file is.
"${CC:-gcc}" -static -O2 -Wall -Wno-unused-result -D_GNU_SOURCE -DHAKO_KEEPER_MAIN \
  -o "$tmp/hako-keeper" internal/monitor/keeper.c
install -m 0755 "$tmp/hako-keeper" "$dir/hako-keeper"
