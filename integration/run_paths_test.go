package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The differential tests of the two ways a container's monitor starts its init (docs/run.md):
// libcontainer (the Go path) and the C start path (internal/fastexec/start.c). For every
// container the C path takes, `hako run` must give the same stdout, stderr and exit code on both
// (after normalizing what differs from one container to the next: IDs, mount IDs, anonymous
// device numbers, overlay directories, pipe inodes); a container it does not take is, under
// HAKO_RUN_PATH=c, an error that says why; and what follows the start (exec, pause, kill, stop,
// start, restart, wait, rm, OOM) works on a container the C path started.
//
// The C path loads the seccomp filter a Go-path start cached (docs/run.md, "The seccomp cache"):
// every configuration here runs on the Go path first.

var (
	runGoPath = []string{"HAKO_RUN_PATH=go"}
	runCPath  = []string{"HAKO_RUN_PATH=c"}
	// runUnsetName labels a run with no HAKO_RUN_PATH (runEnv removes the test's own) in a diff.
	runUnsetName = []string{"HAKO_RUN_PATH unset"}
)

// runProbe prints what a container's init is: $1 is the host's namespaces as NAME=LINK words
// (the test's own), to say which the container shares with the host. Everything that differs
// from one container to the next but not between the paths is normalized by runNorm (or here:
// PIDs other than 0, 1 and the probe's own; keyring serial numbers, counts and order; the link
// count of /proc, which counts the processes of the moment). /proc/keys lists
// the session keyrings of all the containers to a privileged one: only this container's is kept.
const runProbe = `id=$(sed -n 's,^[0-9]*:[^:]*:.*/\([0-9a-f]\{64\}\)$,\1,p' /proc/self/cgroup | head -n 1)
echo "--- id ${id:-none}"
echo '--- status'; grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters|SigBlk|SigIgn|SigCgt|Umask|Cpus_allowed_list|Mems_allowed_list|PPid|TracerPid|Speculation_Store_Bypass|SpeculationIndirectBranch):' /proc/$$/status
read -r _ _ _ ppid pgrp sid tty tpgid _ </proc/$$/stat
echo "pgrp $([ $pgrp = $$ ] && echo self || echo $pgrp) session $([ $sid = $$ ] && echo self || echo $sid) tty $tty tpgid $tpgid"
echo "personality $(cat /proc/self/personality)"; awk '{print "nice", $19, "rt_priority", $40, "policy", $41}' /proc/self/stat
echo '--- effects'; unshare -U true 2>&1; echo "unshare -U: $?"; mkdir /proc/x 2>&1; echo "mkdir /proc/x: $?"; hostname "$(hostname)" 2>&1; echo "sethostname: $?"
echo '--- limits'; cat /proc/self/limits
echo '--- cgroup'; cat /proc/self/cgroup
echo '--- cgroup files'; for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes memory/memory.swappiness memory/memory.oom_control pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus cpuset/cpuset.mems devices/devices.list memory.max memory.swap.max pids.max cpu.max; do [ -e /sys/fs/cgroup/$f ] && echo "$f: $(cat /sys/fs/cgroup/$f | tr '\n' ' ')"; done
echo '--- mountinfo'; cat /proc/self/mountinfo
echo '--- files'; for d in /dev /dev/pts /dev/shm /dev/mqueue /sys/fs/cgroup /etc /tmp /; do echo "$d:"; ls -a $d | while read -r f; do stat -c '%A %h %u %g %t:%T %s %N' "$d/$f" 2>&1; done; done | awk '$NF == "//proc" {$2 = "N"} {print}'
echo '--- hostname'; hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname; cat /etc/hostname /etc/hosts /etc/resolv.conf
echo '--- env'; env
echo '--- pwd'; pwd
echo '--- umask'; umask
echo '--- id'; id
echo '--- oom_score_adj'; cat /proc/self/oom_score_adj
echo '--- net'; for n in /sys/class/net/*; do echo "${n##*/} $(cat $n/operstate) $(cat $n/flags)"; done; cat /proc/net/dev | awk 'NR>2{print $1}'
echo '--- keys'; cat /proc/keys 2>&1 | awk -v me="_ses.$id:" '$9 ~ /^_ses\./ && $9 != me {next} {print $5, $6, $7, $8, $9}' | sort
echo '--- ns'; for n in mnt pid net ipc uts cgroup user time; do me=$(readlink /proc/self/ns/$n); one=$(readlink /proc/1/ns/$n); host=; for kv in $1; do [ "${kv%%=*}" = $n ] && host=${kv#*=}; done; echo "$n pid1:$([ "$me" = "$one" ] && echo same || echo other) host:$([ "$me" = "$host" ] && echo same || echo other)"; done
echo '--- masked'; cat /proc/kcore 2>&1 | head -c 50; echo; ls /proc/acpi 2>&1; ls /sys/firmware 2>&1; cat /proc/timer_list 2>&1 | head -c 50; echo; stat -c '%n %F %t:%T' /proc/keys /proc/timer_list /proc/interrupts /proc/kcore /proc/latency_stats /proc/sched_debug /proc/scsi /sys/devices/virtual/powercap 2>&1
echo '--- readonly'; (echo 1 >/proc/sysrq-trigger) 2>&1; echo "sysrq-trigger: $?"; (echo 0 >/proc/sys/kernel/panic) 2>&1; echo "sys: $?"; (echo 1 >/proc/irq/default_smp_affinity) 2>&1; echo "irq: $?"
echo '--- writable'; for d in / /tmp /dev /dev/shm /etc; do (touch $d/.probe && rm $d/.probe && echo "$d writable") 2>&1; done
echo '--- fds'; ls /proc/self/fd; for f in /proc/$$/fd/*; do echo "${f##*/} -> $(readlink $f)"; done
echo '--- ps'; p=$(ps -o pid,ppid,comm); echo "$p" | awk -v me=$$ 'NR>1{for(i=1;i<=2;i++) if($i!=0 && $i!=1) $i=($i==me?"self":"N")} {print}'
echo '--- stdin'; cat
echo '--- end'`

