//go:build !(linux && cgo)

package cli

import "github.com/hako-dev/hako/internal/engine"

// earlyMonitor: without cgo there is no early monitor (early.c).
func earlyMonitor(*app, *engine.Engine, *engine.Attach, bool) *engine.PendingMonitor { return nil }
