package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
)

// cgroup finds a container's cgroup files: the v1 hierarchies (one per controller) where the
// container has them, as on hybrid hosts, or the v2 unified tree. The path is the one the spec
// asked for: CgroupParent (default /hako) / ID.
type cgroup struct {
	v2  bool
	rel string
}

const cgroupRoot = "/sys/fs/cgroup"

func containerCgroup(c *container.Container) (cgroup, error) {
	parent := c.Config.Options.CgroupParent
	if parent == "" {
		parent = "/hako"
	}
	g := cgroup{rel: path.Join("/", parent, c.ID)}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", g.rel)); err == nil {
		return g, nil
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, g.rel, "cgroup.controllers")); err == nil {
		g.v2 = true
		return g, nil
	}
	return g, errdefs.Conflictf("container %s has no cgroup: is it running?", c.Name)
}

// file is a controller file: v1 name (memory.usage_in_bytes) in the controller's hierarchy, or
// the v2 name in the unified tree.
func (g cgroup) file(controller, name string) string {
	if g.v2 {
		return filepath.Join(cgroupRoot, g.rel, name)
	}
	return filepath.Join(cgroupRoot, controller, g.rel, name)
}

func (g cgroup) read(controller, name string) (string, error) {
	b, err := os.ReadFile(g.file(controller, name))
	return strings.TrimSpace(string(b)), err
}

func (g cgroup) readInt(controller, name string) (int64, error) {
	s, err := g.read(controller, name)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// keyed reads "key value" lines (memory.stat, cpu.stat).
func (g cgroup) keyed(controller, name string) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(g.file(controller, name))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// pids lists the host PIDs of the container's processes.
func (g cgroup) pids() ([]int, error) {
	s, err := g.read("pids", "cgroup.procs")
	if err != nil {
		if s, err = g.read("memory", "cgroup.procs"); err != nil {
			return nil, err
		}
	}
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// cpuUsage is the cgroup's CPU time in nanoseconds.
func (g cgroup) cpuUsage() (int64, error) {
	if g.v2 {
		usec, ok := g.keyed("cpu", "cpu.stat")["usage_usec"]
		if !ok {
			return 0, errors.New("cpu.stat has no usage_usec")
		}
		return usec * 1000, nil
	}
	return g.readInt("cpuacct", "cpuacct.usage")
}

// Stats is one sample of `stats`, in Docker's units.
type Stats struct {
	ID, Name            string
	CPUPercent          float64
	MemUsage, MemLimit  int64
	MemPercent          float64
	NetRx, NetTx        int64
	BlockRead, BlockOut int64
	PIDs                int64
	// Running is false for a container that was not running when sampled: every number is 0.
	Running bool
}

// ContainerStats samples the containers refs twice, over interval, for the CPU percentage: the
// share of one CPU's time used, as Docker computes it (100% per busy CPU). With no refs it
// samples the running containers, or with all every container, newest first (`stats -a`).
func (e *Engine) ContainerStats(ctx context.Context, refs []string, all bool, interval time.Duration) ([]Stats, error) {
	var cs []*container.Container
	if len(refs) == 0 {
		list, err := e.Containers().List()
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if all || c.State.Running {
				cs = append(cs, c)
			}
		}
	}
	for _, r := range refs {
		c, err := e.Containers().Get(r)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	type sample struct {
		g     cgroup
		cpu   int64
		at    time.Time
		alive bool
	}
	first := make([]sample, len(cs))
	for i, c := range cs {
		if !c.State.Running {
			continue
		}
		g, err := containerCgroup(c)
		if err != nil {
			continue
		}
		u, _ := g.cpuUsage()
		first[i] = sample{g: g, cpu: u, at: time.Now(), alive: true}
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(interval):
	}
	out := make([]Stats, len(cs))
	hostMem := hostMemory()
	for i, c := range cs {
		st := Stats{ID: c.ID, Name: c.Name}
		s := first[i]
		if s.alive {
			st.Running = true
			g := s.g
			if u, err := g.cpuUsage(); err == nil {
				if wall := time.Since(s.at); wall > 0 {
					st.CPUPercent = float64(u-s.cpu) / float64(wall.Nanoseconds()) * 100
				}
			}
			if g.v2 {
				st.MemUsage, _ = g.readInt("memory", "memory.current")
				st.MemUsage -= g.keyed("memory", "memory.stat")["inactive_file"]
				st.MemLimit, _ = g.readInt("memory", "memory.max")
				st.BlockRead, st.BlockOut = ioStatV2(g.file("io", "io.stat"))
			} else {
				st.MemUsage, _ = g.readInt("memory", "memory.usage_in_bytes")
				st.MemUsage -= g.keyed("memory", "memory.stat")["total_inactive_file"]
				st.MemLimit, _ = g.readInt("memory", "memory.limit_in_bytes")
				st.BlockRead, st.BlockOut = blkioV1(g.file("blkio", "blkio.throttle.io_service_bytes"))
			}
			if st.MemUsage < 0 {
				st.MemUsage = 0
			}
			if st.MemLimit <= 0 || st.MemLimit > hostMem {
				st.MemLimit = hostMem
			}
			if st.MemLimit > 0 {
				st.MemPercent = float64(st.MemUsage) / float64(st.MemLimit) * 100
			}
			st.PIDs, _ = g.readInt("pids", "pids.current")
			if pids, err := g.pids(); err == nil && len(pids) > 0 {
				st.NetRx, st.NetTx = netDev(c.State.Pid)
			}
		}
		out[i] = st
	}
	return out, nil
}

func hostMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// blkioV1 sums the Read and Write lines of blkio.throttle.io_service_bytes.
func blkioV1(p string) (r, w int64) {
	b, _ := os.ReadFile(p)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		switch f[1] {
		case "Read":
			r += n
		case "Write":
			w += n
		}
	}
	return r, w
}

// ioStatV2 sums rbytes= and wbytes= of io.stat.
func ioStatV2(p string) (r, w int64) {
	b, _ := os.ReadFile(p)
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "rbytes="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			r += n
		} else if v, ok := strings.CutPrefix(f, "wbytes="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			w += n
		}
	}
	return r, w
}

// netDev sums the bytes of the container's interfaces but loopback, from its network namespace.
func netDev(pid int) (rx, tx int64) {
	if pid <= 0 {
		return 0, 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseInt(f[0], 10, 64)
		t, _ := strconv.ParseInt(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}
