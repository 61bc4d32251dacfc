package engine

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Top is `top CONTAINER [ps OPTIONS]`: the host's ps with the options (default -ef), filtered
// to the processes of the container's cgroup, as Docker does. It returns ps's header and the
// rows, each split into the header's columns (the last column keeps its spaces).
func (e *Engine) Top(ctx context.Context, ref string, psArgs []string) (titles []string, rows [][]string, err error) {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return nil, nil, err
	}
	if !c.State.Running {
		return nil, nil, errdefs.Conflictf("container %s is not running", c.ID)
	}
	g, err := containerCgroup(c)
	if err != nil {
		return nil, nil, err
	}
	pids, err := g.pids()
	if err != nil {
		return nil, nil, fmt.Errorf("top %s: %w", ref, err)
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.CommandContext(ctx, "ps", psArgs...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, nil, errdefs.Invalidf("ps %s: %s", strings.Join(psArgs, " "), msg)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles = strings.Fields(lines[0])
	pidCol := slices.Index(titles, "PID")
	if pidCol < 0 {
		return nil, nil, errdefs.Invalidf("couldn't find PID field in ps output")
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(f[pidCol])
		if err != nil || !slices.Contains(pids, pid) {
			continue
		}
		if len(f) > len(titles) {
			f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		}
		rows = append(rows, f)
	}
	return titles, rows, nil
}
