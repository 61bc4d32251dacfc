package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"sync"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/fastexec"
	"github.com/hako-dev/hako/internal/ocijson"
)

// The seccomp cache (docs/run.md): the filters that libcontainer's inits loaded, read back
// from the kernel, by configuration. The C start path loads them instead of compiling the
// profile; a configuration not seen yet takes libcontainer's path once, which fills the cache.

// seccompCacheDir is SeccompCache, or beside the runtime's state: <root>/seccomp-cache for
// <root>/runtime.
func (r *Runtime) seccompCacheDir() string {
	if r.SeccompCache != "" {
		return r.SeccompCache
	}
	return filepath.Join(filepath.Dir(r.root), "seccomp-cache")
}

// seccompCacheKey names the compiled filter of a spec's seccomp section: the section, as
// config.json gives it to a runtime (libcontainer's configuration is made from it alone,
// specconv.SetupSeccomp), and everything else the compiled program depends on (libcontainer
// and libseccomp, which convert and compile it, and the kernel and architecture, which they
// probe).
func seccompCacheKey(sc *specs.LinuxSeccomp) (string, error) {
	js, err := ocijson.MarshalSeccomp(sc)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte("spec1\x00")) // keys of another scheme name other files
	h.Write(js)
	fmt.Fprintf(h, "\x00%s\x00%s\x00%s", compilerVersions(), kernelRelease(), goruntime.GOARCH)
	return hex.EncodeToString(h.Sum(nil)), nil
}

var compilerVersions = sync.OnceValue(func() string {
	major, minor, micro := seccomp.Version()
	return fmt.Sprintf("libcontainer %s libseccomp %d.%d.%d", moduleVersion("github.com/opencontainers/runc"), major, minor, micro)
})

// moduleVersion is the version and sum of the module path built into this binary, with its
// replacement (a fork or a local copy works its own way), or "unknown": for the keys of what
// the module's code computed.
func moduleVersion(path string) string {
	if bi, ok := buildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				v := d.Version + " " + d.Sum
				if r := d.Replace; r != nil {
					v += " => " + r.Path + " " + r.Version + " " + r.Sum
				}
				return v
			}
		}
	}
	return "unknown"
}

// buildInfo is this binary's, parsed once: a start asks it for two modules' versions (the
// seccomp cache's key and the kept cgroup search's digest).
var buildInfo = sync.OnceValues(debug.ReadBuildInfo)

var kernelRelease = sync.OnceValue(func() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:])
})

// cachedSeccomp returns the filter cached for the seccomp section sc, or an error that says it
// is not there.
func (r *Runtime) cachedSeccomp(sc *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	key, err := seccompCacheKey(sc)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(r.seccompCacheDir(), key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("the seccomp filter of this configuration is not cached yet (the first container with it takes libcontainer's path)")
	}
	if err != nil {
		return nil, err
	}
	prog, err := fastexec.DecodeFilter(data)
	if err != nil {
		return nil, fmt.Errorf("seccomp cache %s: %w", key, err)
	}
	return prog, nil
}

// cacheSeccomp stores the filter an init loaded for the seccomp section sc. Failing only means
// a later start takes libcontainer's path again.
func (r *Runtime) cacheSeccomp(sc *specs.LinuxSeccomp, prog []unix.SockFilter) error {
	key, err := seccompCacheKey(sc)
	if err != nil {
		return err
	}
	dir := r.seccompCacheDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Replace(filepath.Join(dir, key), fastexec.EncodeFilter(prog), 0o600)
}
