//go:build !(linux && cgo)

package cli

import "os"

// forkParent: without cgo there is no forked run (runfork.c).
func forkParent() (*os.File, bool) { return nil, false }
