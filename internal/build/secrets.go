package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/tonistiigi/go-csvvalue"
)

// MaxSecretSize bounds a secret's value, as BuildKit's 500 KiB: secrets live in memory.
const MaxSecretSize = 500 << 10

// Secret is one `--secret`: where its value comes from. The value itself is read only when a
// RUN mounts it, and held only in memory (a tmpfs and the RUN's environment).
type Secret struct {
	ID   string
	File string // src=: a file on the caller's side
	Env  string // env=: a variable of the caller's environment
}

// ParseSecret reads a --secret value as buildx does: `id=ID[,src=FILE|,env=VAR][,type=file|env]`.
// With neither src nor env, the secret is the variable named ID if the environment has it, and
// the file named ID otherwise.
func ParseSecret(v string, lookupEnv func(string) (string, bool)) (Secret, error) {
	fields, err := csvvalue.Fields(v, nil)
	if err != nil {
		return Secret{}, errdefs.Invalidf("invalid --secret %q: %v", v, err)
	}
	var s Secret
	typ := ""
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return Secret{}, errdefs.Invalidf("invalid --secret %q: %q is not KEY=VALUE", v, f)
		}
		switch strings.ToLower(k) {
		case "type":
			typ = val
			if typ != "file" && typ != "env" {
				return Secret{}, errdefs.Invalidf("invalid --secret %q: type %q (file or env)", v, val)
			}
		case "id":
			s.ID = val
		case "src", "source":
			s.File = val
		case "env":
			s.Env = val
		default:
			return Secret{}, errdefs.Invalidf("invalid --secret %q: unknown key %q (id, src, env, type)", v, k)
		}
	}
	if typ == "env" && s.Env == "" {
		s.Env, s.File = s.File, ""
	}
	if s.ID == "" {
		return Secret{}, errdefs.Invalidf("invalid --secret %q: id is required", v)
	}
	if s.File != "" && s.Env != "" {
		return Secret{}, errdefs.Invalidf("invalid --secret %q: src and env are exclusive", v)
	}
	if s.File == "" && s.Env == "" {
		if _, ok := lookupEnv(s.ID); ok {
			s.Env = s.ID
		} else {
			s.File = s.ID
		}
	}
	if s.File != "" {
		fi, err := os.Stat(s.File)
		if err != nil {
			return Secret{}, errdefs.Invalidf("--secret id=%s: %v", s.ID, err)
		}
		if !fi.Mode().IsRegular() {
			return Secret{}, errdefs.Invalidf("--secret id=%s: %s is not a regular file", s.ID, s.File)
		}
	} else if _, ok := lookupEnv(s.Env); !ok {
		return Secret{}, errdefs.Invalidf("--secret id=%s: the environment variable %s is not set", s.ID, s.Env)
	}
	return s, nil
}

// Secrets are a build's secrets by id; LookupEnv reads env= secrets (os.LookupEnv if nil).
type Secrets struct {
	ByID      map[string]Secret
	LookupEnv func(string) (string, bool)
}

// ErrSecretNotFound is a secret the build was not given.
var ErrSecretNotFound = errors.New("secret not found")

// Value reads secret id's value.
func (s Secrets) Value(id string) ([]byte, error) {
	sec, ok := s.ByID[id]
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", id, ErrSecretNotFound)
	}
	if sec.Env != "" {
		look := s.LookupEnv
		if look == nil {
			look = os.LookupEnv
		}
		v, ok := look(sec.Env)
		if !ok {
			return nil, fmt.Errorf("secret %s: the environment variable %s is not set", id, sec.Env)
		}
		if len(v) > MaxSecretSize {
			return nil, errdefs.Invalidf("secret %s is larger than %d bytes", id, MaxSecretSize)
		}
		return []byte(v), nil
	}
	f, err := os.Open(sec.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secret %s: %s: no such file", id, sec.File)
		}
		return nil, fmt.Errorf("secret %s: %w", id, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", id, err)
	}
	if len(b) > MaxSecretSize {
		return nil, errdefs.Invalidf("secret %s is larger than %d bytes", id, MaxSecretSize)
	}
	return b, nil
}

// Has says whether the build was given secret id.
func (s Secrets) Has(id string) bool { _, ok := s.ByID[id]; return ok }
