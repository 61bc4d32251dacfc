package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/volume"
)

// Volumes is the volume store.
func (e *Engine) Volumes() *volume.Store {
	return &volume.Store{Root: filepath.Join(e.Root, "volumes")}
}

// VolumeInfo is a volume and the containers that name it.
type VolumeInfo struct {
	*volume.Volume
	Users []string // container IDs
}

// CreateVolume is `volume create`: an existing volume of that name is returned as it is.
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) (*volume.Volume, error) {
	var v *volume.Volume
	err := e.withLock(func() error {
		var err error
		v, _, err = e.Volumes().Create(name, labels)
		return err
	})
	return v, err
}

// volumeUsers maps each volume name to the containers whose records name it.
func (e *Engine) volumeUsers() (map[string][]string, error) {
	cs, err := e.Containers().List()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, c := range cs {
		for _, m := range c.Config.Mounts {
			if m.Type == volume.TypeVolume && !slices.Contains(out[m.Source], c.ID) {
				out[m.Source] = append(out[m.Source], c.ID)
			}
		}
	}
	return out, nil
}

// VolumeFilter is `volume ls --filter`: dangling, name, label, driver.
type VolumeFilter func(VolumeInfo) bool

// ParseVolumeFilters reads dangling=true|false, name=SUBSTRING, label=KEY[=VALUE] and
// driver=local; values of one key are ORed, keys are ANDed, as Docker's.
func ParseVolumeFilters(filters []string) (VolumeFilter, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.Invalidf("bad format of filter %q (expected name=value)", f)
		}
		switch k {
		case "dangling":
			if _, err := strconv.ParseBool(v); err != nil {
				return nil, errdefs.Invalidf("invalid filter 'dangling=%s'", v)
			}
		case "name", "label", "driver":
		default:
			return nil, errdefs.Invalidf("invalid filter %q (dangling, name, label, driver)", k)
		}
		by[k] = append(by[k], v)
	}
	return func(vi VolumeInfo) bool {
		for k, vals := range by {
			hit := false
			for _, v := range vals {
				switch k {
				case "dangling":
					b, _ := strconv.ParseBool(v)
					hit = hit || (len(vi.Users) == 0) == b
				case "name":
					hit = hit || strings.Contains(vi.Name, v)
				case "driver":
					hit = hit || vi.Driver == v
				case "label":
					lk, lv, hasV := strings.Cut(v, "=")
					got, has := vi.Labels[lk]
					hit = hit || (has && (!hasV || got == lv))
				}
			}
			if !hit {
				return false
			}
		}
		return true
	}, nil
}

// ListVolumes is `volume ls`, sorted by name.
func (e *Engine) ListVolumes(ctx context.Context, match VolumeFilter) ([]VolumeInfo, error) {
	vs, err := e.Volumes().List()
	if err != nil {
		return nil, err
	}
	users, err := e.volumeUsers()
	if err != nil {
		return nil, err
	}
	var out []VolumeInfo
	for _, v := range vs {
		vi := VolumeInfo{Volume: v, Users: users[v.Name]}
		if match == nil || match(vi) {
			out = append(out, vi)
		}
	}
	return out, nil
}

// InspectVolume reads one volume.
func (e *Engine) InspectVolume(ctx context.Context, name string) (*volume.Volume, error) {
	return e.Volumes().Get(name)
}

// RemoveVolume is `volume rm`: a volume that a container names (running or not) is refused;
// force only makes a missing volume no error, as Docker's.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	if err := volume.ValidName(name); err != nil {
		return err
	}
	return e.withLock(func() error {
		users, err := e.volumeUsers()
		if err != nil {
			return err
		}
		if u := users[name]; len(u) > 0 {
			short := make([]string, len(u))
			for i, id := range u {
				short[i] = id[:12]
			}
			return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(short, ", "))
		}
		err = e.Volumes().Remove(name)
		if force && errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return err
	})
}

