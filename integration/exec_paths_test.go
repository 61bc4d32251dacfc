package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The differential tests of `hako exec`'s two paths (docs/exec.md): the C fast path
// (internal/fastexec) and the Go/libcontainer path must give the same stdout, stderr and exit
// code for everything the C path takes, the C path must really be taken for that, and it must
// hand everything else over (with HAKO_EXEC_PATH=c: refuse it, saying so).

var (
	execGoPath = []string{"HAKO_EXEC_PATH=go"}
	execCPath  = []string{"HAKO_EXEC_PATH=c"}
)

// runEnv runs hako as runIn does, with env over the test's environment (from which any
// HAKO_EXEC_PATH, HAKO_RUN_PATH and HAKO_DEBUG are removed, so that nil env means "hako
// chooses"). stdin, when not nil, is a regular file holding it, and stdout and stderr are regular
// files too: a path that handed the host's own descriptors to the container would show them as
// files there, where the Go path shows its pipes. A run that takes longer than runEnvTimeout is
// killed and reported (code -1), so that an exec stuck in a frozen cgroup fails the test instead
// of hanging it.
func (s *store) runEnv(env []string, stdin []byte, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runEnvTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hakoBin, append([]string{"--root", s.root}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKO_EXEC_PATH=") && !strings.HasPrefix(kv, "HAKO_DEBUG=") && !strings.HasPrefix(kv, "HAKO_RUN_PATH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 2 * time.Second
	dir := s.t.TempDir()
	if stdin != nil {
		in := filepath.Join(dir, "stdin")
		if err := os.WriteFile(in, stdin, 0o644); err != nil {
			s.t.Fatal(err)
		}
		f, err := os.Open(in)
		if err != nil {
			s.t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	outs := make([]*os.File, 2)
	for i, name := range []string{"stdout", "stderr"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			s.t.Fatal(err)
		}
		defer f.Close()
		outs[i] = f
	}
	cmd.Stdout, cmd.Stderr = outs[0], outs[1]
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		code = -1
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		s.t.Fatalf("hako %v: %v", args, err)
	}
	o, _ := os.ReadFile(outs[0].Name())
	e, _ := os.ReadFile(outs[1].Name())
	if code == -1 {
		e = append(e, fmt.Sprintf("[TEST: killed after %v: %s %s]\n", runEnvTimeout, strings.Join(env, " "), strings.Join(args, " "))...)
		runEnvMu.Lock()
		runEnvHung[s.t]++
		n := runEnvHung[s.t]
		runEnvMu.Unlock()
		if n > 4 {
			s.t.Fatalf("%d hako commands hung, the last one: %s %s\n%s", n, strings.Join(env, " "), strings.Join(args, " "), e)
		}
	}
	return result{string(o), string(e), code}
}

// runEnvTimeout is how long runEnv lets hako run: far more than any exec of these tests takes.
// runEnvHung counts the commands it had to kill, per test: a test stops at the fifth rather than
// wait for every exec of a C path that hangs.
// (runEnvTimeout is changed only while no subtest runs in parallel.)
var (
	runEnvTimeout = 20 * time.Second
	runEnvMu      sync.Mutex
	runEnvHung    = map[*testing.T]int{}
)

func execEnvName(env []string) string {
	if len(env) == 0 {
		return "HAKO_EXEC_PATH unset"
	}
	return strings.Join(env, " ")
}

func execShowResult(env []string, r result) string {
	return fmt.Sprintf("=== %s: exit %d\n--- stdout:\n%s\n--- stderr:\n%s\n", execEnvName(env), r.code, r.stdout, r.stderr)
}

// execLineDiff is a small line diff (longest common subsequence): "-" lines only in a, "+" lines
// only in b, "  " lines in both.
func execLineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var d strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			fmt.Fprintf(&d, "  %s\n", x[i])
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&d, "+ %s\n", y[j])
			j++
		default:
			fmt.Fprintf(&d, "- %s\n", x[i])
			i++
		}
	}
	return d.String()
}

// execDiffer reports a difference between two runs as a diff-able pair: both results whole,
// then the line diff of what differs.
func execDiffer(t *testing.T, what string, envA []string, a result, envB []string, b result) bool {
	t.Helper()
	if a == b {
		return false
	}
	var d strings.Builder
	fmt.Fprintf(&d, "%s: %s and %s differ\n", what, execEnvName(envA), execEnvName(envB))
	d.WriteString(execShowResult(envA, a))
	d.WriteString(execShowResult(envB, b))
	if a.code != b.code {
		fmt.Fprintf(&d, "=== exit code: %d (%s) vs %d (%s)\n", a.code, execEnvName(envA), b.code, execEnvName(envB))
	}
	if a.stdout != b.stdout && a.stdout != "" && b.stdout != "" { // (one empty: the pair says it all)
		fmt.Fprintf(&d, "=== stdout diff (- %s, + %s):\n%s", execEnvName(envA), execEnvName(envB), execLineDiff(a.stdout, b.stdout))
	}
	if a.stderr != b.stderr {
		fmt.Fprintf(&d, "=== stderr diff (- %s, + %s):\n%s", execEnvName(envA), execEnvName(envB), execLineDiff(a.stderr, b.stderr))
	}
	t.Error(d.String())
	return true
}

