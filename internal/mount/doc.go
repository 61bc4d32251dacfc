// Package mount is the seam between storage and the runtime. A snapshotter answers Prepare or View
// with []Mount; the runtime (or a COPY step, or layer.Diff on a view) mounts them at a target with
// All and takes them down with Unmount. Nothing else crosses that seam: a Mount names a filesystem
// type, a source and options, never where it goes, so one value can be mounted at a temporary
// directory by the build and at a container's rootfs by the runtime.
//
// Overlay mounts use the new mount API (fsopen, fsconfig "lowerdir+", fsmount, move_mount), which
// is not bound by the one-page limit of mount(2)'s option string and so reaches the kernel's limit
// of 500 lower layers.
//
// The uidmap= and gidmap= options (IDMapOptions) make a bind, or an overlay's lower layers,
// idmapped for a container in a user namespace, without a temporary mount or a chown.
package mount
