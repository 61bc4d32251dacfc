// Package image holds hako's image records and the formats images travel in.
//
// An image is an OCI manifest in the content store; its ID is the digest of its config blob, as
// Docker shows it. The image index is the content store's own OCI index.json: one descriptor per
// name (annotated with io.containerd.image.name, like containerd) and one without a name for an
// image that has none (dangling), so the store is an OCI image layout that other tools can read.
// The package also reads and writes docker-archive and OCI archives (save and load).
package image