// compareExecPaths runs the same hako command on the Go path, the C path and with no
// HAKO_EXEC_PATH, and fails the test unless the three give the same stdout, stderr and exit code
// (after norm, which may be nil). It returns the Go path's result.
func (s *store) compareExecPaths(what string, norm func(string) string, stdin []byte, env []string, args ...string) result {
	return s.compareExecPathsOpt(what, true, norm, stdin, env, args...)
}

// compareExecPathsOpt is compareExecPaths, which leaves out the run with no HAKO_EXEC_PATH
// unless withDefault (time).
func (s *store) compareExecPathsOpt(what string, withDefault bool, norm func(string) string, stdin []byte, env []string, args ...string) result {
	s.t.Helper()
	g, _ := s.comparePaths(what, execGoPath, execCPath, nil, withDefault, norm, stdin, env, args...)
	return g
}

// comparePaths runs the same hako command with goEnv, then cEnv (the two settings of
// HAKO_EXEC_PATH or HAKO_RUN_PATH), then (if withDefault and the two agree) with neither,
// which unsetName names in a report, and fails the test unless they give the same stdout,
// stderr and exit code after norm (nil: none). It returns the first two results.
func (s *store) comparePaths(what string, goEnv, cEnv, unsetName []string, withDefault bool, norm func(string) string, stdin []byte, env []string, args ...string) (result, result) {
	s.t.Helper()
	run := func(path []string) result {
		r := s.runEnv(append(append([]string(nil), env...), path...), stdin, args...)
		if norm != nil {
			r.stdout, r.stderr = norm(r.stdout), norm(r.stderr)
		}
		return r
	}
	g, c := run(goEnv), run(cEnv)
	if !execDiffer(s.t, what, goEnv, g, cEnv, c) && withDefault {
		execDiffer(s.t, what, goEnv, g, unsetName, run(nil))
	}
	return g, c
}

// The probe: what the exec'd process is (sh, whose /proc/$$ is the exec'd process itself; the
// other commands are its children and share all of it): credentials, capabilities, seccomp
// (its state, its count of filters and what it does to unshare(CLONE_NEWUSER), mkdir and
// sethostname, the latter to the name it has: no change), signal mask and
// ignored signals, process group and session, rlimits, cgroups, namespaces, mounts, environment,
// working directory, oom_score_adj, descriptors, LSM label, keyring, stdin. $1 is the
// container's full ID: of the session keyrings in /proc/keys (readable in a privileged container
// only), the probe shows the container's own (and, to a user other than the keyrings' owner,
// /proc/keys shows only what it possesses), leaving out the other containers' and the usage
// counts and flags, which change with every process that holds a keyring.
const execProbe = `grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters|Umask|PPid|TracerPid|Cpus_allowed_list|Mems_allowed_list|SigBlk|SigIgn|Speculation_Store_Bypass|SpeculationIndirectBranch):' /proc/$$/status
read -r _ _ _ ppid pgrp sid tty tpgid _ </proc/$$/stat
echo "ppid $ppid pgrp $([ $pgrp = $$ ] && echo self || echo $pgrp) session $([ $sid = $$ ] && echo self || echo $sid) tty $tty tpgid $tpgid"
echo "personality $(cat /proc/self/personality)"; awk '{print "nice", $19, "rt_priority", $40, "policy", $41}' /proc/self/stat
unshare -U true 2>&1; echo "unshare -U: $?"; mkdir /proc/x 2>&1; echo "mkdir: $?"; hostname "$(hostname)" 2>&1; echo "sethostname: $?"
echo '--- mountinfo'; cat /proc/self/mountinfo
echo '--- limits'; cat /proc/self/limits
echo '--- cgroup'; cat /proc/self/cgroup
echo '--- ns'; for n in mnt pid net ipc uts cgroup user time; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo '--- env'; env | sort
echo '--- pwd'; pwd
echo '--- hostname'; hostname
echo '--- oom_score_adj'; cat /proc/self/oom_score_adj
echo '--- fds'; ls /proc/self/fd; for f in /proc/$$/fd/*; do echo "${f##*/} -> $(readlink $f)"; done
echo '--- lsm'; cat /proc/self/attr/current 2>/dev/null; echo
echo '--- keys'; cat /proc/keys 2>/dev/null | awk -v me="_ses.$1:" '$9 ~ /^_ses\./ && $9 != me {next} {$2=""; $3=""; print}'
echo '--- stdin'; cat
echo '--- end'`

// execPipeInode: a pipe's or socket's inode number changes with every exec.
var execPipeInode = regexp.MustCompile(`\b(pipe|socket):\[[0-9]+\]`)

func execNormFDs(s string) string { return execPipeInode.ReplaceAllString(s, "$1:[N]") }

// execPathsContainer is one container of the equivalence test.
type execPathsContainer struct {
	name  string
	flags []string
	image string // "" for busybox
}

