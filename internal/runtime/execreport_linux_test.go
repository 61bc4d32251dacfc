package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/spec"
)

func TestExecFailure(t *testing.T) {
	const pre = "unable to start container process: error during container init: "
	for _, tc := range []struct {
		text  string
		class error // nil: none (125)
	}{
		{"exec /x: exec format error", errdefs.ErrCannotExecute},
		{"exec /x: permission denied", errdefs.ErrCannotExecute},
		{"exec /x: is a directory", errdefs.ErrCannotExecute},
		{"exec /x: no such file or directory", errdefs.ErrCommandNotFound},
		{"exec /x: not a directory", errdefs.ErrCommandNotFound},
		{"exec /usr/bin/x y: exec format error", errdefs.ErrCannotExecute},
		// The class is the errno's, never the name's.
		{"exec /no such file or directory: exec format error", errdefs.ErrCannotExecute},
		{"exec /exec format error: no such file or directory", errdefs.ErrCommandNotFound},
		{"exec /x: argument list too long", nil},
		// Not an execve: a hook, the exec fifo.
		{"reopen exec fifo: permission denied", nil},
		{"error running hook #0: exec: \"/h\": no such file or directory", nil},
		{"exec: \"/h\": no such file or directory", nil},
		// Only the last line is libcontainer's error.
		{"exec /x: permission denied\nsomething else", nil},
		{"write sync: broken pipe\nexec /x: exec format error", errdefs.ErrCannotExecute},
	} {
		err := execFailure(pre, tc.text)
		if err.Error() != pre+tc.text {
			t.Errorf("%q: message %q", tc.text, err.Error())
		}
		for _, c := range []error{errdefs.ErrCannotExecute, errdefs.ErrCommandNotFound} {
			if errors.Is(err, c) != (c == tc.class) {
				t.Errorf("%q: classed %v as %v, want %v", tc.text, errors.Is(err, c), c, c == tc.class)
			}
		}
	}
}

func TestClassifyExecError(t *testing.T) {
	for _, tc := range []struct {
		msg   string
		class error
	}{
		{`start container x: unable to start container process: error during container init: exec: "nope": executable file not found in $PATH`, errdefs.ErrCommandNotFound},
		{`exec: "/x": stat /x: no such file or directory`, errdefs.ErrCommandNotFound},
		{`exec: "/etc/passwd": permission denied`, errdefs.ErrCannotExecute},
		{`exec: "/etc": is a directory`, errdefs.ErrCannotExecute},
		{`mount proc: permission denied`, nil},
	} {
		err := classifyExecError(errors.New(tc.msg))
		for _, c := range []error{errdefs.ErrCannotExecute, errdefs.ErrCommandNotFound} {
			if errors.Is(err, c) != (c == tc.class) {
				t.Errorf("%q: classed %v, want %v", tc.msg, errors.Is(err, c), c == tc.class)
			}
		}
	}
}

func TestPassedFiles(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, -1},
		{map[string]string{"_LIBCONTAINER_INITPIPE": "3", "_LIBCONTAINER_SYNCPIPE": "4", "_LIBCONTAINER_LOGPIPE": "5", "_LIBCONTAINER_FIFOFD": "6"}, 0},
		{map[string]string{"_LIBCONTAINER_INITPIPE": "4", "_LIBCONTAINER_SYNCPIPE": "5", "_LIBCONTAINER_LOGPIPE": "6"}, 1},
		{map[string]string{"_LIBCONTAINER_CONSOLE": "4", "_LIBCONTAINER_INITPIPE": "5", "_LIBCONTAINER_SYNCPIPE": "6"}, 1},
		{map[string]string{"_LIBCONTAINER_CONSOLE": "3", "_LIBCONTAINER_INITPIPE": "4"}, 0},
		{map[string]string{"_LIBCONTAINER_INITPIPE": "6", "_LIBCONTAINER_SYNCPIPE": "7"}, 3},
		{map[string]string{"_LIBCONTAINER_INITPIPE": "x"}, -1},
		{map[string]string{"_LIBCONTAINER_INITPIPE": "2"}, -1},
	} {
		if got := passedFiles(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.env, got, tc.want)
		}
	}
}

// unreaped lists this process's children that are zombies.
func unreaped(t *testing.T) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[0] == "Z" && f[1] == me {
			out = append(out, s[:i+1])
		}
	}
	return out
}

