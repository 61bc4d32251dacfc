// Package content is hako's content-addressed blob store: the bottom of the data flow. Every
// manifest, config and layer that an image is made of is a blob here, named by its sha256 digest,
// in an OCI image layout (root/blobs/sha256/<hex>, root/oci-layout), so other tools can read it.
//
// A blob becomes visible only when it is complete and verified: writers stream into a private
// file under root/ingest, the digest and size are checked, and a rename publishes it. A blob that
// is written but not yet owned by an image is protected from garbage collection by the Lease that
// wrote it; a lease whose process died (kill -9) is recognised by its free file lock, so what it
// wrote becomes collectable again and the store stays consistent.
package content
