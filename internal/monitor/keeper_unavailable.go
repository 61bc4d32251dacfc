//go:build !(linux && cgo)

package monitor

// KeeperAvailable: without cgo there is no keeper; the Go monitor keeps its container itself.
const KeeperAvailable = false