// TestExecReport: a command that the kernel refuses to execute (a script without #!, a missing
// interpreter) is a start error of Docker's class on libcontainer's path as on the C path, in
// the same words, for an init (with a terminal, and with IO.CallerReaps too) and for an exec;
// nothing is left behind; a command that prints the same words and exits 255 exits 255.
func TestExecReport(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	prep := func(rootfs string) {
		for name, text := range map[string]string{"noshebang": "echo hi\n", "badinterp": "#!/nonexistent\n"} {
			if err := os.WriteFile(filepath.Join(rootfs, "bin", name), []byte(text), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		cmd   string
		class error
		says  string
	}{
		{"/bin/noshebang", errdefs.ErrCannotExecute, "exec /bin/noshebang: exec format error"},
		{"/bin/badinterp", errdefs.ErrCommandNotFound, "exec /bin/badinterp: no such file or directory"},
	}
	for _, tc := range cases {
		var msgs []string
		for _, v := range []struct {
			path string
			io   IO
		}{
			{"c", IO{}},
			{"go", IO{}},
			{"go", IO{Tty: true}},
			{"go", IO{CallerReaps: true}},
			{"c", IO{CallerReaps: true}},
		} {
			what := tc.cmd + " " + v.path
			if v.io.Tty {
				what += " tty"
			}
			if v.io.CallerReaps {
				what += " caller-reaps"
			}
			withRunPath(t, v.path)
			c := newCtr(t, prep)
			c.writeSpec(spec.Options{Tty: v.io.Tty}, tc.cmd)
			p, err := c.rt.Start(context.Background(), c.id, c.bundle, v.io)
			if err == nil {
				code, _ := waitTimeout(t, p, 30*time.Second)
				t.Errorf("%s: started, exit %d; want %v", what, code, tc.class)
				continue
			}
			if !errors.Is(err, tc.class) || !strings.HasSuffix(err.Error(), ": "+tc.says) {
				t.Errorf("%s: %v, want %v ending %q", what, err, tc.class, tc.says)
			}
			msgs = append(msgs, strings.ReplaceAll(err.Error(), c.id, "ID"))
			if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: state left: %v", what, err)
			}
			if d := ctrCgroupDirs(c.id); len(d) != 0 {
				t.Errorf("%s: cgroups left: %q", what, d)
			}
			if z := unreaped(t); len(z) != 0 {
				t.Errorf("%s: zombies left: %q", what, z)
			}
		}
		for _, m := range msgs[1:] {
			if m != msgs[0] {
				t.Errorf("%s: the paths say\n%s\nand\n%s", tc.cmd, msgs[0], m)
			}
		}
	}

	// A command that says the same and exits 255 by itself; and it has no descriptor 3.
	withRunPath(t, "go")
	c := newCtr(t, prep)
	// The shell itself (no child, which would add a pipeline's descriptors to it) looks for any
	// descriptor above 2.
	script := `for f in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$f ] && echo "fd $f"; done; echo "exec /bin/noshebang: exec format error" >&2; exit 255`
	r := c.mustRun(spec.Options{}, "sh", "-c", script)
	if r.exit != 255 || r.stderr != "exec /bin/noshebang: exec format error\n" || r.stdout != "" {
		t.Errorf("a command that exits 255: %+v", r)
	}

	// An exec on libcontainer's path.
	c = newCtr(t, prep)
	s := c.writeSpec(spec.Options{}, "sleep", "100")
	p, err := c.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.rt.Delete(c.id, true)
		waitTimeout(t, p, 10*time.Second)
	}()
	for _, tc := range cases {
		for _, tty := range []bool{false, true} {
			ep := *s.Process
			ep.Args, ep.Terminal = []string{tc.cmd}, tty
			_, err := c.rt.Exec(context.Background(), c.id, ep, IO{Tty: tty})
			if !errors.Is(err, tc.class) || !strings.HasSuffix(err.Error(), ": unable to start container process: "+tc.says) {
				t.Errorf("exec %s (tty %v): %v, want %v ending %q", tc.cmd, tty, err, tc.class, tc.says)
			}
			if z := unreaped(t); len(z) != 0 {
				t.Errorf("exec %s: zombies left: %q", tc.cmd, z)
			}
		}
	}
	ep := *s.Process
	ep.Args = []string{"sh", "-c", script}
	var out, errb bytes.Buffer
	e, err := c.rt.Exec(context.Background(), c.id, ep, IO{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, e, 30*time.Second); code != 255 || errb.String() != "exec /bin/noshebang: exec format error\n" || out.String() != "" {
		t.Errorf("an exec'd command that exits 255: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
