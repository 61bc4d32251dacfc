package runtime

import (
	"encoding/json"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
)

// WarmCodecs has encoding/json build, and cache, the encoders of what a start encodes:
// libcontainer's state (with its whole configuration) and the seccomp configuration that keys
// the filter cache. Building them is reflection over large types, milliseconds on a start's
// path; a monitor that waits for its container does it meanwhile.
func WarmCodecs() {
	json.Marshal(&libcontainer.State{BaseState: libcontainer.BaseState{Config: configs.Config{Seccomp: &configs.Seccomp{}}}})
	json.Unmarshal([]byte("{}"), &map[string]json.RawMessage{})
}
