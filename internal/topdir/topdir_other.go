//go:build !linux

package topdir

import "os"

// Mark makes dir (mode perm, if missing); the flag is ext4's.
func Mark(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

// Unmark makes dir (mode perm, if missing); the flag is ext4's.
func Unmark(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
