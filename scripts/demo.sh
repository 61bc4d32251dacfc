#!/usr/bin/env bash
# The demo of hako's main job: make a base image from Debian's busybox-static, import it, list
# it, show its history, save it, remove it and load it back, run containers from it in the
# foreground and in the background and read their logs, then build an image from examples/hello
# with hako build, run it, show a container's logs and diff, and the image's history with the
# runnable ID of every step. Run it as root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
# What a fresh machine lacks: busybox for the base image, libseccomp and a C compiler for the
# seccomp build of hako.
need=()
test -x /bin/busybox || need+=(busybox-static)
pkg-config --exists libseccomp 2>/dev/null || need+=(libseccomp-dev pkg-config)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
if ((${#need[@]})); then
  apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
scripts/build.sh bin # hako, its per-container monitor and its --init binary, side by side
export HAKO_ROOT=${HAKO_ROOT:-$(mktemp -d /tmp/hako-demo.XXXXXX)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { printf '\n$ %s\n' "$*"; "$@"; }

# A 2 MB busybox root filesystem, as a tar.
mkdir -p "$work/rootfs"/{bin,etc,tmp,root}
cp /bin/busybox "$work/rootfs/bin/busybox"
chroot "$work/rootfs" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

run bin/hako import --change 'CMD ["sh"]' --change 'ENV LANG=C.UTF-8' -m "busybox base from Debian" "$work/busybox.tar" busybox:latest
run bin/hako images
run bin/hako history busybox
run bin/hako inspect --format '{{.Id}} cmd={{json .Config.Cmd}} layers={{len .RootFS.Layers}}' busybox
run bin/hako save -o "$work/busybox-save.tar" busybox
run tar -tf "$work/busybox-save.tar"
run bin/hako rmi busybox
run bin/hako load -i "$work/busybox-save.tar"
run bin/hako images
run bin/hako run --rm busybox sh -c 'echo "hello from $(hostname), pid $$"'
run bin/hako run -d --name ticker busybox sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.2; done; echo done >&2'
run bin/hako ps
sleep 1
run bin/hako logs ticker
run bin/hako ps -a
run bin/hako rm ticker
run bin/hako system df
# Build an image from a Dockerfile: two stages, a non-root USER, a .dockerignore; every step is
# an image, so history shows an ID per step and run starts the state right after any of them.
run cat examples/hello/Dockerfile examples/hello/.dockerignore
run bin/hako build -t hello --progress plain examples/hello
run bin/hako run --rm hello
# A container's changes on top of its image: diff lists them (A added, C changed, D deleted),
# logs shows what it printed.
run bin/hako run -d --name scribble hello sh -c 'echo "a note" > /home/app/note.txt; echo wrote a note; sleep 0.1; echo "and a warning" >&2'
run bin/hako wait scribble
run bin/hako logs scribble
run bin/hako diff scribble
run bin/hako rm scribble
run bin/hako history hello
step=$(bin/hako history -q --no-trunc hello | sed -n 7p)
run bin/hako run --rm "$step" sh -c 'id -un; grep ^app: /etc/passwd; ls /usr/local/bin/greet 2>/dev/null || echo "no greet yet"'
touch examples/hello/motd.txt
run bin/hako build -t hello --progress plain examples/hello
printf '\nstore: %s (remove it with rm -rf)\n' "$HAKO_ROOT"
