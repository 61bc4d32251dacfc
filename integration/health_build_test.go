package integration

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHealthcheckFromBuiltImage: a HEALTHCHECK that `hako build` wrote into an image is run by
// the container's monitor with the image's interval and retries: ps shows (healthy) or
// (unhealthy), and inspect shows State.Health with the check's log.
func TestHealthcheckFromBuiltImage(t *testing.T) {
	s := runStore(t)
	s.mustBuild("-t", "hc-good", buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\nHEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD echo alive\n",
	}))
	s.mustBuild("-t", "hc-bad", buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\nHEALTHCHECK --interval=1s --retries=2 CMD echo broken; exit 3\n",
	}))
	if got := s.ok("image", "inspect", "--format", "{{json .Config.Healthcheck}}", "hc-good"); !strings.Contains(got, `"Test":["CMD-SHELL","echo alive"]`) || !strings.Contains(got, `"Interval":1000000000`) || !strings.Contains(got, `"Retries":2`) {
		t.Fatalf("the built image's healthcheck: %s", got)
	}

	s.ok("run", "-d", "--name", "good", "hc-good", "sleep", "100000")
	s.ok("run", "-d", "--name", "bad", "hc-bad", "sleep", "100000")
	s.waitFor(15*time.Second, "good healthy", func(o string) bool { return strings.Contains(o, "(healthy)") }, "ps", "--filter", "name=good", "--format", "{{.Status}}")
	s.waitFor(15*time.Second, "bad unhealthy", func(o string) bool { return strings.Contains(o, "(unhealthy)") }, "ps", "--filter", "name=bad", "--format", "{{.Status}}")

	out := s.ok("inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{json .State.Health.Log}}", "good")
	if !strings.HasPrefix(out, "healthy 0 ") || !strings.Contains(out, `"ExitCode":0`) || !strings.Contains(out, `"Output":"alive\n"`) {
		t.Fatalf("inspect of the healthy container: %s", out)
	}
	out = s.ok("inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{json .State.Health.Log}}", "bad")
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("inspect of the unhealthy container: %s", out)
	}
	if n, _ := strconv.Atoi(f[1]); f[0] != "unhealthy" || n < 2 || !strings.Contains(out, `"ExitCode":3`) || !strings.Contains(out, `"Output":"broken\n"`) {
		t.Fatalf("inspect of the unhealthy container: %s", out)
	}
}