// PruneVolumes removes the volumes no container names: only anonymous ones unless all, as
// Docker 23+. It returns the names removed and the space reclaimed.
func (e *Engine) PruneVolumes(ctx context.Context, all bool) ([]string, int64, error) {
	var removed []string
	var size int64
	err := e.withLock(func() error {
		vs, err := e.Volumes().List()
		if err != nil {
			return err
		}
		users, err := e.volumeUsers()
		if err != nil {
			return err
		}
		for _, v := range vs {
			if len(users[v.Name]) > 0 || (!all && !v.Anonymous()) {
				continue
			}
			n := e.Volumes().Size(v.Name)
			if err := e.Volumes().Remove(v.Name); err != nil {
				return err
			}
			removed = append(removed, v.Name)
			size += n
		}
		return nil
	})
	return removed, size, err
}

// prepareMounts completes a new container's mounts, under the store lock: it checks bind
// sources and duplicate targets, adds an anonymous volume for each VOLUME of the image that no
// mount covers, and creates the volumes the mounts name. It returns the volumes it created, for
// the caller to remove if the create fails later.
func (e *Engine) prepareMounts(c *container.Container, img ocispec.ImageConfig) (created []string, err error) {
	ms := slices.Clone(c.Config.Mounts)
	taken := map[string]bool{}
	for _, m := range c.Config.Options.Mounts {
		taken[path.Clean(m.Destination)] = true
	}
	for _, m := range ms {
		if taken[m.Target] {
			return nil, errdefs.Invalidf("Duplicate mount point: %s", m.Target)
		}
		taken[m.Target] = true
		if m.Type == volume.TypeBind {
			if _, err := os.Stat(m.Source); err != nil {
				return nil, errdefs.Invalidf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
			}
		}
	}
	var imgVols []string
	for p := range img.Volumes {
		if p = path.Clean(p); path.IsAbs(p) && p != "/" && !taken[p] {
			imgVols = append(imgVols, p)
			taken[p] = true
		}
	}
	sort.Strings(imgVols)
	for _, p := range imgVols {
		ms = append(ms, volume.Mount{Type: volume.TypeVolume, Target: p, Anonymous: true})
	}
	vs := e.Volumes()
	defer func() {
		if err != nil {
			for _, n := range created {
				vs.Remove(n)
			}
			created = nil
		}
	}()
	for i, m := range ms {
		if m.Type != volume.TypeVolume {
			continue
		}
		var labels map[string]string
		if m.Source == "" {
			labels = map[string]string{volume.AnonymousLabel: ""}
		}
		v, made, err := vs.Create(m.Source, labels)
		if err != nil {
			return created, err
		}
		if made {
			created = append(created, v.Name)
		}
		ms[i].Source = v.Name
	}
	c.Config.Mounts = ms
	return created, nil
}

// mountSpecs turns the container's mounts into OCI mounts on the mounted rootfs, parents before
// children. Each target is resolved inside rootfs (a symlink in the image cannot point a mount
// outside it), and an empty volume is seeded from the image's content at its target.
func (e *Engine) mountSpecs(c *container.Container, rootfs string) ([]specs.Mount, error) {
	ms := slices.Clone(c.Config.Mounts)
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(ms[i].Target, "/") < strings.Count(ms[j].Target, "/")
	})
	var out []specs.Mount
	for _, m := range ms {
		dest, err := mountDest(rootfs, m.Target)
		if err != nil {
			return nil, err
		}
		switch m.Type {
		case volume.TypeBind:
			prop := m.Propagation
			if prop == "" {
				prop = "rprivate"
			}
			opts := []string{"rbind", prop}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if userNSIDMapped(c.Config.Options, m) { // userns.go
				opts = append(opts, "idmap")
			}
			out = append(out, specs.Mount{Destination: dest, Type: "bind", Source: m.Source, Options: opts})
		case volume.TypeVolume:
			vs := e.Volumes()
			if _, err := vs.Get(m.Source); errors.Is(err, errdefs.ErrNotFound) {
				// Removed by hand from the store: bring it back empty rather than fail.
				if _, _, err := vs.Create(m.Source, nil); err != nil {
					return nil, err
				}
			} else if err != nil {
				return nil, err
			}
			if !m.NoCopy {
				if err := volume.Seed(rootfs, dest, vs.Path(m.Source), userNSToContainer(c.Config.Options)); err != nil {
					return nil, fmt.Errorf("volume %s: %w", m.Source, err)
				}
			}
			opts := []string{"rbind", "rprivate"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if userNSIDMapped(c.Config.Options, m) { // userns.go
				opts = append(opts, "idmap")
			}
			out = append(out, specs.Mount{Destination: dest, Type: "bind", Source: vs.Path(m.Source), Options: opts})
		case volume.TypeTmpfs:
			opts := []string{"nosuid", "nodev"}
			if m.TmpfsSize > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
			}
			if m.TmpfsMode != 0 {
				opts = append(opts, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: opts})
		default:
			return nil, errdefs.Invalidf("mount %s: unknown type %q", m.Target, m.Type)
		}
	}
	return out, nil
}

