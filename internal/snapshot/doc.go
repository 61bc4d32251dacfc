// Package snapshot keeps the filesystem trees that layers are unpacked into and containers run on.
//
// In hako's data flow it sits between the content store and the runtime: layer.Unpack prepares an
// active snapshot on top of the previous layer's, extracts a blob into it without mounting, and
// commits it under the layer's chain ID; a build step or `hako run` prepares an active snapshot on
// top of the image's last chain ID and hands its []mount.Mount to the runtime; layer.Diff turns an
// active snapshot's changes back into a blob before the step's commit.
//
// Two Snapshotters implement the same interface and pass the same conformance suite
// (snapshottest): NewOverlay, the default, stacks parents as overlayfs lower layers; NewNative
// copies the parent's tree into every new snapshot and so works on any filesystem, without
// overlayfs. Both keep their metadata in one versioned file under their root, written atomically
// and under an exclusive file lock, so that hako processes may share a store without a daemon and
// a kill -9 never leaves it inconsistent.
package snapshot