var execPathsContainers = []execPathsContainer{
	{"dflt", nil, ""},
	{"confined", []string{"--cap-drop", "NET_RAW", "--cap-add", "SYS_PTRACE", "-e", "A=1", "-e", "HOME=", "-w", "/tmp",
		"--ulimit", "nofile=1024:2048", "--security-opt", "no-new-privileges"}, ""},
	// For `-u 1000:1000 --group-add 10`, which hako run does not have (unknown flag): the
	// image's user 1000 is a member of group 10, which is its supplementary group then.
	{"user", []string{"-u", "1000"}, "busybox:users"},
	{"unconfined", []string{"--security-opt", "seccomp=unconfined"}, ""},
	{"priv", []string{"--privileged"}, ""},
	{"readonly", []string{"--read-only"}, ""},
	// Not a keyring's owner: /proc/keys shows it the session keyring it possesses, and nothing
	// else, so the keyring an exec joins shows.
	{"privuser", []string{"--privileged", "-u", "1000:1000"}, ""},
}

// execPathsVariant is one way of calling exec, all of them the C path's to take.
type execPathsVariant struct {
	name  string
	flags []string
	env   []string // over the test's environment, for -e KEY without a value
}

var execPathsVariants = []execPathsVariant{
	{"plain", nil, nil},
	{"env", []string{"-e", "X=y", "-e", "A=2"}, nil},
	{"path", []string{"-e", "PATH=/bin"}, nil},
	{"workdir", []string{"-w", "/etc"}, nil},
	{"privileged", []string{"--privileged"}, nil},
	{"interactive", []string{"-i"}, nil},
	{"long-forms", []string{"--env=X=y", "--workdir=/etc", "--interactive"}, nil},
	{"env-from-host", []string{"-e", "HAKOTEST_FROM_HOST", "-e", "HAKOTEST_NOT_SET", "-e", "HAKOTEST_EMPTY"}, []string{"HAKOTEST_FROM_HOST=from host", "HAKOTEST_EMPTY="}},
	{"all", []string{"-i", "-e", "X=y", "-w", "/etc", "--privileged"}, nil},
}

// startExecPathsContainer runs c and returns its full ID.
func startExecPathsContainer(s *store, c execPathsContainer) string {
	s.t.Helper()
	image := c.image
	if image == "" {
		image = "busybox"
	} else if image == "busybox:users" && s.run("image", "inspect", image).code != 0 {
		// busybox with a user 1000 in groups 1000 and 10 (wheel).
		s.ok("run", "--name", "mkusers", "busybox", "sh", "-c", "echo 'u1000:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd; "+
			"echo 'wheel:x:10:u1000' >>/etc/group; echo 'u1000:x:1000:' >>/etc/group")
		s.ok("commit", "mkusers", image)
		s.ok("rm", "mkusers")
	}
	args := append([]string{"run", "-d", "--name", c.name}, c.flags...)
	id := strings.TrimSpace(s.ok(append(args, image, "sleep", "1000")...))
	if len(id) != 64 {
		s.t.Fatalf("run -d %s printed %q", c.name, id)
	}
	s.waitExecProfile(id)
	return id
}

// waitExecProfile waits for the monitor to write the container's exec profile, which it does
// just after `run -d`, `start` or `restart` returned (docs/exec.md): an exec before it takes
// the Go path.
func (s *store) waitExecProfile(id string) {
	s.t.Helper()
	profile := filepath.Join(s.root, "runtime", id, "hako-exec.conf")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(profile); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("container %s: no exec profile 10 s after it started", id)
		}
	}
}

// execProbeBoth runs the probe in container name (full ID id) with variant v on both paths (and,
// for the plain variant, with no HAKO_EXEC_PATH too), and checks that the Go path's probe did
// run.
func execProbeBoth(s *store, what, name, id string, v execPathsVariant) result {
	s.t.Helper()
	stdin := []byte("stdin line 1\nstdin line 2, no newline at the end")
	args := append(append([]string{"exec"}, v.flags...), name, "sh", "-c", execProbe, "sh", id)
	g := s.compareExecPathsOpt(what, v.name == "plain", execNormFDs, stdin, v.env, args...)
	if g.code != 0 || !strings.HasSuffix(g.stdout, "--- end\n") || g.stderr != "" {
		s.t.Errorf("%s: the probe failed on the Go path:\n%s", what, execShowResult(execGoPath, g))
	}
	if strings.Contains(g.stdout, "HAKO_") {
		s.t.Errorf("%s: hako's own environment reached the container:\n%s", what, g.stdout)
	}
	return g
}

