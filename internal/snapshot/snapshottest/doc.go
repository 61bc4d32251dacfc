// Package snapshottest is the conformance suite that every snapshot.Snapshotter passes: the
// lifecycle of layer unpacking and containers (prepare, write, commit, view, remove), the error
// classes, labels, usage, persistence across a reopen, and concurrent mutation. Checks that need
// mounting run as root and are skipped otherwise.
//
// In the data flow it stands where the engine will: it writes layers straight into a prepared
// snapshot's writable dir, commits, and mounts what Prepare and View return.
package snapshottest
