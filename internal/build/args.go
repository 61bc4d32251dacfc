package build

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/hako-dev/hako/internal/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// proxyArgs may be passed with --build-arg without an ARG: Docker hands them to RUN and keeps
// them out of the image's history and the cache key.
var proxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
	"NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// IsProxyArg reports a predefined proxy arg.
func IsProxyArg(k string) bool { return slices.Contains(proxyArgs, k) }

// PredefinedArgs are BuildKit's automatic platform args: usable in FROM lines, and in a stage
// once declared with `ARG NAME`.
func PredefinedArgs(p ocispec.Platform) map[string]string {
	plat := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		plat += "/" + p.Variant
	}
	return map[string]string{
		"TARGETPLATFORM": plat, "TARGETOS": p.OS, "TARGETARCH": p.Architecture, "TARGETVARIANT": p.Variant,
		"BUILDPLATFORM": plat, "BUILDOS": p.OS, "BUILDARCH": p.Architecture, "BUILDVARIANT": p.Variant,
	}
}

// ParseBuildArgs reads --build-arg values: K=V, or K alone to take K's value from the
// environment (lookup, usually os.LookupEnv). K alone with no such variable is an error, as
// the issue asks, where Docker silently drops it.
func ParseBuildArgs(in []string, lookup func(string) (string, bool)) (map[string]string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	out := map[string]string{}
	for _, s := range in {
		k, v, ok := strings.Cut(s, "=")
		if k == "" {
			return nil, errdefs.Invalidf("invalid --build-arg %q: no name", s)
		}
		if !ok {
			ev, found := lookup(k)
			if !found {
				return nil, errdefs.Invalidf("--build-arg %s has no value: give it as %s=VALUE or set %s in the environment", k, k, k)
			}
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

// KV is a name and value, in declaration order.
type KV struct{ Key, Value string }

// kvEnv is a shell.EnvGetter over ordered pairs, later ones winning.
type kvEnv struct {
	m    map[string]string
	keys []string
}

func newEnv() *kvEnv { return &kvEnv{m: map[string]string{}} }

func (e *kvEnv) set(k, v string) {
	if _, ok := e.m[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.m[k] = v
}

func (e *kvEnv) setDefault(k, v string) {
	if _, ok := e.m[k]; !ok {
		e.set(k, v)
	}
}

func (e *kvEnv) Get(k string) (string, bool) { v, ok := e.m[k]; return v, ok }
func (e *kvEnv) Keys() []string              { return e.keys }

// UnusedArgs lists build args that no ARG declares (proxy args and SOURCE_DATE_EPOCH, which
// the builder itself consumes, excepted), sorted, for the warning Docker prints.
func unusedArgs(given map[string]string, declared map[string]bool) []string {
	var out []string
	for k := range given {
		if !declared[k] && !IsProxyArg(k) && k != "SOURCE_DATE_EPOCH" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// UnusedArgsWarning is Docker's wording.
func UnusedArgsWarning(args []string) string {
	return fmt.Sprintf("[Warning] One or more build-args %v were not consumed", args)
}
