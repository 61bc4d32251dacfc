package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExec: exit codes pass through (127, 126 as Docker's), the flags shape the process, stdin
// reaches it with -i, -d returns at once, and the exec'd process has the container's
// capabilities, seccomp filter and no_new_privileges.
func TestExec(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "box", "-e", "FROM_RUN=1", "--security-opt", "no-new-privileges", "--cap-drop", "NET_RAW", "busybox", "sleep", "1000")

	if r := s.run("exec", "box", "sh", "-c", "echo out; echo err >&2; exit 7"); r.code != 7 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exec exit code: %+v", r)
	}
	if r := s.run("exec", "box", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, "nosuchcmd") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("missing binary: %+v", r)
	}
	if r := s.run("exec", "box", "/etc/passwd"); r.code != 126 {
		t.Fatalf("non-executable: %+v", r)
	}
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=f\n"), 0o644)
	got := s.ok("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=y", "--env-file", envFile, "box", "sh", "-c", "id -u; pwd; echo $X $FROM_FILE $FROM_RUN")
	if got != "65534\n/tmp\ny f 1\n" {
		t.Fatalf("exec -u -w -e --env-file: %q", got)
	}
	if r := s.runIn([]byte("from stdin\n"), "exec", "-i", "box", "cat"); r.code != 0 || r.stdout != "from stdin\n" {
		t.Fatalf("exec -i: %+v", r)
	}
	if r := s.runIn([]byte("ignored\n"), "exec", "box", "cat"); r.code != 0 || r.stdout != "" {
		t.Fatalf("exec without -i reads no stdin: %+v", r)
	}
	if r := s.run("exec", "-t", "box", "sh", "-c", "tty >/dev/null && echo $TERM"); r.code != 0 || strings.TrimSpace(r.stdout) != "xterm" {
		t.Fatalf("exec -t: %+v", r)
	}
	start := time.Now()
	s.ok("exec", "-d", "box", "sh", "-c", "sleep 1; echo done >/tmp/detached")
	if time.Since(start) > 900*time.Millisecond {
		t.Fatalf("exec -d waited for the command")
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.run("exec", "box", "cat", "/tmp/detached").stdout != "done\n" {
		if time.Now().After(deadline) {
			t.Fatal("exec -d: the command never ran")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The container's confinement applies to the exec'd process.
	status := func(pid string) map[string]string {
		out := s.ok("exec", "box", "cat", "/proc/"+pid+"/status")
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(l, ":")
			m[k] = strings.TrimSpace(v)
		}
		return m
	}
	init, self := status("1"), status("self")
	for _, k := range []string{"CapEff", "CapBnd", "CapPrm", "NoNewPrivs", "Seccomp"} {
		if init[k] != self[k] {
			t.Errorf("%s: container init %q, exec %q", k, init[k], self[k])
		}
	}
	if self["NoNewPrivs"] != "1" || self["Seccomp"] != "2" {
		t.Errorf("exec process: NoNewPrivs %q Seccomp %q, want 1 and 2", self["NoNewPrivs"], self["Seccomp"])
	}
	if priv := status2(s, "--privileged"); priv["CapEff"] == self["CapEff"] || priv["Seccomp"] != "2" {
		t.Errorf("exec --privileged: CapEff %q (plain %q), Seccomp %q", priv["CapEff"], self["CapEff"], priv["Seccomp"])
	}

	// Refused once the container stopped, in Docker's words, with nothing run.
	s.ok("stop", "-t", "0", "box")
	if r := s.run("exec", "box", "true"); r.code != 125 || !strings.Contains(r.stderr, "is not running") {
		t.Fatalf("exec in a stopped container: %+v", r)
	}
	if r := s.run("exec", "nosuchbox", "true"); r.code != 125 || !strings.Contains(r.stderr, "No such container: nosuchbox") {
		t.Fatalf("exec in an unknown container: %+v", r)
	}
}

func status2(s *store, flag string) map[string]string {
	out := s.ok("exec", flag, "box", "cat", "/proc/self/status")
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// TestExecCannotReachHakoBinary: CVE-2019-5736. A process in the container that gets hold of the
// binary that libcontainer ran to enter the container (its /proc/PID/exe, or /proc/self/exe
// reached through a symlink the container planted) finds a sealed copy: writes fail and the
// hako binary on the host stays as it was.
func TestExecCannotReachHakoBinary(t *testing.T) {
	s := runStore(t)
	before := fileHash(t, hakoBin)
	s.ok("run", "-d", "--name", "box", "busybox", "sleep", "1000")

	// The direct attempts: the exec'd process's own exe and the container init's.
	for _, p := range []string{"/proc/self/exe", "/proc/1/exe"} {
		if r := s.run("exec", "box", "sh", "-c", "echo pwned >> "+p); r.code == 0 {
			t.Errorf("writing %s from an exec succeeded", p)
		}
	}

	// The real attack: the container makes its command a link to /proc/self/exe, so that the
	// exec runs the binary that libcontainer started to enter the container. That binary (hako
	// `import -`, reading stdin) stays alive while a second exec tries to write it.
	s.ok("exec", "box", "ln", "-s", "/proc/self/exe", "/bin/hijack")
	cmd := exec.Command(hakoBin, "--root", s.root, "exec", "-i", "box", "/bin/hijack", "import", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	find := `for p in /proc/[0-9]*; do if tr '\0' ' ' <$p/cmdline 2>/dev/null | grep -q '^/bin/hijack import'; then echo ${p#/proc/}; fi; done`
	var pid string
	deadline := time.Now().Add(10 * time.Second)
	for pid == "" {
		select {
		case err := <-exited:
			// libcontainer ran the exec from a sealed copy that cannot even be executed again
			// from inside the container: the attack stops here.
			t.Logf("the hijacked exec was refused (%v): %s", err, strings.TrimSpace(out.String()))
			exited <- err
			goto check
		default:
		}
		pid = strings.TrimSpace(s.ok("exec", "box", "sh", "-c", find))
		if time.Now().After(deadline) {
			t.Fatalf("the hijacked exec neither ran nor failed: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The container can see it, and may even read it, but never write it.
	if r := s.run("exec", "box", "sh", "-c", "readlink /proc/"+pid+"/exe; echo pwned >> /proc/"+pid+"/exe && echo WROTE"); strings.Contains(r.stdout, "WROTE") {
		t.Fatalf("a container process wrote the binary it was exec'd from: %+v", r)
	} else {
		t.Logf("the container sees the exec's binary as %q; write: %s", strings.TrimSpace(strings.Split(r.stdout, "\n")[0]), strings.TrimSpace(r.stderr))
	}
check:
	stdin.Close()
	<-exited
	if after := fileHash(t, hakoBin); after != before {
		t.Fatalf("the hako binary changed: %s -> %s", before, after)
	}
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestExecNoHostDescriptors: CVE-2024-21626 class. A descriptor that the caller of `hako exec`
// left open (here the host's root directory, as fd 3 and 9) reaches neither path's process:
// the container cannot cd through /proc/self/fd into the host.
func TestExecNoHostDescriptors(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(s.ok("run", "-d", "--name", "box", "busybox", "sleep", "1000"))
	s.waitExecProfile(id)
	for _, path := range []string{"c", "go"} {
		hostRoot, err := os.Open("/")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(hakoBin, "--root", s.root, "exec", "box", "sh", "-c",
			"for fd in 3 9; do cd /proc/self/fd/$fd 2>/dev/null && echo LEAKED $fd && ls; done; ls /proc/self/fd | tr '\\n' ' '")
		cmd.Env = append(os.Environ(), "HAKO_EXEC_PATH="+path)
		cmd.ExtraFiles = []*os.File{hostRoot, nil, nil, nil, nil, nil, hostRoot} // fds 3 and 9
		out, err := cmd.CombinedOutput()
		hostRoot.Close()
		if err != nil || strings.Contains(string(out), "LEAKED") {
			t.Fatalf("HAKO_EXEC_PATH=%s: %v: %s", path, err, out)
		}
		// ls's own directory descriptor is 3; nothing above it.
		if got := strings.TrimSpace(string(out)); got != "0 1 2 3" {
			t.Errorf("HAKO_EXEC_PATH=%s: the process has descriptors %q, want 0 1 2 (and ls's 3)", path, got)
		}
		// The working directory is set while the process enters the container: through a
		// leaked descriptor it would be the host's root.
		hostRoot, _ = os.Open("/")
		cmd = exec.Command(hakoBin, "--root", s.root, "exec", "-w", "/proc/self/fd/3", "box", "sh", "-c", "echo RAN; ls")
		cmd.Env = append(os.Environ(), "HAKO_EXEC_PATH="+path)
		cmd.ExtraFiles = []*os.File{hostRoot}
		out, err = cmd.CombinedOutput()
		hostRoot.Close()
		if err == nil || strings.Contains(string(out), "RAN") {
			t.Errorf("HAKO_EXEC_PATH=%s: exec -w /proc/self/fd/3 ran: %s", path, out)
		}
	}
}

// watcherC is a static program for a container with CAP_SYS_PTRACE: for a while it opens the
// /proc/PID/root and /proc/PID/cwd of every other process it sees and looks for a file of the
// host's through them, and reports a process whose /proc/PID/exe is the host's hako binary.
const watcherC = `#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	time_t end = time(NULL) + atoi(argv[1]);
	long seen = 0;
	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9' || atoi(de->d_name) == getpid())
				continue;
			const char *links[] = {"root", "cwd"};
			for (int i = 0; i < 2; i++) {
				char p[64];
				snprintf(p, sizeof p, "/proc/%s/%s", de->d_name, links[i]);
				int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (fd < 0)
					continue;
				seen++;
				int m = openat(fd, argv[2] + 1, O_RDONLY | O_CLOEXEC);
				if (m >= 0)
					printf("HOST via %s\n", p);
				close(m), close(fd);
			}
			char p[64], exe[512] = {0};
			snprintf(p, sizeof p, "/proc/%s/exe", de->d_name);
			if (readlink(p, exe, sizeof exe - 1) > 0 && strcmp(exe, argv[3]) == 0)
				printf("HOST EXE via %s\n", p);
		}
		closedir(d);
	}
	printf("done, %ld links opened\n", seen);
	return 0;
}
`

// TestExecInvisibleUntilInContainer: the CVE-2019-5736 and CVE-2016-9962 classes against a
// container that holds CAP_SYS_PTRACE, for which being not dumpable is no protection. No
// process that an exec starts is visible in the container before it is in the container's
// mount namespace: none lends the container a root, a working directory or an exe of the
// host's, on either path.
func TestExecInvisibleUntilInContainer(t *testing.T) {
	s := runStore(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "watch.c"), []byte(watcherC), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-O2", "-static", "-o", filepath.Join(dir, "watch"), filepath.Join(dir, "watch.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc -static: %v: %s", err, out)
	}
	marker := filepath.Join(dir, "host-only-marker")
	if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(s.ok("run", "-d", "--name", "ptr", "--cap-add", "SYS_PTRACE", "-v", dir+":/t:ro", "busybox", "sleep", "1000"))
	s.waitExecProfile(id)
	for _, path := range []string{"c", "go"} {
		watch := exec.Command(hakoBin, "--root", s.root, "exec", "ptr", "/t/watch", "8", marker, hakoBin)
		watch.Env = append(os.Environ(), "HAKO_EXEC_PATH=go")
		var out strings.Builder
		watch.Stdout, watch.Stderr = &out, &out
		if err := watch.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		n := 0
		for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); n++ {
			cmd := exec.Command(hakoBin, "--root", s.root, "exec", "ptr", "true")
			cmd.Env = append(os.Environ(), "HAKO_EXEC_PATH="+path)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("HAKO_EXEC_PATH=%s exec ptr true: %v: %s", path, err, b)
			}
		}
		if err := watch.Wait(); err != nil {
			t.Fatalf("watcher: %v: %s", err, out.String())
		}
		if strings.Contains(out.String(), "HOST") || !strings.Contains(out.String(), "done") {
			t.Errorf("HAKO_EXEC_PATH=%s, %d execs: the container reached the host:\n%s", path, n, out.String())
		} else {
			t.Logf("HAKO_EXEC_PATH=%s, %d execs: %s", path, n, strings.TrimSpace(out.String()))
		}
	}
}
