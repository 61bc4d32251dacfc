//go:build linux && cgo

package cli

import (
	"testing"

	"github.com/spf13/pflag"
)

// TestForkGuessKnowsRunFlags: runfork.c keeps its own lists of run's flags, to find the image
// and -d before Go parses anything. Every flag of run must be one it knows (a value skipped, a
// boolean passed over), or it would give up on runs that use it; -i and -t it leaves to Go.
func TestForkGuessKnowsRunFlags(t *testing.T) {
	cmd := runCmd(&app{}, false)
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		names := []string{"--" + f.Name}
		if f.Shorthand != "" {
			names = append(names, "-"+f.Shorthand)
		}
		for _, n := range names {
			var args []string
			switch {
			case f.Name == "detach":
				args = []string{n, "busybox"}
			case f.Name == "interactive" || f.Name == "tty" || f.Name == "help":
				if got := forkGuess([]string{n, "busybox"}); got != -1 {
					t.Errorf("%s: guess %d, want -1 (left to Go)", n, got)
				}
				continue
			case f.Value.Type() == "bool":
				args = []string{n, "-d", "busybox"}
			default:
				args = []string{n, "v", "-d", "busybox"}
			}
			if got := forkGuess(args); got != 1 {
				t.Errorf("%v: guess %d, want 1 (detached)", args, got)
			}
		}
	})
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"busybox", "ls", "-d"}, 0},
		{[]string{"-e", "-d", "busybox"}, 0}, // -d is -e's value
		{[]string{"-eA=1", "-d", "busybox"}, 1},
		{[]string{"-dit", "busybox"}, -1},
		{[]string{"--detach=false", "busybox"}, -1},
		{[]string{"--nosuch", "busybox"}, -1},
		{[]string{"--", "busybox"}, 0},
	} {
		if got := forkGuess(tc.args); got != tc.want {
			t.Errorf("%v: guess %d, want %d", tc.args, got, tc.want)
		}
	}
}
