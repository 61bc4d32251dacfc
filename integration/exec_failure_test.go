package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunExecFailure: a command that exists and is executable but that the kernel will not run
// (a script without #!, one whose interpreter is missing) fails to start with Docker's 126 or
// 127 on libcontainer's path (HAKO_RUN_PATH=go) exactly as on the C path, however it is run:
// detached (then wait, inspect and start -a say it too), with a terminal, in an exec with a
// terminal. A command that prints the same words and exits 255 exits 255, reaped by the monitor
// at once or by the keeper later. libcontainer's init would print the failure on the container's
// stderr and exit 255 (internal/runtime/execreport_linux.go).
func TestRunExecFailure(t *testing.T) {
	s := runStore(t)
	rp := runPathsImage(s) // on the Go path: the default seccomp filter is cached for the C path
	paths := [][]string{runGoPath, runCPath, nil}
	pathName := func(path []string) string {
		if path == nil {
			return runUnsetName[0]
		}
		return path[0]
	}
	// The commands the kernel refuses, with their exit codes and libcontainer's words.
	failures := []struct {
		cmd  string
		code int
		says string
	}{
		{"/bin/noshebang", 126, "exec /bin/noshebang: exec format error"},
		{"/bin/badinterp", 127, "exec /bin/badinterp: no such file or directory"},
	}
	for _, tc := range failures {
		// Every step's result on every path, to compare; the first path's is the reference.
		var ref []string
		for _, path := range paths {
			const name = "xf"
			var got []string
			step := func(what string, r result, code int) {
				t.Helper()
				if r.code != code {
					t.Errorf("%s %s: exit %d, want %d:\n%s", tc.cmd, what, r.code, code, execShowResult(path, r))
				}
				got = append(got, what+": "+runNorm(fmt.Sprintf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)))
			}
			r := s.runEnv(path, nil, "run", "--rm", rp, tc.cmd)
			if !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, tc.says) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("run --rm %s: want one Error line that says %q:\n%s", tc.cmd, tc.says, execShowResult(path, r))
			}
			step("run --rm", r, tc.code)
			step("run -d", s.runEnv(path, nil, "run", "-d", "--name", name, rp, tc.cmd), tc.code)
			r = s.runEnv(path, nil, "wait", name)
			step("wait", r, 0)
			if r.stdout != fmt.Sprintf("%d\n", tc.code) {
				t.Errorf("%s: wait printed %q, want %d", tc.cmd, r.stdout, tc.code)
			}
			r = s.runEnv(path, nil, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}", name)
			step("inspect", r, 0)
			if want := fmt.Sprintf("exited %d ", tc.code); !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, tc.says) {
				t.Errorf("%s: inspect says %q, want %q... %q", tc.cmd, r.stdout, want, tc.says)
			}
			step("start -a", s.runEnv(path, nil, "start", "-a", name), tc.code)
			step("rm", s.runEnv(path, nil, "rm", name), 0)
			if ref == nil {
				ref = got
				continue
			}
			if a, b := strings.Join(ref, "\n"), strings.Join(got, "\n"); a != b {
				t.Errorf("%s: %s and %s differ:\n%s", tc.cmd, pathName(paths[0]), pathName(path), execLineDiff(a, b))
			}
		}

		// With a terminal: libcontainer's path whatever HAKO_RUN_PATH says.
		master, slave := openPty(t)
		cmd := startOnPty(t, s, slave, "run", "--rm", "-t", rp, tc.cmd)
		out := readPty(master)
		if code := exitCode(t, cmd); code != tc.code {
			t.Errorf("run -t %s: exit %d, want %d; output:\n%q", tc.cmd, code, tc.code, out.String())
		}
		out.waitFor(t, tc.says)
		if o := out.String(); !strings.HasPrefix(o, "Error: ") || strings.Count(o, "\n") != 1 {
			t.Errorf("run -t %s: want one Error line, got %q", tc.cmd, o)
		}
	}

	// exec -t takes libcontainer's path too.
	s.ok("run", "-d", "--name", "box", rp, "sleep", "1000")
	for _, tc := range failures {
		master, slave := openPty(t)
		cmd := startOnPty(t, s, slave, "exec", "-t", "box", tc.cmd)
		out := readPty(master)
		if code := exitCode(t, cmd); code != tc.code {
			t.Errorf("exec -t box %s: exit %d, want %d; output:\n%q", tc.cmd, code, tc.code, out.String())
		}
		out.waitFor(t, tc.says)
	}
	s.ok("rm", "-f", "box")

	// A command that says the same and exits 255: at once (the monitor reaps it while it
	// settles) and after the settling (the keeper reaps it), detached and attached.
	for _, path := range paths {
		for _, sleep := range []string{"", "sleep 0.6; "} {
			script := sleep + "echo 'exec /bin/noshebang: exec format error' >&2; exit 255"
			r := s.runEnv(path, nil, "run", "-d", rp, "sh", "-c", script)
			id := strings.TrimSpace(r.stdout)
			if r.code != 0 || len(id) != 64 {
				t.Fatalf("%s: run -d sh -c %q:\n%s", pathName(path), script, execShowResult(path, r))
			}
			if r := s.runEnv(path, nil, "wait", id); r.code != 0 || r.stdout != "255\n" {
				t.Errorf("%s: run -d sh -c %q; wait:\n%s", pathName(path), script, execShowResult(path, r))
			}
			if r := s.runEnv(path, nil, "logs", id); r.stderr != "exec /bin/noshebang: exec format error\n" {
				t.Errorf("%s: logs of sh -c %q:\n%s", pathName(path), script, execShowResult(path, r))
			}
			if r := s.runEnv(path, nil, "start", "-a", id); r.code != 255 || r.stderr != "exec /bin/noshebang: exec format error\n" {
				t.Errorf("%s: start -a of sh -c %q:\n%s", pathName(path), script, execShowResult(path, r))
			}
			s.ok("rm", id)
		}
	}
}

// TestStdioReopenableByUser: a container process running as a user other than root can reopen
// its standard streams (/dev/stdout, /dev/stderr), on both start paths and in exec, attached and
// detached: they are given to its user as libcontainer's init does. The exec report took stderr's
// place in libcontainer's init, which then gave the report pipe away instead of stderr
// (`sh: can't create /dev/stderr: Permission denied`); the runtime now gives stderr itself.
func TestStdioReopenableByUser(t *testing.T) {
	forEachRunPath(t, func(t *testing.T) {
		s := runPathStore(t)
		script := "echo out >/dev/stdout && echo err >/dev/stderr"
		r := s.run("run", "--rm", "-u", "65534", "busybox", "sh", "-c", script)
		if r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Fatalf("run -u 65534: %+v", r)
		}
		id := strings.TrimSpace(s.ok("run", "-d", "-u", "65534:65534", "busybox", "sh", "-c", script+" && sleep 100"))
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			r := s.run("logs", id)
			if r.stdout == "out\n" && r.stderr == "err\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run -d -u: logs %+v", r)
			}
		}
		r = s.run("exec", "-u", "65534", id, "sh", "-c", script)
		if r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Fatalf("exec -u 65534: %+v", r)
		}
		s.ok("rm", "-f", id)
	})
}
