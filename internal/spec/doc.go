// Package spec turns an image config and the options of `hako run` into an OCI runtime spec with
// Docker's defaults: capabilities, masked and read-only paths, default mounts, the default seccomp
// profile, resources, ENTRYPOINT/CMD and environment resolution.
//
// In the data flow it sits between the snapshot (which gives the container its rootfs) and the
// runtime (which runs the bundle that holds the spec): the engine calls ResolveUser on the
// prepared rootfs, WriteEtcFiles for /etc/hostname, /etc/hosts and /etc/resolv.conf, then
// Generate, and writes the result as the bundle's config.json.
//
// Generate does no I/O except where Docker's behaviour needs the host: reading a seccomp profile
// file, listing host devices for a privileged container, and the host name for --network host.
package spec
