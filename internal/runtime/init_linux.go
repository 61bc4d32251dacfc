package runtime

import (
	"os"

	// The devices cgroup controller: without it libcontainer cannot apply the device rules of
	// a spec and refuses to start containers.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// nsenter's C constructor runs before the Go runtime starts in every process of this
	// binary. In a re-executed container init (or exec) it joins or creates the namespaces
	// while the process is still single-threaded, which Go cannot do; in any other process it
	// returns at once, as _LIBCONTAINER_INITPIPE is unset.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// Init turns this process into a container's init (or an exec'd process) when libcontainer
// re-executed it for that purpose, and then never returns: it sets up the container and execs
// the user's command. Otherwise it returns false at once.
//
// The hako binary's main must call it before anything else, before flags are parsed or
// goroutines started:
//
//	func main() {
//		if runtime.Init() { // github.com/hako-dev/hako/internal/runtime
//			return // not reached
//		}
//		...
//	}
//
// Importing this package brings in nsenter (cgo) and the devices controller, so main needs no
// other import; the binary must be built with cgo and `-tags seccomp` (with libseccomp-dev),
// or containers with a seccomp profile refuse to start. Tests that start containers call Init
// first thing in TestMain, so the test binary can be the init too.
func Init() bool {
	// libcontainer runs /proc/self/exe "init" with its pipes in the environment; checking
	// both keeps a user's `hako init` (were there one) from being taken for a container init.
	if len(os.Args) < 2 || os.Args[1] != "init" || os.Getenv("_LIBCONTAINER_INITPIPE") == "" {
		return false
	}
	adoptExecReport()   // execreport_linux.go
	libcontainer.Init() // exits the process
	return true
}
