// Package ocijson encodes the two JSON documents a container's start writes: the bundle's
// config.json (the OCI runtime spec) and libcontainer's state.json. It does so with encoders
// generated ahead of time by easyjson (ocijson_easyjson.go, made by tools/jsongen), not with
// encoding/json: encoding/json builds its encoder for a type by reflection at the type's first
// use in a process, and a `run` is a fresh process each time. For the spec's and the state's
// ~100 struct types that took ~2.4 ms of a run's CPU (typeFields, on two busy cores), against
// ~0.2 ms for the encoding itself.
//
// The output is what encoding/json gives for the same value, as JSON (internal/jsongen's TestSameAsEncodingJSON);
// only the order of a map's keys may differ (easyjson writes them in the map's order, where
// encoding/json sorts them), which no reader of either file depends on.
package ocijson

import (
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Spec is the OCI runtime spec, with easyjson's encoder.
type Spec specs.Spec

// Seccomp is the spec's seccomp section, with easyjson's encoder: the seccomp cache's key
// (package runtime) is its hash.
type Seccomp specs.LinuxSeccomp

// StateBody is libcontainer's state of a container that has no init yet: the state's members
// named below are left out (the outer, zero fields with omitempty shadow the embedded
// state's), for StateLate to add once the init runs.
type StateBody struct {
	*libcontainer.State
	InitProcessPid       int               `json:"init_process_pid,omitempty"`
	InitProcessStartTime uint64            `json:"init_process_start,omitempty"`
	Created              *struct{}         `json:"created,omitempty"`
	NamespacePaths       map[string]string `json:"namespace_paths,omitempty"`
	ExternalDescriptors  []string          `json:"external_descriptors,omitempty"`
}

// StateLate are the members of the state that StateBody leaves out, as libcontainer names them.
type StateLate struct {
	InitProcessPid       int                              `json:"init_process_pid"`
	InitProcessStartTime uint64                           `json:"init_process_start"`
	NamespacePaths       map[configs.NamespaceType]string `json:"namespace_paths"`
	Created              time.Time                        `json:"created"`
	ExternalDescriptors  []string                         `json:"external_descriptors"`
}
