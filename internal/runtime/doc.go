// Package runtime runs an OCI bundle (config.json and its rootfs) as a container, on top of
// runc's libcontainer: namespaces, pivot_root, mounts, cgroups v1 and v2, capabilities, seccomp
// and the CVE fixes that runc carries.
//
// In the data flow it comes last: spec.Generate writes the bundle's config.json, the
// per-container monitor calls Start and then waits for the Process, and the CLI reaches running
// containers through State, Signal, Pause, Resume, Exec and Delete, from any hako process, since
// the container's state lives on disk under the state root.
//
// A container's init is this same binary re-executed with the argument "init": the program's
// main must call Init first (see Init), and must be built with cgo and the "seccomp" build tag.
package runtime
