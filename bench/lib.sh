# lib.sh: what the benchmark scripts share. Sourcing it only defines functions, so the scripts
# source it early, before they make WORK: the functions read REPO, WORK, PEERS_SH (and
# PEERS_NETNS, HAKO_REV, KEEP) when they are called, and those must be set by then.

# build_hako OUT: builds hako into OUT with hako-monitor and hako-init next to it (where hako
# looks for them), as scripts/build.sh does (statically linked), from the working tree, or from
# the commit HAKO_REV names when it is set (an older commit without scripts/build.sh is built as
# it was then: dynamically, with -tags seccomp). Keep OUT in a directory of its own, as in
# /usr/local/bin: with the store below the binary's directory, the binary cannot be sealed for a
# container's init with an overlay, and all of it is copied into a memfd every time.
build_hako() {
  local out=$1 src=$REPO
  [[ $out == */hako ]] || { echo "build_hako: OUT must end in /hako" >&2; return 1; }
  if [[ -n ${HAKO_REV:-} ]]; then
    echo "--- building hako from $HAKO_REV ($(git -C "$REPO" rev-parse --short "$HAKO_REV"))"
    mkdir -p "$WORK/src"
    git -C "$REPO" archive "$HAKO_REV" | tar -C "$WORK/src" -x
    src=$WORK/src
  else
    echo "--- building hako from the working tree $REPO"
  fi
  if [[ -x $src/scripts/build.sh ]]; then
    "$src/scripts/build.sh" "$(dirname "$out")" ||
      { echo "go build failed (a commit builds with HAKO_REV=HEAD)" >&2; return 1; }
  else
    (cd "$src" && go build -tags seccomp -o "$out" ./cmd/hako &&
      { [[ ! -d cmd/hako-monitor ]] || go build -tags seccomp -o "$(dirname "$out")/hako-monitor" ./cmd/hako-monitor; }) ||
      { echo "go build failed" >&2; return 1; }
  fi
}

# start_dockerd: dockerd in its own network namespace with its data under PEERS_DIR, for this
# shell (DOCKER_HOST exported).
start_dockerd() {
  eval "$(bash "$PEERS_SH" dockerd start)"
  export DOCKER_HOST
}

# use_podman: podman on its own storage under PEERS_DIR, for this shell.
use_podman() {
  eval "$(bash "$PEERS_SH" podman-env)"
  export CONTAINERS_CONF CONTAINERS_STORAGE_CONF
}

# unmount_below DIR: takes down every mount below DIR, deepest first (dockerd, podman and hako
# may leave some when a run is interrupted).
unmount_below() {
  awk -v w="$1" '$5 == w || index($5, w "/") == 1 { print length($5), $5 }' /proc/self/mountinfo |
    sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m"; done
}

# stop_peers: stops dockerd and deletes its network namespace (PEERS_NETNS).
stop_peers() {
  bash "$PEERS_SH" dockerd stop >/dev/null 2>&1
  ip netns delete "$PEERS_NETNS" 2>/dev/null
}

# remove_work: unmounts what is left below WORK and removes it, or keeps it with KEEP=1.
remove_work() {
  unmount_below "$WORK"
  if [[ -n ${KEEP:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
