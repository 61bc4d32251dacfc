package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/runtime"
	"github.com/hako-dev/hako/internal/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// buildHostname is the host name RUN steps see (BuildKit's is "buildkitsandbox").
const buildHostname = "hako-build"

// runExecutor is build.Executor on the real runtime: a container with Docker's defaults (no
// network unless RUN --network=host), run and waited for in this process, without a monitor.
type runExecutor struct {
	e   *Engine
	tmp string // the build's scratch directory
}

func (x *runExecutor) Run(ctx context.Context, req build.RunRequest) error {
	dir := filepath.Join(x.tmp, req.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mounts, err := spec.WriteEtcFiles(filepath.Join(dir, "etc"), spec.EtcFiles{Hostname: buildHostname, HostNetwork: req.Spec.Network == "host"})
	if err != nil {
		return err
	}
	if len(req.Spec.Files) > 0 {
		pipes := filepath.Join(dir, "pipes")
		if err := os.Mkdir(pipes, 0o755); err != nil {
			return err
		}
		for _, f := range req.Spec.Files {
			if err := os.WriteFile(filepath.Join(pipes, path.Base(f.Name)), []byte(f.Data), f.Mode); err != nil {
				return err
			}
		}
		mounts = append(mounts, specs.Mount{Destination: build.PipesDir, Type: "bind", Source: pipes, Options: []string{"rbind", "ro"}})
	}
	empty := []string{}
	s, err := spec.Generate(ocispec.ImageConfig{}, spec.Options{
		ID: req.ID, Hostname: buildHostname, Entrypoint: &empty, Cmd: req.Spec.Args, Env: req.Spec.Env,
		User: req.Spec.User, WorkingDir: req.Spec.WorkingDir, Rootfs: req.Rootfs, NetworkMode: req.Spec.Network, Mounts: mounts,
	})
	if err != nil {
		return err
	}
	s.Root.Path = req.Rootfs
	stubs := missingMountpoints(req.Rootfs, s.Mounts)
	defer removeStubs(stubs)

	bundle := filepath.Join(dir, "bundle")
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return err
	}
	sb, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), sb, 0o600); err != nil {
		return err
	}
	rt, err := runtime.New(x.e.runtimeRoot())
	if err != nil {
		return err
	}
	p, err := rt.Start(ctx, req.ID, bundle, runtime.IO{Stdout: req.Stdout, Stderr: req.Stderr})
	if err != nil {
		return err
	}
	defer rt.Delete(req.ID, true)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Ctrl-C: the step is abandoned, its container killed.
			rt.Signal(req.ID, syscall.SIGKILL, true)
		case <-done:
		}
	}()
	code, err := p.Wait()
	close(done)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if code != 0 {
		return &build.ExitError{Code: code}
	}
	return nil
}

// stub is a mount point the runtime had to create in the rootfs.
type stub struct {
	path string
	dir  bool
}

// missingMountpoints lists the mount destinations that do not exist in rootfs yet: the runtime
// creates them, and they must not end up in the step's layer (BuildKit removes them too).
func missingMountpoints(rootfs string, mounts []specs.Mount) []stub {
	var out []stub
	seen := map[string]bool{}
	for _, m := range mounts {
		// Only the first missing component matters: what is under it goes with it.
		cur := "/"
		for _, c := range splitPath(m.Destination) {
			cur = path.Join(cur, c)
			p, err := securejoin.SecureJoin(rootfs, cur)
			if err != nil {
				break
			}
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				if !seen[p] {
					seen[p] = true
					out = append(out, stub{path: p, dir: cur != m.Destination || m.Type != "bind" || isDirSource(m.Source)})
				}
				break
			}
		}
	}
	return out
}

func splitPath(p string) []string {
	var out []string
	for _, c := range filepathSplit(path.Clean(p)) {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

func filepathSplit(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

func isDirSource(src string) bool {
	fi, err := os.Stat(src)
	return err == nil && fi.IsDir()
}

// removeStubs removes the mount points the runtime created, when they are still empty (a RUN
// that wrote into one keeps it).
func removeStubs(stubs []stub) {
	sort.Slice(stubs, func(i, j int) bool { return len(stubs[i].path) > len(stubs[j].path) })
	for _, s := range stubs {
		fi, err := os.Lstat(s.path)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			removeEmptyTree(s.path)
		} else if fi.Mode().IsRegular() && fi.Size() == 0 {
			os.Remove(s.path)
		}
	}
}

// removeEmptyTree removes a directory made only of empty directories and empty files (what the
// runtime leaves, e.g. /dev with its mount points).
func removeEmptyTree(p string) bool {
	ents, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	empty := true
	for _, e := range ents {
		c := filepath.Join(p, e.Name())
		fi, err := os.Lstat(c)
		switch {
		case err != nil:
			empty = false
		case fi.IsDir():
			if !removeEmptyTree(c) {
				empty = false
			}
		case fi.Mode().IsRegular() && fi.Size() == 0:
			os.Remove(c)
		default:
			empty = false
		}
	}
	if empty {
		return os.Remove(p) == nil
	}
	return false
}
