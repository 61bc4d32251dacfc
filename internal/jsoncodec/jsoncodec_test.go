package jsoncodec_test

import (
	"os/exec"
	"strings"
	"testing"
)

// hako-monitor, built as scripts/build.sh builds it, links neither easyjson's root package nor
// net/http (the reason for this package).
func TestMonitorLeavesOutNetHTTP(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "list", "-tags", "seccomp,netgo,osusergo,hakolean", "-deps", "github.com/hako-dev/hako/cmd/hako-monitor").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "net/http" || p == "github.com/mailru/easyjson" {
			t.Errorf("hako-monitor links %s", p)
		}
	}
}
