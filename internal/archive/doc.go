// Package archive turns layer tars into trees and trees into layer tars, safely.
//
// In hako's data flow it sits under internal/layer: pulling or loading an image ends in
// DecompressStream and Apply, once per layer, into the snapshot that internal/snapshot prepared
// (an overlayfs upper dir, or a copied tree for the native snapshotter); a RUN or COPY step ends in
// WriteOverlayDiff or WriteDiff, whose tar internal/layer compresses into the content store.
// OverlayChanges and Changes back `hako diff`.
//
// Layer tars use OCI whiteouts (".wh.NAME" and ".wh..wh..opq"); an overlay upper dir uses 0/0
// character devices and the trusted.overlay.opaque xattr. Apply converts the first into either
// representation; the writers convert back.
//
// Everything a tar names is resolved inside the root, one path component at a time, with
// O_NOFOLLOW directory fds and *at system calls: no symlink is ever followed, inside the root or
// out of it. Layer tars written by diffing real trees never need to write through a symlink, and
// following one would make the result depend on the snapshotter (an overlay upper dir does not
// hold the lower layers' symlinks), so an entry whose parent path holds a symlink is refused.
package archive
