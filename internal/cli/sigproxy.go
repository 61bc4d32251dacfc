package cli

import (
	"context"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hako-dev/hako/internal/engine"
)

// proxySignals forwards the signals a foreground `run` receives to the container's process, as
// Docker's --sig-proxy does (with -t the terminal sends them through the pty instead). It
// returns a function that stops forwarding.
func proxySignals(e *engine.Engine, id string) func() {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				s, ok := sig.(syscall.Signal)
				if !ok {
					continue
				}
				// The container may still be starting: retry briefly until it runs.
				for i := 0; i < 100; i++ {
					if e.Kill(context.Background(), id, strconv.Itoa(int(s))) == nil {
						break
					}
					select {
					case <-done:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