var (
	runHexID      = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	runMountLine  = regexp.MustCompile(`(?m)^(\d+) (\d+) (\d+):(\d+) (.*)$`)
	runPeerGroup  = regexp.MustCompile(`\b(shared|master|propagate_from):(\d+)\b`)
	runOverlayDir = regexp.MustCompile(`\b(upperdir|workdir)=[^,\s]*`)
	// A namespace's inode: the test's own, or another's (whose number changes every time).
	runNSInode = regexp.MustCompile(`\b(mnt|pid|net|ipc|uts|cgroup|user|time):\[\d+\]`)
	// hako-init's messages name its child's PID, which the Go path's init threads made higher.
	runInitPID = regexp.MustCompile(`(\[FATAL tini \()\d+\)`)
	// A mount error names the descriptor of its target, the path's own (thread-self in Go).
	runMountFD = regexp.MustCompile(`(dstFd=)/proc/(?:self|thread-self)/fd/\d+,`)
)

// runNumbering renumbers values by their first appearance, so that two outputs with the same
// structure (this mount's parent is that mount, these two mounts share a device) compare equal.
func runNumbering() func(string) string {
	seen := map[string]string{}
	return func(v string) string {
		if n, ok := seen[v]; ok {
			return n
		}
		seen[v] = strconv.Itoa(len(seen) + 1)
		return seen[v]
	}
}

// runNorm normalizes what legitimately differs between two containers: their IDs (full and
// short, as <ID1>...), mount IDs, the minor numbers of anonymous devices and peer groups in
// mountinfo (by first appearance), overlay's upper and work directories, pipe and socket inodes,
// namespace inodes other than the test's own, PIDs in hako-init's messages and descriptor
// numbers in mount errors, and the overlay's uuid=on of a recycled layer.
func runNorm(s string) string {
	ids := map[string]string{}
	for _, id := range runHexID.FindAllString(s, -1) {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("<ID%d>", len(ids)+1)
		}
	}
	for id, n := range ids {
		s = strings.ReplaceAll(s, id, n)
	}
	for id, n := range ids {
		s = strings.ReplaceAll(s, id[:12], n+"[:12]")
	}
	mnt, dev, peer := runNumbering(), runNumbering(), runNumbering()
	s = runMountLine.ReplaceAllStringFunc(s, func(l string) string {
		m := runMountLine.FindStringSubmatch(l)
		d := m[3] + ":" + m[4]
		if m[3] == "0" {
			d = "0:A" + dev(m[4])
		}
		rest := runPeerGroup.ReplaceAllStringFunc(m[5], func(p string) string {
			k, v, _ := strings.Cut(p, ":")
			return k + ":P" + peer(v)
		})
		rest = runOverlayDir.ReplaceAllString(rest, "$1=<DIR>")
		// A recycled layer (package snapshot, recycle_linux.go) keeps the overlay's uuid from
		// its first mount, which mountinfo then shows; a fresh one's is the default.
		rest = strings.Replace(rest, ",uuid=on", "", 1)
		return fmt.Sprintf("M%s M%s %s %s", mnt(m[1]), mnt(m[2]), d, rest)
	})
	s = runNSInode.ReplaceAllStringFunc(s, func(ns string) string {
		typ, _, _ := strings.Cut(ns, ":")
		if l, _ := os.Readlink("/proc/self/ns/" + typ); l == ns {
			return typ + ":[the test's]"
		}
		return typ + ":[another]"
	})
	s = runInitPID.ReplaceAllString(s, "${1}N)")
	s = runMountFD.ReplaceAllString(s, "${1}N,")
	return execNormFDs(s)
}

// compareRunPaths runs the same hako command with HAKO_RUN_PATH=go, then =c, then (if
// withDefault and the two agree) with none, and fails the test unless they give the same stdout,
// stderr and exit code after norm (nil: none). It returns the Go path's and the C path's results.
func (s *store) compareRunPaths(what string, withDefault bool, norm func(string) string, stdin []byte, env []string, args ...string) (result, result) {
	s.t.Helper()
	return s.comparePaths(what, runGoPath, runCPath, runUnsetName, withDefault, norm, stdin, env, args...)
}

// runHostNS is the test's own namespaces, as the probe takes them.
func runHostNS(t *testing.T) string {
	t.Helper()
	var w []string
	for _, n := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time"} {
		l, err := os.Readlink("/proc/self/ns/" + n)
		if err != nil {
			t.Fatal(err)
		}
		w = append(w, n+"="+l)
	}
	return strings.Join(w, " ")
}

// runPathsImage makes busybox:rp in s, on the Go path: busybox with a user u1000 (groups 1000
// and wheel), a directory /seed for a named volume to copy, and commands the kernel will not
// run: a script without #!, one whose interpreter is missing, a link to /proc/self/exe.
func runPathsImage(s *store) string {
	s.t.Helper()
	const image = "busybox:rp"
	if s.run("image", "inspect", image).code == 0 {
		return image
	}
	script := "echo 'u1000:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd; echo 'wheel:x:10:u1000' >>/etc/group; echo 'u1000:x:1000:' >>/etc/group; " +
		"mkdir -p /seed/sub && echo seeded >/seed/a && chown 1000:1000 /seed/sub && chmod 0750 /seed/sub; " +
		"printf 'echo hi\\n' >/bin/noshebang; printf '#!/nonexistent\\n' >/bin/badinterp; chmod +x /bin/noshebang /bin/badinterp; ln -s /proc/self/exe /bin/hijack; " +
		"mkdir -m 0700 /private"
	if r := s.runEnv(runGoPath, nil, "run", "--name", "mkrp", "busybox", "sh", "-c", script); r.code != 0 {
		s.t.Fatalf("make %s:\n%s", image, execShowResult(runGoPath, r))
	}
	s.ok("commit", "mkrp", image)
	s.ok("rm", "mkrp")
	return image
}

// runPathsKind is one kind of container of the equivalence test.
type runPathsKind struct {
	name  string
	flags []string
	image string   // "" for busybox
	env   []string // over the test's environment, for -e KEY without a value
}

