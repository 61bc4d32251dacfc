// Package integration holds hako's end-to-end tests: they build the hako binary and drive it as a
// user would, on real images in a real store. They need root (overlay mounts, ownership) and skip
// without it.
package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var hakoBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("integration tests need root; skipping")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "hako-it-")
	if err != nil {
		panic(err)
	}
	// hako, its monitor and hako-init, side by side and built as they are installed
	// (engine.monitorExecutable, scripts/build.sh).
	hakoBin = filepath.Join(dir, "hako")
	out, err := exec.Command("../scripts/build.sh", dir).CombinedOutput()
	if err != nil {
		fmt.Printf("build hako: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// store is one hako root for one test.
type store struct {
	t    *testing.T
	root string
}

func newStore(t *testing.T) *store {
	t.Helper()
	root := t.TempDir()
	// Before the directory's removal (cleanups run last first): a monitor finishes its work
	// after its command has answered (a --rm container's files go, a spare record directory
	// for the next run is made), and a removal meanwhile finds a directory not empty.
	t.Cleanup(func() {
		waitStoreIdle(root)
		removeRuntimeDir(root)
	})
	return &store{t: t, root: root}
}

// removeRuntimeDir removes the runtime directory of the store at root where it is on a tmpfs
// (engine's runtimedir.go): the store's removal only removes its symlink.
func removeRuntimeDir(root string) {
	if target, err := os.Readlink(filepath.Join(root, "runtime")); err == nil && strings.Contains(filepath.Base(target), "hako-runtime-") {
		os.RemoveAll(target)
	}
}

// waitStoreIdle waits, for ten seconds at most, until no live process names the store root on
// its command line: the monitors of its containers (which the tests' own clean-ups remove)
// and of the runs that have answered.
func waitStoreIdle(root string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !slices.ContainsFunc(hostProcesses(), func(p hostProcess) bool {
			return p.state != "Z" && strings.Contains(p.cmdline, root)
		}) {
			return true
		}
	}
	return false
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs hako with stdin (may be nil).
func (s *store) runIn(stdin []byte, args ...string) result {
	s.t.Helper()
	return s.runWith(nil, stdin, args...)
}

// runWith runs hako with env as its environment (nil: the test's) and stdin (may be nil).
func (s *store) runWith(env []string, stdin []byte, args ...string) result {
	s.t.Helper()
	cmd := exec.Command(hakoBin, append([]string{"--root", s.root}, args...)...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("hako %v: %v", args, err)
	}
	return result{o.String(), e.String(), code}
}

func (s *store) run(args ...string) result { s.t.Helper(); return s.runIn(nil, args...) }

// ok runs hako and fails the test unless it exits 0; it returns stdout.
func (s *store) ok(args ...string) string {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("hako %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// state lists everything visible in the store that a failed command must not change: blobs, the
// image index and the committed snapshots.
func (s *store) state() string {
	s.t.Helper()
	var b strings.Builder
	blobs, _ := filepath.Glob(filepath.Join(s.root, "content/blobs/sha256/*"))
	sort.Strings(blobs)
	for _, p := range blobs {
		fmt.Fprintln(&b, "blob", filepath.Base(p))
	}
	snaps, _ := filepath.Glob(filepath.Join(s.root, "snapshots/*/snapshots/[0-9]*"))
	fmt.Fprintln(&b, "snapshot dirs", len(snaps))
	idx, _ := os.ReadFile(filepath.Join(s.root, "content/index.json"))
	fmt.Fprintln(&b, "index", string(idx))
	fmt.Fprintln(&b, "images", s.ok("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"))
	return b.String()
}

// busyboxTar is the busybox rootfs tar the demo and the peers use, made once per test binary.
var busyboxTarPath string

func busyboxTar(t *testing.T) string {
	t.Helper()
	if busyboxTarPath != "" {
		return busyboxTarPath
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs busybox-static (/bin/busybox)")
	}
	dir, err := os.MkdirTemp("", "hako-bb-")
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	script := `set -e
mkdir -p "$1"/bin "$1"/etc "$1"/tmp "$1"/root
cp /bin/busybox "$1/bin/busybox"
chroot "$1" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$1/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/etc/group"
chmod 1777 "$1/tmp"
tar -C "$1" -cf "$2" .`
	if out, err := exec.Command("sh", "-c", script, "sh", rootfs, filepath.Join(dir, "busybox.tar")).CombinedOutput(); err != nil {
		t.Fatalf("make busybox rootfs: %v\n%s", err, out)
	}
	busyboxTarPath = filepath.Join(dir, "busybox.tar")
	return busyboxTarPath
}
