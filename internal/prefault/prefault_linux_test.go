package prefault

import (
	"os"
	"slices"
	"testing"
)

func TestArgsAreOsArgs(t *testing.T) {
	if got := args(); !slices.Equal(got, os.Args) {
		t.Fatalf("args() = %q, os.Args = %q", got, os.Args)
	}
}

func TestIsMonitor(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"hako-monitor", "--root", "/r", "--snapshotter", "overlay", "__monitor", "--", "x"}, true},
		{[]string{"hako", "--root", "/r", "--snapshotter", "", "__monitor"}, true},
		{[]string{"hako", "run", "--rm", "busybox", "true"}, false},
		{[]string{"hako", "--root", "/r", "__monitor"}, false},
		{nil, false},
	} {
		if got := isMonitor(c.args); got != c.want {
			t.Errorf("isMonitor(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
