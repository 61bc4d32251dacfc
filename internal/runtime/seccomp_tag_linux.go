//go:build seccomp && cgo

package runtime

// seccompSupported reports that libcontainer was built with libseccomp (the "seccomp" tag).
const seccompSupported = true
