//go:build linux && cgo

package monitor

// KeeperAvailable: this binary carries the keeper (keeper.c), which the Go monitor of a
// detached container execs itself into once the container runs (package engine, keeper.go).
const KeeperAvailable = true