// TestRunPathsEquivalence: for containers of every kind the C path takes, the probe prints the
// same on both paths, and with no HAKO_RUN_PATH.
func TestRunPathsEquivalence(t *testing.T) {
	s := runStore(t)
	buildInit(t) // --init's hako-init, next to hako
	start := time.Now()
	rp := runPathsImage(s)
	hostNS := runHostNS(t)
	dir := t.TempDir()
	data, ro := filepath.Join(dir, "data"), filepath.Join(dir, "ro")
	for _, d := range []string{data, ro} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "file"), []byte("host file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# a comment\nFROM_FILE=f\nSPACED=a b \nFROM_HOST_TOO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seccompFile := filepath.Join(dir, "seccomp.json")
	if err := os.WriteFile(seccompFile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW",
	"flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
	"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
		{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		{"names": ["unshare"], "action": "SCMP_ACT_ERRNO"},
		{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	kinds := []runPathsKind{
		{"dflt", nil, "", nil},
		{"hostname", []string{"-h", "boxy"}, "", nil},
		{"user-num", []string{"-u", "1000:1000"}, "", nil},
		{"user-nobody", []string{"-u", "nobody"}, "", nil},
		{"user-named", []string{"-u", "u1000"}, rp, nil},
		{"user-uid-only", []string{"-u", "1000"}, rp, nil},
		{"caps", []string{"--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-drop", "NET_RAW", "--cap-drop", "CHOWN"}, "", nil},
		{"cap-drop-all", []string{"--cap-drop", "ALL", "--cap-add", "KILL"}, "", nil},
		{"privileged", []string{"--privileged"}, "", nil},
		{"privileged-user", []string{"--privileged", "-u", "1000:1000"}, "", nil},
		{"privileged-ro", []string{"--privileged", "--read-only"}, "", nil},
		{"read-only", []string{"--read-only"}, "", nil},
		{"nnp", []string{"--security-opt", "no-new-privileges"}, "", nil},
		{"unconfined", []string{"--security-opt", "seccomp=unconfined"}, "", nil},
		{"seccomp-file", []string{"--security-opt", "seccomp=" + seccompFile}, "", nil},
		{"binds", []string{"-v", data + ":/data", "-v", ro + ":/ro:ro", "--mount", "type=bind,source=" + data + "/file,target=/etc/bound,readonly"}, "", nil},
		{"tmpfs", []string{"--tmpfs", "/scratch", "--tmpfs", "/scratch2:size=1m,mode=0700", "--mount", "type=tmpfs,target=/var/t3"}, "", nil},
		{"volume", []string{"-v", "rpvol:/seed", "--mount", "type=volume,source=rpvol2,target=/vol2"}, rp, nil},
		{"init", []string{"--init"}, "", nil},
		{"network-none", []string{"--network", "none"}, "", nil},
		{"network-host", []string{"--network", "host", "-h", "boxy"}, "", nil},
		{"ulimit", []string{"--ulimit", "nofile=512:1024", "--ulimit", "nproc=100:200", "--ulimit", "core=1024:2048"}, "", nil},
		{"resources", []string{"--memory", "64m", "--pids-limit", "50", "--cpus", "0.5"}, "", nil},
		{"workdir-missing", []string{"-w", "/does/not/exist"}, "", nil},
		{"workdir-missing-ro-user", []string{"-w", "/does/not/exist", "--read-only", "-u", "1000:1000"}, "", nil},
		{"env", []string{"-e", "A=1", "-e", "HOME=/elsewhere", "-e", "PATH=/bin:/nonexistent", "-e", "ML=one\ntwo", "-e", "EMPTY=", "-e", "FROM_HOST", "-e", "NOT_SET", "--env-file", envFile},
			"", []string{"FROM_HOST=from the host", "FROM_HOST_TOO=too"}},
		{"interactive", []string{"-i"}, "", nil},
		{"combo", []string{"--read-only", "--tmpfs", "/tmp", "-u", "1000:1000", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
			"-w", "/tmp/w", "-h", "combo", "--ulimit", "nofile=64:64", "--pids-limit", "20", "-e", "X=y"}, "", nil},
		{"combo-host", []string{"--network", "host", "--init", "--privileged", "-v", data + ":/data:ro", "--memory", "32m", "-w", "/data"}, "", nil},
	}
	// An image whose mount destinations are symlinks inside it (as systemd's images have
	// /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf): libcontainer follows them
	// inside the root and mounts on their targets, created where missing.
	link := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	importVariant(t, s, "busybox:links-etc", nil, []*tar.Header{
		link("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"),
		{Name: "etc/hosts.real", Typeflag: tar.TypeReg, Mode: 0o644},
		link("etc/hosts", "hosts.real"),
		link("etc/hostname", "/run/hostname"),
	})
	importVariant(t, s, "busybox:links-dirs", nil, []*tar.Header{
		{Name: "real", Typeflag: tar.TypeDir},
		{Name: "real/dir", Typeflag: tar.TypeDir},
		link("data", "/real/dir"),
		link("scratch", "real/scratch"),
		// Missing mountpoints several components deep, through a symlink and through a
		// dangling one: created one component at a time from the deepest ancestor there.
		link("deep", "real/dir"),
		link("dangle", "/missing/y"),
	})
	kinds = append(kinds,
		runPathsKind{"symlinked-etc", nil, "busybox:links-etc", nil},
		runPathsKind{"symlinked-dsts", []string{"-v", data + ":/data", "--tmpfs", "/scratch"}, "busybox:links-dirs", nil},
		runPathsKind{"symlinked-deep", []string{"-v", data + ":/deep/a/b", "-v", data + ":/dangle/x/z:ro", "--tmpfs", "/deep/t/u"}, "busybox:links-dirs", nil},
	)
	stdin := []byte("stdin line 1\nstdin line 2, no newline at the end")
	t.Run("kinds", func(t *testing.T) {
		for _, k := range kinds {
			t.Run(k.name, func(t *testing.T) {
				t.Parallel()
				s := &store{t: t, root: s.root}
				image := k.image
				if image == "" {
					image = "busybox"
				}
				args := append(append([]string{"run", "--rm", "--name", "rp-" + k.name}, k.flags...), image, "sh", "-c", runProbe, "sh", hostNS)
				what := fmt.Sprintf("kind %s (%s %s)", k.name, strings.Join(k.flags, " "), k.image)
				g, _ := s.compareRunPaths(what, true, runNorm, stdin, k.env, args...)
				if g.code != 0 || !strings.HasSuffix(g.stdout, "--- end\n") || !runOnlyWarnings(g.stderr) {
					t.Errorf("%s: the probe failed on the Go path:\n%s", what, execShowResult(runGoPath, g))
				}
				if strings.Contains(g.stdout, "HAKO_") {
					t.Errorf("%s: hako's own environment reached the container:\n%s", what, g.stdout)
				}
				if k.name == "dflt" && testing.Verbose() {
					t.Logf("%s, the Go path's probe (normalized):\n%s", what, g.stdout)
				}
			})
		}
	})
	if got := s.ok("ps", "-aq"); got != "" {
		t.Errorf("the --rm runs left containers: %q", got)
	}
	t.Logf("%d kinds: %v", len(kinds), time.Since(start))
}

// runOnlyWarnings: stderr holds nothing but hako's warnings (such as --privileged's).
func runOnlyWarnings(stderr string) bool {
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "WARNING: ") {
			return false
		}
	}
	return true
}

// runLeftovers lists what a container of s may leave behind: containers, their runtime state
// and directories, empty container cgroups (other stores' containers, of other tests running on
// the machine now, have processes in theirs; a leftover has none), the store's monitors and any
// process that names the store or is the C path's (__faststart) under one that does.
func runLeftovers(s *store) string {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "ps -aq: %q\n", s.ok("ps", "-aq", "--no-trunc"))
	for _, pat := range []string{"runtime/*", "containers/*"} {
		m, _ := filepath.Glob(filepath.Join(s.root, pat))
		for _, p := range m {
			if filepath.Base(p) == ".spare" { // made ahead for the next run
				continue
			}
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				fmt.Fprintln(&b, "dir", p)
			}
		}
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/hako/*")
	for _, p := range cg {
		if !runHexID.MatchString(filepath.Base(p)) || len(filepath.Base(p)) != 64 {
			continue
		}
		if procs, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err == nil && len(procs) == 0 {
			fmt.Fprintln(&b, "empty cgroup", p)
		}
	}
	for _, p := range hostProcesses() {
		if strings.Contains(p.cmdline, s.root) || (strings.Contains(p.cmdline, "__faststart") && strings.Contains(procCmdline(p.ppid), s.root)) {
			fmt.Fprintf(&b, "process %s: %s\n", p.pid, p.cmdline)
		}
	}
	return b.String()
}

// runWaitLeftovers waits (5 s at most) until runLeftovers has nothing that want has not: a
// monitor exits just after its hako does. (What went away since, another test's container on
// the machine, does not count.) It returns want then, or what it found.
func runWaitLeftovers(s *store, want string) string {
	s.t.Helper()
	had := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		had[l] = true
	}
	added := func(got string) bool {
		for _, l := range strings.Split(got, "\n") {
			if !had[l] {
				return true
			}
		}
		return false
	}
	got := runLeftovers(s)
	for deadline := time.Now().Add(5 * time.Second); added(got) && time.Now().Before(deadline); got = runLeftovers(s) {
		time.Sleep(50 * time.Millisecond)
	}
	if !added(got) {
		return want
	}
	return got
}

// TestRunPathsErrors: a command that cannot run, a bad working directory or user: the same
// stderr and exit code on both paths, and nothing left behind.
func TestRunPathsErrors(t *testing.T) {
	s := runStore(t)
	rp := runPathsImage(s) // and the default seccomp filter cached
	before := runLeftovers(s)
	for _, tc := range []struct {
		flags []string
		args  []string // after the image
		code  int      // the Go path's
	}{
		{nil, []string{"nosuchcmd"}, 127},
		{nil, []string{"/nosuch"}, 127},
		{nil, []string{"./nosuch"}, 127},
		{nil, []string{"nosuch/cmd"}, 127},
		{nil, []string{"/etc/passwd"}, 126},
		{nil, []string{"/etc"}, 126},
		{nil, []string{"/dev/null"}, 126},
		// Found and executable, but the kernel will not run them: libcontainer's init learns of
		// it only after its sync pipe closed, and tells the monitor on its exec report
		// (internal/runtime/execreport_linux.go) instead of printing it on the container's
		// stderr and exiting 255.
		{nil, []string{"/bin/noshebang"}, 126},
		{nil, []string{"/bin/badinterp"}, 127},
		{[]string{"-u", "1000:1000"}, []string{"/private/x"}, 127},
		{[]string{"-e", "PATH=/etc"}, []string{"passwd"}, 127}, // LookPath skips what is not executable
		{[]string{"-e", "PATH="}, []string{"sh"}, 127},
		{[]string{"-w", "/etc/passwd"}, []string{"true"}, 125},
		{[]string{"-w", "/etc/passwd/x"}, []string{"true"}, 125},
		// libcontainer changes directory before it drops root (and again after, ignoring EACCES).
		{[]string{"-u", "1000:1000", "-w", "/private"}, []string{"true"}, 0},
		{[]string{"-u", "1000:1000", "-w", "/private/sub"}, []string{"true"}, 0},
		{[]string{"-u", "nosuchuser"}, []string{"true"}, 125},
		{[]string{"-u", "1000:nosuchgroup"}, []string{"true"}, 125},
		{[]string{"--tmpfs", "/x:size=bogus"}, []string{"true"}, 125},
		{[]string{"--ulimit", "nofile=1048577:1048577"}, []string{"true"}, 125},
		{nil, []string{"sh", "-c", "exit 3"}, 3},
		{nil, []string{"sh", "-c", "echo out; echo err >&2; exit 255"}, 255},
		{nil, []string{"sh", "-c", "echo 'exec /bin/noshebang: exec format error' >&2; exit 255"}, 255},
		{nil, []string{"sh", "-c", "kill -TERM $$; kill -9 $$; echo survived"}, 0},
		{[]string{"--init"}, []string{"sh", "-c", "kill -TERM $$"}, 143},
		{[]string{"--init"}, []string{"nosuchcmd"}, 127},
	} {
		what := "run --rm " + strings.Join(append(append(append([]string(nil), tc.flags...), rp), tc.args...), " ")
		args := append(append(append([]string{"run", "--rm"}, tc.flags...), rp), tc.args...)
		g, _ := s.compareRunPaths(what, false, runNorm, nil, nil, args...)
		if g.code != tc.code {
			t.Errorf("%s on the Go path: exit %d, want %d:\n%s", what, g.code, tc.code, execShowResult(runGoPath, g))
		}
		underInit := len(tc.flags) > 0 && tc.flags[0] == "--init" // hako-init's own words
		if (g.code == 125 || g.code == 126 || g.code == 127) && !underInit && (strings.Count(g.stderr, "\n") != 1 || !strings.HasPrefix(g.stderr, "Error: ")) {
			t.Errorf("%s on the Go path: stderr %q, want one line Error: ...", what, g.stderr)
		}
		if after := runWaitLeftovers(s, before); after != before {
			t.Errorf("%s left something behind:\nbefore:\n%s\nafter:\n%s", what, before, after)
			before = after
		}
	}

	// A link to /proc/self/exe (CVE-2019-5736) finds the sealed copy of the binary that started
	// the init: hako-monitor, which a forked run's child executes (runfork.c) and which stays as
	// the run's monitor, statically linked (scripts/build.sh). It runs, in the container and
	// with nothing but the container's privileges (without a monitor's arguments it says how
	// it is used). That it cannot be written through is TestSecurity's (security_test.go).
	for _, path := range [][]string{runGoPath, runCPath} {
		r := s.runEnv(path, nil, "run", "--rm", rp, "/bin/hijack", "version")
		if r.code != 125 || !strings.Contains(r.stderr, "usage: hako-monitor --root ROOT") {
			t.Errorf("run --rm %s /bin/hijack version: want the sealed hako-monitor's usage:\n%s", rp, execShowResult(path, r))
		}
	}
	// Without --rm: the failed container stays, created or exited, the same on both paths.
	for _, path := range [][]string{runGoPath, runCPath} {
		name := "failed-" + strings.TrimPrefix(path[0], "HAKO_RUN_PATH=")
		r := s.runEnv(path, nil, "run", "--name", name, "busybox", "nosuchcmd")
		if r.code != 127 {
			t.Errorf("%s run --name %s busybox nosuchcmd:\n%s", path[0], name, execShowResult(path, r))
		}
	}
	g := s.ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}} {{.State.Error}}", "failed-go")
	c := s.ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}} {{.State.Error}}", "failed-c")
	if runNorm(g) != runNorm(c) {
		t.Errorf("inspect of a container whose command was not found: Go path %q, C path %q", g, c)
	}
	s.ok("rm", "failed-go", "failed-c")
	if after := runWaitLeftovers(s, before); after != before {
		t.Errorf("rm of the failed containers left something behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// runNotTakenRE is the C path's refusal under HAKO_RUN_PATH=c: one line that says why.
var runNotTakenRE = regexp.MustCompile(`^Error: start container [0-9a-f]{64}: HAKO_RUN_PATH=c: the C start path does not take this container: [^\n]+\n$`)

// runTookC says whether a run with HAKO_DEBUG=1 shows the monitor's phase line of a C start
// (the monitor's stderr is hako's then: engine.SpawnMonitor).
func runTookC(r result) bool { return strings.Contains(r.stderr, " rt: C start command executed\n") }

// runTookGo says whether it shows libcontainer's start.
func runTookGo(r result) bool { return strings.Contains(r.stderr, " rt: run\n") }

// TestRunPathsTaken: the C path refuses, under HAKO_RUN_PATH=c, what it hands to libcontainer,
// saying why; with no HAKO_RUN_PATH it is the path taken once the seccomp filter is cached.
func TestRunPathsTaken(t *testing.T) {
	s := usernsStore(t)
	debug := []string{"HAKO_DEBUG=1"}
	dir := t.TempDir()
	seccompFile := filepath.Join(dir, "seccomp.json")
	if err := os.WriteFile(seccompFile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}

	before := runLeftovers(s)

	// A fresh store: the first container of the default seccomp configuration takes the Go
	// path (and caches its filter), the next one the C path; HAKO_RUN_PATH=go, the Go path.
	run := func(env []string, args ...string) result {
		t.Helper()
		r := s.runEnv(append(append([]string(nil), debug...), env...), nil, append([]string{"run", "--rm"}, args...)...)
		if r.code != 0 || r.stdout != "ok\n" {
			t.Errorf("%s run --rm %s:\n%s", strings.Join(env, " "), strings.Join(args, " "), execShowResult(env, r))
		}
		return r
	}
	echo := []string{"busybox", "echo", "ok"}
	if r := run(nil, echo...); !runTookGo(r) || runTookC(r) {
		t.Errorf("the first container of a fresh store: want the Go path:\n%s", execShowResult(runUnsetName, r))
	}
	for i := 0; i < 2; i++ {
		if r := run(nil, echo...); !runTookC(r) || runTookGo(r) {
			t.Errorf("a container whose seccomp filter is cached: want the C path:\n%s", execShowResult(runUnsetName, r))
		}
	}
	if r := run(runGoPath, echo...); !runTookGo(r) || runTookC(r) {
		t.Errorf("HAKO_RUN_PATH=go: want the Go path:\n%s", execShowResult(runGoPath, r))
	}
	if r := run(runCPath, echo...); !runTookC(r) || runTookGo(r) {
		t.Errorf("HAKO_RUN_PATH=c: want the C path:\n%s", execShowResult(runCPath, r))
	}
	// No seccomp filter, nothing to cache: the C path at once.
	if r := run(nil, append([]string{"--security-opt", "seccomp=unconfined"}, echo...)...); !runTookC(r) {
		t.Errorf("seccomp=unconfined in a fresh store: want the C path:\n%s", execShowResult(runUnsetName, r))
	}
	// A seccomp configuration not seen yet: refused under =c, the Go path without it, then C.
	sc := []string{"--security-opt", "seccomp=" + seccompFile}
	if r := s.runEnv(runCPath, nil, append(append([]string{"run", "--rm"}, sc...), echo...)...); r.code != 125 || r.stdout != "" || !runNotTakenRE.MatchString(r.stderr) || !strings.Contains(r.stderr, "not cached") {
		t.Errorf("HAKO_RUN_PATH=c, a seccomp profile not cached yet: want exit 125 and one line saying why:\n%s", execShowResult(runCPath, r))
	} else {
		t.Logf("a seccomp profile not cached yet: %s", strings.TrimSpace(r.stderr))
	}
	if r := run(nil, append(sc, echo...)...); !runTookGo(r) {
		t.Errorf("a seccomp profile not cached yet: want the Go path:\n%s", execShowResult(runUnsetName, r))
	}
	if r := run(nil, append(sc, echo...)...); !runTookC(r) {
		t.Errorf("a seccomp profile cached by the run before: want the C path:\n%s", execShowResult(runUnsetName, r))
	}

	// What the C path hands over: a terminal, a user namespace, a bind mount under /proc or
	// /sys. (hako has no hooks, sysctls, AppArmor or SELinux options.)
	for _, tc := range []struct {
		flags []string
		why   string
		code  int // with no HAKO_RUN_PATH
	}{
		{[]string{"-t"}, "a terminal", 0},
		{[]string{"-d", "-t"}, "a terminal", 0},
		{[]string{"--uidmap", usernsMap, "--gidmap", usernsMap}, "a user namespace", 0},
		{[]string{"-v", dir + ":/proc/hakotest"}, "a bind mount under /proc or /sys", 125},
		{[]string{"-v", dir + ":/sys/hakotest"}, "a bind mount under /proc or /sys", -1},
	} {
		args := append(append([]string{"run", "--rm"}, tc.flags...), "busybox", "true")
		what := strings.Join(args, " ")
		r := s.runEnv(runCPath, nil, args...)
		if r.code != 125 || r.stdout != "" || !runNotTakenRE.MatchString(r.stderr) || !strings.HasSuffix(r.stderr, ": "+tc.why+"\n") {
			t.Errorf("%s: want exit 125 and one line saying the C path does not take it (%s):\n%s", what, tc.why, execShowResult(runCPath, r))
		} else {
			t.Logf("%s: %s", what, strings.TrimSpace(r.stderr))
		}
		d := s.runEnv(debug, nil, args...)
		if runTookC(d) || (tc.code >= 0 && d.code != tc.code) {
			t.Errorf("%s with no HAKO_RUN_PATH: want the Go path and exit %d:\n%s", what, tc.code, execShowResult(runUnsetName, d))
		}
		if tc.code != 0 {
			g, n := s.runEnv(runGoPath, nil, args...), s.runEnv(nil, nil, args...)
			g.stderr, n.stderr = runNorm(g.stderr), runNorm(n.stderr)
			execDiffer(t, what, runGoPath, g, runUnsetName, n)
		}
	}
	if after := runWaitLeftovers(s, before); after != before {
		t.Errorf("the --rm runs left something behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestRunPathsLifecycle: a container the C path started is a container like any other: exec
// (both exec paths, the same as in one the Go path started), logs, inspect, pause, kill, stop,
// start, restart, wait, rm -f, an OOM kill; and run --rm leaves nothing behind, 20 times over.
func TestRunPathsLifecycle(t *testing.T) {
	s := runStore(t)
	if r := s.runEnv(runGoPath, nil, "run", "--rm", "busybox", "true"); r.code != 0 {
		t.Fatalf("warm-up:\n%s", execShowResult(runGoPath, r))
	}
	inspect := func(ref string) (pid int, running bool, status string) {
		t.Helper()
		f := strings.Fields(s.ok("inspect", "--format", "{{.State.Pid}} {{.State.Running}} {{.State.Status}}", ref))
		pid, _ = strconv.Atoi(f[0])
		return pid, f[1] == "true", f[2]
	}
	cOK := func(what string, env []string, args ...string) string {
		t.Helper()
		r := s.runEnv(env, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s: %s %s:\n%s", what, strings.Join(env, " "), strings.Join(args, " "), execShowResult(env, r))
		}
		return r.stdout
	}
	// checkInit: inspect's PID is the container's init, running sh, in the container's cgroup,
	// its own PID namespace, and a child of a monitor of this store.
	checkInit := func(what, id string) int {
		t.Helper()
		pid, running, status := inspect(id)
		if !running || status != "running" || pid <= 0 {
			t.Fatalf("%s: inspect says pid %d running %v status %s", what, pid, running, status)
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		self, _ := os.Readlink("/proc/self/ns/pid")
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		var ppid int
		if i := strings.LastIndexByte(string(st), ')'); i > 0 {
			if f := strings.Fields(string(st[i+1:])); len(f) > 1 {
				ppid, _ = strconv.Atoi(f[1])
			}
		}
		locks := monitorLocks(s.root)[ppid] // the parent is the container's monitor
		if !strings.HasPrefix(string(cmd), "sh\x00") || !strings.Contains(string(cg), "/hako/"+id) || ns == self || !slices.Contains(locks, id) {
			t.Errorf("%s: inspect's PID %d: cmdline %q, cgroup %q, pid ns %s (the test's %s), parent %d holding the monitor locks of %q", what, pid, cmd, cg, ns, self, ppid, locks)
		}
		return pid
	}
	logsHave := func(what, ref, want string, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out := s.ok("logs", ref)
			if strings.Count(out, want) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: logs %s have %d of %q, want %d:\n%s", what, ref, strings.Count(out, want), want, n, out)
			}
		}
	}

	// hasProfile waits for the monitor to write the container's exec profile, as
	// waitExecProfile does, but says once that it did not instead of stopping the test: without
	// it, execs take the Go path and HAKO_EXEC_PATH=c refuses them.
	noProfile := false
	hasProfile := func(what, id string) bool {
		t.Helper()
		profile := filepath.Join(s.root, "runtime", id, "hako-exec.conf")
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(profile); err == nil {
				return true
			}
			if time.Now().After(deadline) {
				if !noProfile {
					t.Errorf("%s: no exec profile 5 s after the start (%s): execs of this container take the Go path", what, profile)
				}
				noProfile = true
				return false
			}
		}
	}

	script := `trap 'echo got-usr1' USR1; trap 'echo got-term; exit 0' TERM; echo started; while :; do sleep 0.1; done`
	id := strings.TrimSpace(cOK("run -d", runCPath, "run", "-d", "--name", "box", "busybox", "sh", "-c", script))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	goID := strings.TrimSpace(cOK("run -d", runGoPath, "run", "-d", "--name", "boxgo", "busybox", "sh", "-c", script))
	logsHave("run -d", "box", "started", 1)
	pid := checkInit("run -d", id)

	// exec on both exec paths, and the same as in the container the Go path started.
	s.waitExecProfile(goID)
	execEnvs := [][]string{execGoPath}
	var gp result
	if hasProfile("run -d", id) {
		execEnvs = append(execEnvs, execCPath)
		gp = execProbeBoth(s, "exec in a container the C path started", "box", id, execPathsVariants[0])
	} else {
		gp = s.runEnv(execGoPath, []byte("stdin line 1\nstdin line 2, no newline at the end"), "exec", "box", "sh", "-c", execProbe, "sh", id)
	}
	ggp := execProbeBoth(s, "exec in a container the Go path started", "boxgo", goID, execPathsVariants[0])
	execDiffer(t, "exec probe (HAKO_EXEC_PATH=go) in the containers each run path started", runGoPath, result{stdout: runNorm(ggp.stdout), stderr: ggp.stderr, code: ggp.code},
		runCPath, result{stdout: runNorm(gp.stdout), stderr: gp.stderr, code: gp.code})
	for _, env := range execEnvs {
		if out := cOK("exec", env, "exec", "box", "sh", "-c", "echo $$ $PPID; cat /proc/1/cmdline | tr '\\0' ' '"); !regexp.MustCompile(`^\d+ 0\nsh -c .*\n?$`).MatchString(out) {
			t.Errorf("%s exec: %q", env[0], out)
		}
	}

	// pause, unpause; kill -s.
	s.ok("pause", "box")
	if _, running, status := inspect("box"); status != "paused" || !running {
		t.Errorf("paused: inspect says status %s running %v", status, running)
	}
	if v := cgroupValue(t, id, "freezer", "freezer.state"); v != "FROZEN" {
		t.Errorf("paused: freezer.state %s", v)
	}
	s.ok("unpause", "box")
	for _, env := range execEnvs {
		cOK("unpaused", env, "exec", "box", "true")
	}
	s.ok("kill", "-s", "USR1", "box")
	logsHave("kill -s USR1", "box", "got-usr1", 1)
	if p, _, _ := inspect("box"); p != pid {
		t.Errorf("after kill -s USR1: pid %d, was %d", p, pid)
	}

	// stop: TERM, which the trap answers at once with exit 0.
	start := time.Now()
	s.ok("stop", "-t", "10", "box")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop of a container that exits on TERM took %v", d)
	}
	if got := s.ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}", "box"); got != "exited 0 false\n" {
		t.Errorf("stopped: inspect says %q", got)
	}
	logsHave("stop", "box", "got-term", 1)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("stopped: its init %d is still there", pid)
	}

	// start again and restart, on the C path.
	cOK("start", runCPath, "start", "box")
	logsHave("start", "box", "started", 2)
	pid2 := checkInit("started again", id)
	if pid2 == pid {
		t.Errorf("started again with the same PID %d", pid)
	}
	if hasProfile("started again", id) {
		cOK("started again", execCPath, "exec", "box", "true")
		execProbeBoth(s, "exec in a container the C path started again", "box", id, execPathsVariants[0])
	}
	cOK("started again", execGoPath, "exec", "box", "true")
	cOK("restart", runCPath, "restart", "-t", "5", "box")
	logsHave("restart", "box", "started", 3)
	pid3 := checkInit("restarted", id)
	if pid3 == pid2 {
		t.Errorf("restarted with the same PID %d", pid2)
	}
	if hasProfile("restarted", id) {
		cOK("restarted", execCPath, "exec", "box", "true")
	}
	cOK("restarted", execGoPath, "exec", "box", "true")

	// --stop-timeout: sh ignores TERM, stop kills it after 1 s.
	cOK("run -d --stop-timeout 1", runCPath, "run", "-d", "--name", "stubborn", "--stop-timeout", "1", "busybox", "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
	logsHave("run -d --stop-timeout 1", "stubborn", "ready", 1)
	start = time.Now()
	s.ok("stop", "stubborn")
	if d := time.Since(start); d < time.Second || d > 8*time.Second {
		t.Errorf("stop of a container that ignores TERM, --stop-timeout 1: %v", d)
	}
	if got := s.ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "stubborn"); got != "exited 137\n" {
		t.Errorf("stopped after its timeout: inspect says %q", got)
	}

	// wait: the exit code.
	cOK("run -d", runCPath, "run", "-d", "--name", "waiter", "busybox", "sh", "-c", "sleep 0.5; exit 7")
	if out := s.ok("wait", "waiter"); out != "7\n" {
		t.Errorf("wait: %q", out)
	}

	// rm -f of a running container: gone, with its cgroups and processes.
	s.ok("rm", "-f", "box")
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid3)); err == nil {
		t.Errorf("rm -f: its init %d is still there", pid3)
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/hako/" + id)
	if st, _ := os.Stat(filepath.Join(s.root, "runtime", id)); len(cg) > 0 || st != nil {
		t.Errorf("rm -f left cgroups %v or its runtime state (%v)", cg, st)
	}
	s.ok("rm", "-f", "boxgo", "stubborn", "waiter")

	// An OOM kill.
	r := s.runEnv(runCPath, nil, "run", "--name", "hog", "--memory", "16m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done")
	if r.code != 137 {
		t.Errorf("run over --memory on the C path:\n%s", execShowResult(runCPath, r))
	}
	if got := s.ok("inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}", "hog"); got != "true 137 exited\n" {
		t.Errorf("inspect after an OOM kill: %q", got)
	}
	s.ok("rm", "hog")
	r = s.runEnv(runCPath, nil, "run", "--rm", "--memory", "16m", "busybox", "tail", "/dev/zero")
	if r.code != 137 {
		t.Errorf("run --rm tail /dev/zero over --memory on the C path:\n%s", execShowResult(runCPath, r))
	}

	// run --rm leaves nothing behind, 20 times in a row.
	before := runLeftovers(s)
	start = time.Now()
	var ids []string
	for i := 0; i < 20; i++ {
		r := s.runEnv(runCPath, nil, "run", "--rm", "busybox", "sh", "-c", "sleep 0.01 & echo $$; sed -n 's,^.*:/hako/,,p' /proc/self/cgroup | head -n 1")
		f := strings.Fields(r.stdout)
		if r.code != 0 || len(f) != 2 || f[0] != "1" || len(f[1]) != 64 || r.stderr != "" {
			t.Fatalf("HAKO_RUN_PATH=c run --rm, run %d:\n%s", i+1, execShowResult(runCPath, r))
		}
		ids = append(ids, f[1])
	}
	t.Logf("20 run --rm on the C path: %v", time.Since(start))
	if after := runWaitLeftovers(s, before); after != before {
		t.Errorf("20 run --rm on the C path left something behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Their cgroups (with any process still in them) and state, by ID.
	for _, id := range ids {
		left, _ := filepath.Glob("/sys/fs/cgroup/*/hako/" + id)
		for _, p := range []string{filepath.Join(s.root, "runtime", id), filepath.Join(s.root, "containers", id)} {
			if _, err := os.Stat(p); err == nil {
				left = append(left, p)
			}
		}
		if len(left) > 0 {
			procs, _ := os.ReadFile("/sys/fs/cgroup/pids/hako/" + id + "/cgroup.procs")
			t.Errorf("run --rm on the C path left %v (processes: %q)", left, procs)
		}
	}
}

