package ocijson

import (
	"encoding/json"

	"github.com/mailru/easyjson/jwriter"
	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MarshalSpec is json.Marshal(s).
func MarshalSpec(s *specs.Spec) ([]byte, error) {
	var w jwriter.Writer
	(*Spec)(s).MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// MarshalStateBody is json.Marshal(StateBody{State: st}).
func MarshalStateBody(st *libcontainer.State) ([]byte, error) {
	// easyjson reads the members of an embedded pointer through it: a nil one, which
	// encoding/json skips, would panic. libcontainer's configuration always has its cgroup's
	// resources; one without takes encoding/json.
	if st == nil || st.Config.Cgroups != nil && st.Config.Cgroups.Resources == nil {
		return json.Marshal(StateBody{State: st})
	}
	var w jwriter.Writer
	StateBody{State: st}.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// MarshalStateLate is json.Marshal(l).
func MarshalStateLate(l *StateLate) ([]byte, error) {
	var w jwriter.Writer
	l.MarshalEasyJSON(&w)
	return w.BuildBytes()
}
