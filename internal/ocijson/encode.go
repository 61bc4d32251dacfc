package ocijson

import (
	"encoding/json"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/jsoncodec"
)

// MarshalSpec is json.Marshal(s).
func MarshalSpec(s *specs.Spec) ([]byte, error) {
	return jsoncodec.Marshal((*Spec)(s))
}

// MarshalSeccomp is json.Marshal(s).
func MarshalSeccomp(s *specs.LinuxSeccomp) ([]byte, error) {
	return jsoncodec.Marshal((*Seccomp)(s))
}

// MarshalStateBody is json.Marshal(StateBody{State: st}).
func MarshalStateBody(st *libcontainer.State) ([]byte, error) {
	// easyjson reads the members of an embedded pointer through it: a nil one, which
	// encoding/json skips, would panic. libcontainer's configuration always has its cgroup's
	// resources; one without takes encoding/json.
	if st == nil || st.Config.Cgroups != nil && st.Config.Cgroups.Resources == nil {
		return json.Marshal(StateBody{State: st})
	}
	return jsoncodec.Marshal(StateBody{State: st})
}

// MarshalStateLate is json.Marshal(l).
func MarshalStateLate(l *StateLate) ([]byte, error) {
	return jsoncodec.Marshal(l)
}