// forEachRunPath runs test as a subtest per start path, "go" and "c", with HAKO_RUN_PATH set to
// it for every hako command the test runs (the security tests: security_test.go).
func forEachRunPath(t *testing.T, test func(t *testing.T)) {
	for _, path := range []string{"go", "c"} {
		t.Run(path, func(t *testing.T) {
			t.Setenv("HAKO_RUN_PATH", path)
			test(t)
		})
	}
}

// runPathStore is runStore whose seccomp cache holds the default configuration's filter (filled
// by a run on the Go path), so that under HAKO_RUN_PATH=c the C path takes busybox's containers.
func runPathStore(t *testing.T) *store {
	t.Helper()
	s := runStore(t)
	if os.Getenv("HAKO_RUN_PATH") == "c" {
		if r := s.runEnv(runGoPath, nil, "run", "--rm", "busybox", "true"); r.code != 0 {
			t.Fatalf("warm the seccomp cache:\n%s", execShowResult(runGoPath, r))
		}
	}
	return s
}

// runPathTook fails the test if, under HAKO_RUN_PATH=c, r is the C path's refusal to take the
// container: the test would then test nothing of the C path.
func runPathTook(t *testing.T, r result) {
	t.Helper()
	if os.Getenv("HAKO_RUN_PATH") == "c" && strings.Contains(r.stderr, "the C start path does not take this container") {
		t.Fatalf("HAKO_RUN_PATH=c: the C path does not take the container: %+v", r)
	}
}

