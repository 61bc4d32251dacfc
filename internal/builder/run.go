package builder

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/ocijson"
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
	e   *engine.Engine
	tmp string // the build's scratch directory
}

func (x *runExecutor) Run(ctx context.Context, req build.RunRequest) error {
	dir := filepath.Join(x.tmp, req.ID)
	if req.Private != "" {
		// The bundle holds the secrets given as environment variables: memory only.
		dir = filepath.Join(req.Private, "run")
	}
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
	for _, m := range req.Mounts {
		mounts = append(mounts, specs.Mount{Destination: m.Target, Type: m.Type, Source: m.Source, Options: m.Options})
	}
	empty := []string{}
	s, err := spec.Generate(ocispec.ImageConfig{}, spec.Options{
		ID: req.ID, Hostname: buildHostname, Entrypoint: &empty, Cmd: req.Spec.Args, Env: withSecretEnv(req.Spec.Env, req.SecretEnv),
		User: req.Spec.User, WorkingDir: req.Spec.WorkingDir, Rootfs: req.Rootfs, NetworkMode: req.Spec.Network, Mounts: mounts,
	})
	if err != nil {
		return err
	}
	s.Root.Path = req.Rootfs
	stubs, err := makeStubs(req.Rootfs, s.Mounts)
	if err != nil {
		return err
	}
	defer stubs.remove()

	bundle, err := filepath.Abs(filepath.Join(dir, "bundle")) // as runtime.Start has it
	if err != nil {
		return err
	}
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return err
	}
	sb, err := ocijson.MarshalSpec(s) // json.Marshal's, without its reflection (package ocijson)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), sb, 0o600); err != nil {
		return err
	}
	rt, err := x.e.NewRuntime()
	if err != nil {
		return err
	}
	rt.FastStart = true // the C start path, with a seccomp filter a container of the store cached
	// The spec in hand, not config.json read back (encoding/json's decoder for it, built at its
	// first use in the process, and the decoding: about a millisecond).
	p, err := rt.StartSpec(ctx, req.ID, bundle, s, runtime.IO{Stdout: req.Stdout, Stderr: req.Stderr})
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
