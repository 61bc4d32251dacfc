package runtime

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

var rlimitTypes = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// checkRlimits refuses ulimits that the kernel would refuse in the container's init, with a
// message that names the ulimit: a hard limit above this process's needs CAP_SYS_RESOURCE
// (which root lacks on some hosts), and a soft limit cannot exceed its hard one.
func checkRlimits(limits []specs.POSIXRlimit) error {
	for _, rl := range limits {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return errdefs.Invalidf("unknown ulimit type %q", rl.Type)
		}
		name := strings.ToLower(strings.TrimPrefix(rl.Type, "RLIMIT_"))
		if rl.Soft > rl.Hard {
			return errdefs.Invalidf("ulimit %s: soft limit %d is above the hard limit %d", name, rl.Soft, rl.Hard)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return err
		}
		if rl.Hard > cur.Max && cur.Max != unix.RLIM_INFINITY && !haveCap(unix.CAP_SYS_RESOURCE) {
			return errdefs.Invalidf("ulimit %s: hard limit %d is above this host's %d, and raising a hard limit needs CAP_SYS_RESOURCE, which hako lacks here (use --ulimit %s=%d:%d or lower)",
				name, rl.Hard, cur.Max, name, min(rl.Soft, cur.Max), cur.Max)
		}
	}
	return nil
}

func haveCap(c int) bool {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return false
	}
	if err := caps.Load(); err != nil {
		return false
	}
	return caps.Get(capability.EFFECTIVE, capability.Cap(c))
}

// swapLimitSupported reports whether a memory+swap limit can be set: cgroup v1 needs swap
// accounting (memory.memsw.*), v2 memory.swap.max.
func swapLimitSupported() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		return true // libcontainer checks memory.swap.max itself
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// oomKilled reads the OOM-kill counter of the container's memory cgroup: "oom_kill N" in
// memory.oom_control on v1 (kernel 4.13+) and in memory.events on v2.
func oomKilled(paths map[string]string) bool {
	var file string
	if p, ok := paths["memory"]; ok {
		file = filepath.Join(p, "memory.oom_control")
	} else if p, ok := paths[""]; ok {
		file = filepath.Join(p, "memory.events")
	} else {
		return false
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n > 0
		}
	}
	return false
}