// TestRunPathsBuild: a build's RUN steps take the C start path once the store has the seccomp
// filter cached (by a container's run), and make the same image as on libcontainer's path:
// the steps' view of the container, a secret, a cache mount and a bind of the context, a user.
func TestRunPathsBuild(t *testing.T) {
	s := runStore(t)
	s.ok("run", "--rm", "busybox", "true") // the monitor caches the default filter
	secret := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	probe := `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]*|NoNewPrivs|Seccomp):' /proc/self/status; hostname; pwd; umask; ` +
		`sed -E 's/^[0-9]+ [0-9]+ [0-9]+:[0-9]+ //; s/(shared|master):[0-9]+//g; s@/[^ ]*/(containers|snapshots|tmp|build)[^ ]*@PATH@g' /proc/self/mountinfo; ls -la /dev | sed 's/ [A-Z][a-z][a-z] [ 0-9]* [0-9:]* / DATE /'`
	ctx := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"RUN (" + probe + ") > /probe-root 2>&1\n" +
			"RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-len\n" +
			"RUN --mount=type=cache,target=/cache echo x >> /cache/f && wc -l < /cache/f > /cache-lines\n" +
			"RUN --mount=type=bind,source=.,target=/ctx ls /ctx > /ctx-list\n" +
			"RUN echo u:x:1000:1000::/:/bin/sh >> /etc/passwd\n" +
			"USER u\n" +
			"RUN (" + probe + ") > /tmp/probe-user 2>&1\n",
	})
	out := map[string]string{}
	for _, path := range []string{"go", "c"} {
		cmd := exec.Command(hakoBin, "--root", s.root, "build", "--no-cache", "--progress", "plain",
			"--secret", "id=tok,src="+secret, "-t", "probe-"+path, ctx)
		cmd.Env = append(os.Environ(), "HAKO_RUN_PATH="+path, "HAKO_DEBUG=1")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s build: %v\n%s", path, err, b)
		}
		// Under HAKO_RUN_PATH=c a step the C path handed over would fail the build; the
		// phase lines (mixed with the progress on stderr) show which path ran.
		took := strings.Count(string(b), "rt: C start command executed")
		if path == "c" && took == 0 || path == "go" && took != 0 {
			t.Errorf("%s build: %d RUN steps on the C path", path, took)
		}
		out[path] = s.ok("run", "--rm", "probe-"+path, "sh", "-c", "cat /probe-root /secret-len /cache-lines /ctx-list /tmp/probe-user")
	}
	if out["go"] != out["c"] {
		t.Errorf("the images differ:\n%s", execLineDiff(out["go"], out["c"]))
	}
	for _, want := range []string{"CapBnd:", "\n6\n", "Dockerfile\n", "Uid:\t1000"} {
		if !strings.Contains(out["c"], want) {
			t.Errorf("the probe lacks %q:\n%s", want, out["c"])
		}
	}
}
