package mount

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// InPrivateNamespace runs fn in a mount namespace of its own, a slave of this process's: what fn
// mounts is seen by nobody else, and dies with the process if it is killed before unmounting.
// fn runs on a goroutine locked to a thread that is never unlocked, so Go ends the thread with
// the goroutine instead of handing it, in its private namespace, to other code; what fn starts
// on other goroutines sees the host's mounts (descriptors it was given keep theirs).
func InPrivateNamespace(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("private mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			errc <- fmt.Errorf("private mount namespace: make it a slave: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
