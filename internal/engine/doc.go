// Package engine is the facade the CLI calls: one method per Docker verb (Import, Save, Load,
// Images, Tag, RemoveImages, History, ...). It owns the store layout under the root directory,
// the store-wide lock that serialises hako processes, and garbage collection; the work itself is
// done by content, image, layer and snapshot. The builder (package builder: build, builder
// prune) and image check (package imagecheck) sit above it and use its exported accessors
// (accessors.go); the engine imports neither, nor BuildKit's parser, so that the container
// monitor, which links the engine, carries none of them.
//
// Store layout (format version in root/version):
//
//	root/lock                 flock held while the image index or GC changes
//	root/content/             OCI image layout: blobs, oci-layout, index.json (the image index)
//	root/leases/              blobs being written by live operations
//	root/snapshots/<name>/    the overlay or native snapshotter
package engine
