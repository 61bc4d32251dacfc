package engine

import (
	"os"

	"github.com/hako-dev/hako/internal/monitor"
)

// forwardResizes writes each size to the monitor's control pipe until the channel closes or the
// monitor is gone.
func forwardResizes(sizes <-chan [2]uint16, ctl *os.File) {
	defer ctl.Close()
	for sz := range sizes {
		if monitor.WriteResize(ctl, sz[0], sz[1]) != nil {
			return
		}
	}
}
