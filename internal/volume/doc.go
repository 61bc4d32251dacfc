// Package volume keeps named volumes and parses the mounts that use them.
//
// A volume is a directory under the store, <root>/volumes/<name>/_data, and a small JSON record
// beside it (volume.json: format version, creation time, labels). Containers name the volumes
// they use in their records (container.Config.Mounts); the engine refuses to remove one that a
// container names, and seeds an empty volume from the image's content at the mount target when a
// container first starts with it, as Docker does.
//
// Names follow Docker's rule for local volumes, [a-zA-Z0-9][a-zA-Z0-9_.-]+, so a name is always a
// single path element: no "/", no "..". Anonymous volumes get a random 64-hex name and the label
// com.docker.volume.anonymous; `rm -v`, `run --rm` and `volume prune` (without -a) remove them.
//
// The package does not lock: the engine calls Create, Remove and the use checks under the store
// lock, so that a volume cannot be removed while a container that names it is being created.
package volume
