package runtime

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/opencontainers/runc/libcontainer"

	"github.com/hako-dev/hako/internal/errdefs"
)

// A signal that finds the init gone (libcontainer's "not running", or os's "process already
// finished" when it ended between libcontainer's look at its state and the signal) is a
// conflict that `rm -f` goes past; anything else stays what it was.
func TestClassifyStateError(t *testing.T) {
	for _, tc := range []struct {
		err      error
		conflict bool
	}{
		{libcontainer.ErrNotRunning, true},
		{fmt.Errorf("unable to signal init: %w", os.ErrProcessDone), true},
		{libcontainer.ErrPaused, true},
		{errors.New("permission denied"), false},
	} {
		got := classifyStateError("c1", fmt.Errorf("signal container c1: %w", tc.err))
		if errors.Is(got, errdefs.ErrConflict) != tc.conflict || !errors.Is(got, tc.err) {
			t.Errorf("%v: got %v (conflict %v, want %v)", tc.err, got, errors.Is(got, errdefs.ErrConflict), tc.conflict)
		}
	}
}