// TestExecPathsEquivalence: for containers of every kind of confinement and every way of calling
// exec that the C path takes, the probe prints the same on both paths.
func TestExecPathsEquivalence(t *testing.T) {
	s := usernsStore(t) // runStore, searchable by a user namespace's root
	start := time.Now()
	ids := map[string]string{}
	for _, c := range execPathsContainers {
		ids[c.name] = startExecPathsContainer(s, c)
	}
	// More kinds of container, with the first and the last variant only (time): a user
	// namespace, the host's network with an init as PID 1, a terminal with limits and a tmpfs, a
	// named user with awkward environment values, a seccomp profile of its own with filter flags,
	// an errno of its own and a logged syscall.
	seccompFile := filepath.Join(t.TempDir(), "seccomp.json")
	if err := os.WriteFile(seccompFile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW",
	"flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
	"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
		{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	more := []execPathsContainer{
		{"userns", []string{"--uidmap", usernsMap, "--gidmap", usernsMap}, ""},
		{"hostnet", []string{"--network", "host", "-h", "boxy", "--init"}, ""},
		{"tty", []string{"-t", "--pids-limit", "50", "-m", "64m", "--tmpfs", "/scratch"}, ""},
		{"envs", []string{"-u", "nobody", "-w", "/tmp", "-e", "ML=one\ntwo\n", "-e", "EQ=a=b", "-e", "EMPTY=", "-e", "SP= x "}, ""},
		{"seccompfile", []string{"--security-opt", "seccomp=" + seccompFile}, ""},
	}
	for _, c := range more {
		ids[c.name] = startExecPathsContainer(s, c)
	}
	all := execPathsVariants[len(execPathsVariants)-1]
	// One subtest per container, side by side (time): each has its own container.
	t.Run("containers", func(t *testing.T) {
		for _, c := range append(execPathsContainers, more...) {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				s := &store{t: t, root: s.root}
				variants := execPathsVariants
				if slices.ContainsFunc(more, func(m execPathsContainer) bool { return m.name == c.name }) {
					variants = []execPathsVariant{execPathsVariants[0], all}
				}
				for _, v := range variants {
					what := fmt.Sprintf("container %s (%s %s), exec variant %s (%s)", c.name, strings.Join(c.flags, " "), c.image, v.name, strings.Join(v.flags, " "))
					if g := execProbeBoth(s, what, c.name, ids[c.name], v); v.name == "plain" && testing.Verbose() {
						t.Logf("%s, the Go path's probe:\n%s", what, g.stdout)
					}
				}
			})
		}
	})
	// The full ID is the C path's too.
	c := execPathsContainers[1]
	execProbeBoth(s, "container "+c.name+" by its full ID, exec variant plain", ids[c.name], ids[c.name], execPathsVariants[0])
	t.Logf("%d containers, %d variants, %d more containers: %v", len(execPathsContainers), len(execPathsVariants), len(more), time.Since(start))
}

// execNotTakenRE is the C path's refusal under HAKO_EXEC_PATH=c: one line that says so.
var execNotTakenRE = regexp.MustCompile(`(?i)^Error: .*C path was not taken.*\n$`)

