package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hako-dev/hako/internal/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
)

// formatVersion is the version of volume.json.
const formatVersion = 1

// AnonymousLabel marks a volume made for one container (Docker 23+ uses the same label).
const AnonymousLabel = "com.docker.volume.anonymous"

// Volume is one volume, with the fields of Docker's `volume inspect`.
type Volume struct {
	CreatedAt  time.Time
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

// Anonymous tells whether the volume was made for one container.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

type record struct {
	Version   int
	Name      string
	CreatedAt time.Time
	Labels    map[string]string `json:",omitempty"`
}

// Store is the volumes directory of a hako root.
type Store struct{ Root string }

// nameRE is compiled on first use, not in every hako process's start.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) })

// ValidName checks a volume name with Docker's rule and message.
func ValidName(name string) error {
	if !nameRE().MatchString(name) {
		return errdefs.Invalidf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name)
	}
	return nil
}

func (s *Store) dir(name string) string { return filepath.Join(s.Root, name) }

// Path is the directory that holds the volume's data, the source of its bind mounts.
func (s *Store) Path(name string) string { return filepath.Join(s.Root, name, "_data") }

// Create makes the volume name (a random name when empty, for an anonymous volume) with labels.
// An existing volume of that name is returned as it is, as Docker does, with created false.
func (s *Store) Create(name string, labels map[string]string) (v *Volume, created bool, err error) {
	if name == "" {
		var b [32]byte
		rand.Read(b[:])
		name = hex.EncodeToString(b[:])
	}
	if err := ValidName(name); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(s.Root, 0o701); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	switch err := os.Mkdir(s.dir(name), 0o701); {
	case errors.Is(err, fs.ErrExist):
		if v, err := s.Get(name); err == nil {
			return v, false, nil
		}
		// A directory without a readable record: a create that died half-way. Finish it.
	case err != nil:
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Mkdir(s.Path(name), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	r := record{Version: formatVersion, Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir(name), "volume.json"), b, 0o600); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return s.fromRecord(r), true, nil
}

func (s *Store) fromRecord(r record) *Volume {
	labels := r.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &Volume{CreatedAt: r.CreatedAt, Driver: "local", Labels: labels, Mountpoint: s.Path(r.Name), Name: r.Name, Scope: "local"}
}

// Get reads one volume; a missing one is errdefs.ErrNotFound, a bad name ErrInvalidArgument.
func (s *Store) Get(name string) (*Volume, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("No such volume: %s", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read volume %s: %w", name, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read volume %s: %w", name, err)
	}
	if r.Version != formatVersion {
		return nil, fmt.Errorf("read volume %s: record format %d, this hako reads %d", name, r.Version, formatVersion)
	}
	if r.Name != name {
		return nil, fmt.Errorf("read volume %s: the record names %q", name, r.Name)
	}
	return s.fromRecord(r), nil
}

// List reads every volume, sorted by name.
func (s *Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue // a removal in progress (.removing-*) or a stray file
		}
		v, err := s.Get(e.Name())
		if err != nil {
			continue // a create that died before its record
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its data. It first renames the volume out of the way, so a crash
// half-way leaves no half-volume under its name; what remains is collected by the next Remove.
func (s *Store) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
		if _, serr := os.Lstat(s.dir(name)); serr != nil {
			return err
		}
	}
	var b [8]byte
	rand.Read(b[:])
	trash := filepath.Join(s.Root, ".removing-"+hex.EncodeToString(b[:]))
	if err := os.Rename(s.dir(name), trash); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	s.collect()
	return nil
}

// collect removes what interrupted removals left. RemoveAll does not follow symlinks, so a
// volume's content (written by containers) cannot redirect it.
func (s *Store) collect() {
	left, _ := filepath.Glob(filepath.Join(s.Root, ".removing-*"))
	for _, p := range left {
		os.RemoveAll(p)
	}
}

// Size is the total size of the files in the volume, for prune's reclaimed space.
func (s *Store) Size(name string) int64 {
	var n int64
	filepath.WalkDir(s.Path(name), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
