//go:build linux && cgo

package fastexec

// fastexec.c holds the constructor: a `hako exec` that the C path can take never reaches Go.
// Linking this package into a binary is all it takes (package runtime imports it, so hako,
// hako-monitor and the test binaries all carry it); in any other process the constructor
// looks at argv and returns at once.

// #cgo CFLAGS: -O2 -Wall -Wno-unused-result -D_GNU_SOURCE
import "C"
