//go:build !linux

package atomicfile

import "os"

// Swap puts the file tmp in place of path: a rename, where there is no exchange to make.
func Swap(tmp, path string) error { return os.Rename(tmp, path) }