// TestExecPathsErrors: errors are the same on both paths, the C path is taken for what it
// supports and hands over the rest, and it leaves nothing behind.
func TestExecPathsErrors(t *testing.T) {
	s := runStore(t)
	id := startExecPathsContainer(s, execPathsContainer{"box", nil, ""})

	// Errors, in the Go path's words.
	for _, tc := range []struct {
		args []string
		code int
		out  string // the Go path's stdout and stderr, "" for any
		err  string
	}{
		{[]string{"nosuchcmd"}, 127, "", ""},
		{[]string{"/etc/passwd"}, 126, "", ""},
		{[]string{"/etc"}, 126, "", ""},
		{[]string{"/nosuch"}, 127, "", ""},
		{[]string{"./nosuch"}, 127, "", ""},
		{[]string{"sh", "-c", "exit 3"}, 3, "", ""},
		{[]string{"sh", "-c", "kill -9 $$"}, 137, "", ""},
		{[]string{"sh", "-c", "kill -TERM $$"}, 143, "", ""},
		{[]string{"sh", "-c", "exit 255"}, 255, "", ""},
		{[]string{"sh", "-c", "echo out; echo err >&2"}, 0, "out\n", "err\n"},
	} {
		what := "exec box " + strings.Join(tc.args, " ")
		g := s.compareExecPaths(what, nil, nil, nil, append([]string{"exec", "box"}, tc.args...)...)
		if g.code != tc.code || (tc.out != "" && g.stdout != tc.out) || (tc.err != "" && g.stderr != tc.err) {
			t.Errorf("%s on the Go path: exit %d, stdout %q, stderr %q; want exit %d", what, g.code, g.stdout, g.stderr, tc.code)
		}
		if (tc.code == 126 || tc.code == 127) && (strings.Count(g.stderr, "\n") != 1 || !strings.HasPrefix(g.stderr, "Error: ")) {
			t.Errorf("%s on the Go path: stderr %q, want one line Error: ...", what, g.stderr)
		}
	}

	// Commands that exist and are executable but that the kernel will not run: a script with no
	// #! line and one whose interpreter is missing. libcontainer's init learns of the failure
	// only after its sync pipe closed; its exec report (internal/runtime/execreport_linux.go)
	// makes it the same start error as the C path's, one Error line and 126 or 127 as Docker's.
	// A command that prints the same words and exits 255 exits 255.
	setup := `printf 'echo hi\n' >/tmp/noshebang; printf '#!/nonexistent\n' >/tmp/badinterp; chmod +x /tmp/noshebang /tmp/badinterp; ln -s /proc/self/exe /bin/hijack`
	if r := s.runEnv(execGoPath, nil, "exec", "box", "sh", "-c", setup); r.code != 0 {
		t.Fatalf("setup:\n%s", execShowResult(execGoPath, r))
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"/tmp/noshebang"}, 126, "exec /tmp/noshebang: exec format error"},
		{[]string{"/tmp/badinterp"}, 127, "exec /tmp/badinterp: no such file or directory"},
	} {
		what := "exec box " + strings.Join(tc.args, " ")
		g := s.compareExecPaths(what, nil, nil, nil, append([]string{"exec", "box"}, tc.args...)...)
		if g.code != tc.code || g.stdout != "" || !strings.HasPrefix(g.stderr, "Error: ") || !strings.HasSuffix(g.stderr, tc.says+"\n") || strings.Count(g.stderr, "\n") != 1 {
			t.Errorf("%s: want exit %d and one Error line ending %q:\n%s", what, tc.code, tc.says, execShowResult(execGoPath, g))
		}
	}
	says := []string{"sh", "-c", "echo out; echo 'exec /tmp/noshebang: exec format error' >&2; exit 255"}
	if g := s.compareExecPaths("exec box "+strings.Join(says, " "), nil, nil, nil, append([]string{"exec", "box"}, says...)...); g.code != 255 || g.stdout != "out\n" || g.stderr != "exec /tmp/noshebang: exec format error\n" {
		t.Errorf("a command that exits 255 by itself:\n%s", execShowResult(execGoPath, g))
	}

	// A link to /proc/self/exe (CVE-2019-5736) finds the sealed copy of hako that entered the
	// container, on a detached mount the container cannot reach: statically linked
	// (scripts/build.sh), it runs there, with nothing but the container's privileges. That it
	// cannot be written through is TestSecurity's (security_test.go).
	for _, env := range [][]string{execCPath, execGoPath} {
		if r := s.runEnv(env, nil, "exec", "box", "/bin/hijack", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "hako version ") {
			t.Errorf("exec box /bin/hijack version: want the sealed hako's version:\n%s", execShowResult(env, r))
		}
	}

	// Much output on both streams, much input: the C path's copying loses and reorders nothing.
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<16) // 1 MiB
	for _, tc := range []struct {
		what  string
		stdin []byte
		args  []string
	}{
		{"1 MiB out, 1 MiB err", nil, []string{"exec", "box", "sh", "-c", "yes out | head -c 1048576; yes err | head -c 1048576 >&2; exit 5"}},
		{"1 MiB through -i", big, []string{"exec", "-i", "box", "sh", "-c", "cat; echo end"}},
	} {
		g, c := s.runEnv(execGoPath, tc.stdin, tc.args...), s.runEnv(execCPath, tc.stdin, tc.args...)
		if g != c {
			t.Errorf("%s: the paths differ: go exit %d, stdout %d bytes, stderr %d bytes (%.200q); c exit %d, stdout %d bytes, stderr %d bytes (%.200q)",
				tc.what, g.code, len(g.stdout), len(g.stderr), g.stderr, c.code, len(c.stdout), len(c.stderr), c.stderr)
		}
		if tc.stdin != nil && g.stdout != string(tc.stdin)+"end\n" {
			t.Errorf("%s on the Go path: stdout %d bytes, want %d", tc.what, len(g.stdout), len(tc.stdin)+4)
		}
	}

	// The C path takes a name and a full ID.
	for _, ref := range []string{"box", id} {
		if r := s.runEnv(execCPath, nil, "exec", ref, "true"); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("HAKO_EXEC_PATH=c exec %s true:\n%s", ref, execShowResult(execCPath, r))
		}
	}
	// Nothing left behind: 20 execs on the C path, then no process of theirs in the container
	// (seen from the Go path) or on the host. (Before the exec -d below: its process, the Go
	// path's, belongs to the container's init then, and sleep reaps no child.)
	psBox := func() (result, []string) {
		r := s.runEnv(execGoPath, nil, "exec", "box", "ps", "-o", "pid,stat,comm")
		var left []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			if f := strings.Fields(l); len(f) == 3 && f[2] == "ps" && f[1] != "Z" {
				continue
			}
			left = append(left, l)
		}
		return r, left
	}
	onlySleep := func(r result, left []string) bool {
		return r.code == 0 && len(left) == 1 && regexp.MustCompile(`^\s*1\s+S\s+sleep$`).MatchString(left[0])
	}
	if r, left := psBox(); !onlySleep(r, left) {
		t.Errorf("before the 20 execs, the container holds more than its sleep:\n%s", execShowResult(execGoPath, r))
	}
	before := execHostProcesses(s, id)
	for i := 0; i < 20; i++ {
		if r := s.runEnv(execCPath, nil, "exec", "box", "true"); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("HAKO_EXEC_PATH=c exec box true, call %d:\n%s", i+1, execShowResult(execCPath, r))
		}
	}
	time.Sleep(100 * time.Millisecond)
	if r, left := psBox(); !onlySleep(r, left) {
		t.Errorf("after 20 execs on the C path, the container holds more than its sleep:\n%s", execShowResult(execGoPath, r))
	}
	if after := execHostProcesses(s, id); after != before {
		t.Errorf("after 20 execs on the C path, host processes of this store or of the C path:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// An ID prefix is the C path's when it is unique and no container has it for its name
	// (container.Resolve: a name beats a prefix); otherwise it is Go's to answer.
	for _, ref := range []string{id[:12], id[:8]} {
		if r := s.runEnv(execCPath, nil, "exec", ref, "sh", "-c", "hostname"); r.code != 0 || r.stdout != id[:12]+"\n" {
			t.Errorf("HAKO_EXEC_PATH=c exec %s (an ID prefix):\n%s", ref, execShowResult(execCPath, r))
		}
	}
	s.ok("create", "--name", id[:6], "busybox", "true") // stopped, named like box's ID prefix
	for _, env := range [][]string{execGoPath, nil} {
		if r := s.runEnv(env, nil, "exec", id[:6], "true"); r.code != 125 || !strings.Contains(r.stderr, "is not running") {
			t.Errorf("exec %s, the name of a stopped container and box's ID prefix: want Go's refusal:\n%s", id[:6], execShowResult(env, r))
		}
	}
	if r := s.runEnv(execCPath, nil, "exec", id[:6], "true"); r.code != 125 || !execNotTakenRE.MatchString(r.stderr) {
		t.Errorf("HAKO_EXEC_PATH=c exec %s, a stopped container's name: want the C path not taken:\n%s", id[:6], execShowResult(execCPath, r))
	}
	s.ok("rm", id[:6])

	// exec -d: the C path returns once the command runs, which has /dev/null for its stdio.
	start := time.Now()
	if r := s.runEnv(execCPath, nil, "exec", "-d", "box", "sh", "-c", "me=$$; sleep 1; (ls -l /proc/$me/fd/) >/tmp/detached-c; true"); r.code != 0 || r.stdout != "" || r.stderr != "" || time.Since(start) > 900*time.Millisecond {
		t.Errorf("HAKO_EXEC_PATH=c exec -d:\n%s", execShowResult(execCPath, r))
	}
	if r := s.runEnv(execCPath, nil, "exec", "-d", "box", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, "executable file not found") {
		t.Errorf("HAKO_EXEC_PATH=c exec -d nosuchcmd:\n%s", execShowResult(execCPath, r))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r := s.runEnv(execGoPath, nil, "exec", "box", "cat", "/tmp/detached-c")
		if r.code == 0 {
			for _, fd := range []string{"0", "1", "2"} {
				if !regexp.MustCompile(`(?m) ` + fd + ` -> /dev/null$`).MatchString(r.stdout) {
					t.Errorf("exec -d: fd %s of the command is not /dev/null:\n%s", fd, r.stdout)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("HAKO_EXEC_PATH=c exec -d: the command never ran")
		}
	}

	// It hands over the rest: with HAKO_EXEC_PATH=c a refusal that says so, without it the Go
	// path as before.
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("FROM_FILE=f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int    // without HAKO_EXEC_PATH
		err  string // ... and a part of its stderr
	}{
		{[]string{"exec", "-t", "box", "true"}, 0, ""},
		{[]string{"exec", "-it", "box", "true"}, 0, ""},
		{[]string{"exec", "-u", "0", "box", "true"}, 0, ""},
		{[]string{"exec", "nosuchbox", "true"}, 125, "Error: No such container: nosuchbox\n"},
		{[]string{"exec", "--env-file", envFile, "box", "true"}, 0, ""},
		{[]string{"exec", "-w", "tmp", "box", "true"}, 125, "needs to be an absolute path"},
		{[]string{"exec", "-w", "/tmp/../etc", "box", "true"}, 0, ""},
		{[]string{"exec", "-e", "=x", "box", "true"}, 125, "name cannot be empty"},
		{[]string{"exec", "box", ""}, 125, "Error: exec: no command specified\n"},
	} {
		what := strings.Join(tc.args, " ")
		if r := s.runEnv(execCPath, nil, tc.args...); r.code != 125 || r.stdout != "" || !execNotTakenRE.MatchString(r.stderr) {
			t.Errorf("%s: want exit 125 and one line saying the C path was not taken:\n%s", what, execShowResult(execCPath, r))
		} else {
			t.Logf("%s: %s", what, strings.TrimSpace(r.stderr))
		}
		if r := s.runEnv(nil, nil, tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.err) || (tc.code == 0 && r.stderr != "") {
			t.Errorf("%s: want exit %d and stderr with %q:\n%s", what, tc.code, tc.err, execShowResult(nil, r))
		}
		// Without the C path, the same as with no HAKO_EXEC_PATH.
		if tc.code != 0 {
			execDiffer(t, what, execGoPath, s.runEnv(execGoPath, nil, tc.args...), nil, s.runEnv(nil, nil, tc.args...))
		}
	}
}

// execHostProcesses lists the host's processes that belong to s's store or to container id and
// are not a monitor or the container's init: a command line that holds the store's root (a
// `hako --root ROOT ...`), or `__fastexec` (the C path's second stage) in the container's PID
// namespace or under a parent that holds the root. Any other __fastexec process (another test's,
// running now) is only logged.
func execHostProcesses(s *store, id string) string {
	t := s.t
	t.Helper()
	root := s.root
	initPID := strings.TrimSpace(s.ok("inspect", "--format", "{{.State.Pid}}", id))
	pidNS, _ := os.Readlink("/proc/" + initPID + "/ns/pid")
	var out strings.Builder
	for _, p := range hostProcesses() {
		switch cl := p.cmdline; {
		case strings.Contains(cl, "__monitor") || p.pid == initPID:
		case strings.Contains(cl, "__fastexec"):
			ns, _ := os.Readlink("/proc/" + p.pid + "/ns/pid")
			if ns == pidNS || strings.Contains(cl, root) || strings.Contains(procCmdline(p.ppid), root) {
				fmt.Fprintf(&out, "%s (ppid %s, %s): %s\n", p.pid, p.ppid, ns, cl)
			} else {
				t.Logf("a __fastexec process not of this test: %s (ppid %s, %s): %s", p.pid, p.ppid, ns, cl)
			}
		case strings.Contains(cl, root):
			fmt.Fprintf(&out, "%s (ppid %s): %s\n", p.pid, p.ppid, cl)
		}
	}
	return out.String()
}

// hostProcess is a process of the host as the leftover checks see it.
type hostProcess struct{ pid, ppid, state, cmdline string }

// hostProcesses lists the host's processes but the test's own, with their parents and command
// lines (arguments joined by spaces).
func hostProcesses() []hostProcess {
	var out []hostProcess
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid := filepath.Base(d)
		if pid == fmt.Sprint(os.Getpid()) {
			continue
		}
		p := hostProcess{pid: pid, cmdline: procCmdline(pid)}
		if b, err := os.ReadFile(d + "/stat"); err == nil {
			if i := bytes.LastIndexByte(b, ')'); i >= 0 {
				if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
					p.state, p.ppid = f[0], f[1]
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// procCmdline is the command line of process pid, its arguments joined by spaces.
func procCmdline(pid string) string {
	b, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// TestExecPathsLifecycle: paused and stopped containers are refused alike on both paths; a
// renamed container is the C path's under its new name only; after stop and start, and after
// restart, the C path works again and still gives what the Go path gives.
func TestExecPathsLifecycle(t *testing.T) {
	s := runStore(t)
	c := execPathsContainers[1] // "confined": something to get wrong in the new profile
	id := startExecPathsContainer(s, c)
	plain := execPathsVariants[0]

	cOK := func(what, ref string) {
		t.Helper()
		if r := s.runEnv(execCPath, nil, "exec", ref, "true"); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("%s: HAKO_EXEC_PATH=c exec %s true:\n%s", what, ref, execShowResult(execCPath, r))
		}
	}
	// refused: every path exits 125 with want in its stderr; the Go path and the default say
	// exactly the same.
	refused := func(what, want, ref string) {
		t.Helper()
		args := []string{"exec", ref, "true"}
		g, cr, d := s.runEnv(execGoPath, nil, args...), s.runEnv(execCPath, nil, args...), s.runEnv(nil, nil, args...)
		// The C path never decides an error about the container (docs/exec.md): it hands such
		// an exec to the Go path, which says what is wrong; made mandatory, it says it could
		// not take it.
		for _, x := range []struct {
			env []string
			r   result
		}{{execGoPath, g}, {nil, d}} {
			if x.r.code != 125 || x.r.stdout != "" || !strings.Contains(x.r.stderr, want) || strings.Count(x.r.stderr, "\n") != 1 {
				t.Errorf("%s: want exit 125 and one line with %q:\n%s", what, want, execShowResult(x.env, x.r))
			}
		}
		execDiffer(t, what, execGoPath, g, nil, d)
		if cr.code != 125 || cr.stdout != "" || !execNotTakenRE.MatchString(cr.stderr) {
			t.Errorf("%s: HAKO_EXEC_PATH=c: want exit 125 and one line saying the C path was not taken:\n%s", what, execShowResult(execCPath, cr))
		}
	}

	// The profile (docs/exec.md): mode 0600 in the runtime state, for the container's init of
	// now; gone once it stops.
	profile := filepath.Join(s.root, "runtime", id, "hako-exec.conf")
	profilePID := func(what string) {
		t.Helper()
		fi, err := os.Stat(profile)
		if err != nil {
			t.Errorf("%s: no profile: %v", what, err)
			return
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: profile mode %v, want 0600", what, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(profile)
		want := "pid=" + strings.TrimSpace(s.ok("inspect", "--format", "{{.State.Pid}}", id))
		if !bytes.HasPrefix(b, []byte("v=1\x00")) || !bytes.Contains(b, []byte("\x00"+want+"\x00")) {
			t.Errorf("%s: the profile is not v=1 with %s: %.300q", what, want, b)
		}
	}
	profilePID("running")
	cOK("running", c.name)
	s.ok("pause", c.name)
	runEnvTimeout = 5 * time.Second // an exec that entered the frozen cgroup never returns
	refused("paused", "is paused", c.name)
	runEnvTimeout = 20 * time.Second
	s.ok("unpause", c.name)
	cOK("unpaused", c.name)

	// rename: the new name is the C path's, the old one no container's.
	s.ok("rename", c.name, "renamed")
	cOK("renamed", "renamed")
	if r := s.runEnv(execCPath, nil, "exec", c.name, "true"); r.code != 125 || r.stdout != "" || !execNotTakenRE.MatchString(r.stderr) {
		t.Errorf("renamed: HAKO_EXEC_PATH=c exec by the old name: want exit 125 and one line saying the C path was not taken:\n%s", execShowResult(execCPath, r))
	}
	if r := s.runEnv(nil, nil, "exec", c.name, "true"); r.code != 125 || r.stderr != "Error: No such container: "+c.name+"\n" {
		t.Errorf("renamed: exec by the old name:\n%s", execShowResult(nil, r))
	}
	execProbeBoth(s, "renamed container, exec variant plain", "renamed", id, plain)
	s.ok("rename", "renamed", c.name)
	cOK("renamed back", c.name)

	// stop: refused alike; start: a new profile, the C path's again.
	s.ok("stop", "-t", "0", c.name)
	if _, err := os.Stat(profile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stopped: the profile is still there (%v)", err)
	}
	refused("stopped", "is not running", c.name)
	refused("stopped, by full ID", "is not running", id)
	s.ok("start", c.name)
	s.waitExecProfile(id)
	profilePID("started again")
	cOK("started again", c.name)
	cOK("started again, by full ID", id)
	execProbeBoth(s, "started again, exec variant plain", c.name, id, plain)
	execProbeBoth(s, "started again, exec variant all", c.name, id, execPathsVariants[len(execPathsVariants)-1])

	s.ok("restart", "-t", "0", c.name)
	s.waitExecProfile(id)
	profilePID("restarted")
	cOK("restarted", c.name)
	execProbeBoth(s, "restarted, exec variant plain", c.name, id, plain)
	execProbeBoth(s, "restarted, exec variant all", c.name, id, execPathsVariants[len(execPathsVariants)-1])

	// Killed: both paths say it is not running.
	s.ok("kill", c.name)
	s.ok("wait", c.name)
	refused("killed", "is not running", c.name)
}

// TestExecPathsStreamsAndInheritance: what the security review of the C path found, each on
// both paths: a process that writes much before it reads its stdin (exec -i deadlocked), a
// non-blocking stdout (output was cut), and what a process inherits from hako's caller that
// libcontainer's init resets (ignored signals, CPU affinity).
func TestExecPathsStreamsAndInheritance(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(s.ok("run", "-d", "--name", "box", "busybox", "sleep", "1000"))
	s.waitExecProfile(id)

	// 70 kB out for every 1 kB line in: both pipes fill up unless hako keeps reading the
	// process's stdout while it feeds its stdin.
	in := bytes.Repeat(append(bytes.Repeat([]byte("a"), 999), '\n'), 200)
	for _, env := range [][]string{execCPath, execGoPath} {
		r := s.runEnv(env, in, "exec", "-i", "box", "sh", "-c", "while read l; do printf '%70000s\\n' x; done; echo end")
		if r.code != 0 || len(r.stdout) != 200*70001+4 || !strings.HasSuffix(r.stdout, "end\n") {
			t.Errorf("%v exec -i, 70 kB out per 1 kB line in: exit %d, %d bytes out, stderr %q", env, r.code, len(r.stdout), r.stderr)
		}
	}

	// A non-blocking pipe for stdout, read late: every byte arrives.
	for _, path := range []string{"c", "go"} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(hakoBin, "--root", s.root, "exec", "box", "head", "-c", "1000000", "/dev/zero")
		cmd.Env = append(os.Environ(), "HAKO_EXEC_PATH="+path)
		cmd.Stdout = pw
		wfd := int(pw.Fd())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// After Start, which makes the descriptor blocking; hako has not written yet.
		if err := syscall.SetNonblock(wfd, true); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		time.Sleep(500 * time.Millisecond) // hako finds the pipe full: EAGAIN
		n, buf := 0, make([]byte, 65536)
		for {
			k, err := pr.Read(buf)
			n += k
			if err != nil {
				break
			}
		}
		pr.Close()
		if err := cmd.Wait(); err != nil || n != 1000000 {
			t.Errorf("HAKO_EXEC_PATH=%s, a non-blocking stdout: %v, %d bytes of 1000000", path, err, n)
		}
	}

	// Ignored signals and a narrowed CPU affinity of the caller do not reach the process: it
	// sees what it sees when hako's caller has neither.
	probe := "grep -E '^(SigIgn|Cpus_allowed_list)' /proc/self/status"
	want := s.runEnv(execGoPath, nil, "exec", "box", "sh", "-c", probe).stdout
	for _, path := range []string{"c", "go"} {
		cmd := exec.Command("sh", "-c", "trap '' TERM QUIT USR1 PIPE; exec taskset -c 0 \"$@\"", "sh",
			hakoBin, "--root", s.root, "exec", "box", "sh", "-c", probe)
		cmd.Env = append(os.Environ(), "HAKO_EXEC_PATH="+path)
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("HAKO_EXEC_PATH=%s, the caller ignoring TERM QUIT USR1 PIPE on CPU 0 only: %v\n%swant (no traps, all CPUs):\n%s", path, err, out, want)
		}
	}
}
