//go:build !(linux && cgo)

package cli

import "os"

// ForkedChild: without cgo there is no forked run (runfork.c).
func ForkedChild() bool { return false }

// forkParent: without cgo there is no forked run (runfork.c).
func forkParent() *os.File { return nil }

// closeInherited: nothing to close without the fork.
func closeInherited() {}
