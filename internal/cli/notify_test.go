package cli

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// notifyContext catches its signals from another goroutine: once interruptible is closed, a
// SIGTERM cancels the context instead of ending the process; stop ends the catching.
func TestNotifyContext(t *testing.T) {
	ctx, stop := notifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	select {
	case <-interruptible:
	case <-time.After(5 * time.Second):
		t.Fatal("the signals were never caught")
	}
	if ctx.Err() != nil {
		t.Fatal("cancelled before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}
