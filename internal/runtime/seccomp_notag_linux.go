//go:build !seccomp || !cgo

package runtime

// seccompSupported is false in a build without the "seccomp" tag: libcontainer then refuses
// every seccomp profile, so Start says why up front.
const seccompSupported = false
