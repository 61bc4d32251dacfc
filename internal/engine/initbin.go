package engine

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hako-dev/hako/internal/errdefs"
)

// initNames are the static inits `run --init` accepts from $PATH, hako's own first.
var initNames = []string{"hako-init", "docker-init", "tini-static", "catatonit"}

// findInit locates the static init binary that `run --init` bind-mounts into the container:
// $HAKO_INIT_PATH when set, else hako-init next to the hako executable (where `go build -o DIR/
// ./cmd/...` and `go install` put it), else the first of initNames on $PATH. hako itself cannot
// serve: it is linked against the host's libc and libseccomp, which an image does not have. A
// dynamically linked candidate is passed over for the same reason (Debian's plain tini, say).
func findInit() (string, error) {
	if p := os.Getenv("HAKO_INIT_PATH"); p != "" {
		if err := checkStatic(p); err != nil {
			return "", errdefs.Invalidf("HAKO_INIT_PATH: %v", err)
		}
		return p, nil
	}
	var candidates []string
	if p, err := besideSelf("hako-init"); err == nil {
		candidates = append(candidates, p)
	}
	for _, n := range initNames {
		if p, err := exec.LookPath(n); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if checkStatic(p) == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs, nil
			}
		}
	}
	return "", errdefs.Invalidf("--init: no static init binary found: build hako-init next to hako (go build -o DIR/ ./cmd/hako ./cmd/hako-init), set HAKO_INIT_PATH, or install docker-init or tini-static")
}

// checkStatic accepts an executable ELF file without a program interpreter.
func checkStatic(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New(p + " is dynamically linked: it cannot run inside an image")
		}
	}
	return nil
}

// besideSelf is name's path in the directory of the running executable (symlinks resolved),
// where `go build -o DIR/ ./cmd/...` and `go install` put hako's companions (hako-init,
// hako-monitor).
func besideSelf(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	return filepath.Join(filepath.Dir(self), name), nil
}