// mountDest resolves a mount's target inside rootfs, where it will be mounted: a symlink in the
// image cannot point a mount outside the root, nor at the root itself.
func mountDest(rootfs, target string) (string, error) {
	resolved, err := securejoin.SecureJoin(rootfs, target)
	if err != nil {
		return "", fmt.Errorf("mount %s: %w", target, err)
	}
	rel, err := filepath.Rel(rootfs, resolved)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", errdefs.Invalidf("mount %s: the target resolves to the container's root", target)
	}
	return "/" + filepath.ToSlash(rel), nil
}

// removeAnonymousVolumes removes the container's anonymous volumes that no other container
// names (`rm -v`, `run --rm`). Named volumes stay, as Docker's.
func (e *Engine) removeAnonymousVolumes(c *container.Container) error {
	// Most containers have none: then neither the store lock nor a read of every record (a
	// `run --rm` does this before its answer).
	if !slices.ContainsFunc(c.Config.Mounts, func(m volume.Mount) bool { return m.Type == volume.TypeVolume && m.Anonymous }) {
		return nil
	}
	var errs []error
	e.withLock(func() error {
		users, err := e.volumeUsers()
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		for _, m := range c.Config.Mounts {
			if m.Type != volume.TypeVolume || !m.Anonymous || len(slices.DeleteFunc(slices.Clone(users[m.Source]), func(id string) bool { return id == c.ID })) > 0 {
				continue
			}
			if err := e.Volumes().Remove(m.Source); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		return nil
	})
	return errors.Join(errs...)
}

// removeVolumes removes volumes that a failed create made; the caller holds the store lock.
func (e *Engine) removeVolumes(names []string) {
	for _, n := range names {
		e.Volumes().Remove(n)
	}
}

// configMountPoints is inspect's view of the container's -v and --mount mounts: the
// HostConfig.Binds entries, as -v spells them, and the "Mounts" entries.
// mountPoint has the fields of inspect's MountPoint, so that one converts to the other.
type mountPoint struct {
	Type, Name, Source, Destination, Driver, Mode string
	RW                                            bool
	Propagation                                   string
}

func configMountPoints(c *container.Container, vs *volume.Store) (binds []string, mounts []mountPoint) {
	for _, m := range c.Config.Mounts {
		mode := ""
		if m.ReadOnly {
			mode = "ro"
		}
		switch m.Type {
		case volume.TypeBind:
			prop := m.Propagation
			if prop == "" {
				prop = "rprivate"
			}
			binds = append(binds, strings.TrimSuffix(m.Source+":"+m.Target+":"+mode, ":"))
			mounts = append(mounts, mountPoint{Type: "bind", Source: m.Source, Destination: m.Target, Mode: mode, RW: !m.ReadOnly, Propagation: prop})
		case volume.TypeVolume:
			if !m.Anonymous {
				binds = append(binds, strings.TrimSuffix(m.Source+":"+m.Target+":"+mode, ":"))
			}
			if mode == "" {
				mode = "z"
			}
			mounts = append(mounts, mountPoint{Type: "volume", Name: m.Source, Source: vs.Path(m.Source), Destination: m.Target, Driver: "local", Mode: mode, RW: !m.ReadOnly})
		case volume.TypeTmpfs:
			mounts = append(mounts, mountPoint{Type: "tmpfs", Destination: m.Target, RW: !m.ReadOnly})
		}
	}
	return binds, mounts
}
