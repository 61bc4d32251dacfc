package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// ConfigFile is the name hako lint looks for beside the Dockerfile and in the working directory.
const ConfigFile = ".hako-lint.yaml"

// Config is .hako-lint.yaml. Its keys follow hadolint's config so a .hadolint.yaml mostly reads
// as is; rule names may be our IDs or hadolint codes.
//
//	ignored: [AptUnpinned, DL3059]
//	override:
//	  error: [LatestBaseImage]
//	  info: [UntrustedBaseImage]
//	trustedRegistries: [docker.io, ghcr.io/acme]
//	requiredLabels: [org.opencontainers.image.source]
//	failure-threshold: warning
type Config struct {
	Ignored  []string `yaml:"ignored"`
	Override struct {
		Error   []string `yaml:"error"`
		Warning []string `yaml:"warning"`
		Info    []string `yaml:"info"`
		Style   []string `yaml:"style"`
	} `yaml:"override"`
	// TrustedRegistries are registries or repository prefixes base images may come from;
	// empty means the default list (Docker Official Images and a few vendors' registries).
	TrustedRegistries []string `yaml:"trustedRegistries"`
	RequiredLabels    []string `yaml:"requiredLabels"`
	// LabelSchema is hadolint's map of label → type; its keys count as required labels.
	LabelSchema      map[string]string `yaml:"label-schema"`
	FailureThreshold string            `yaml:"failure-threshold"`

	ignoredSet map[string]bool
	sevs       map[string]Severity
}

// ParseConfig reads a config; unknown keys are errors so a typo does not silently do nothing.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse lint config: %w", err)
	}
	if c.FailureThreshold != "" {
		if _, err := ParseSeverity(c.FailureThreshold); err != nil {
			return nil, fmt.Errorf("parse lint config: failure-threshold: %w", err)
		}
	}
	for _, ids := range [][]string{c.Ignored, c.Override.Error, c.Override.Warning, c.Override.Info, c.Override.Style} {
		for _, id := range ids {
			if _, ok := Lookup(id); !ok {
				return nil, fmt.Errorf("parse lint config: unknown rule %q", id)
			}
		}
	}
	c.init()
	return c, nil
}

// LoadConfig reads the config at path, or when path is "" the first ConfigFile found in dirs;
// no file at all is the default config.
func LoadConfig(path string, dirs ...string) (*Config, string, error) {
	if path == "" {
		for _, d := range dirs {
			p := filepath.Join(d, ConfigFile)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return &Config{}, "", nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read lint config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return c, path, nil
}

func (c *Config) init() {
	if c.ignoredSet != nil {
		return
	}
	c.ignoredSet = map[string]bool{}
	c.sevs = map[string]Severity{}
	for _, id := range c.Ignored {
		c.ignoredSet[canonical(id)] = true
	}
	for sev, ids := range map[Severity][]string{SeverityError: c.Override.Error, SeverityWarning: c.Override.Warning, SeverityInfo: c.Override.Info, SeverityStyle: c.Override.Style} {
		for _, id := range ids {
			c.sevs[canonical(id)] = sev
		}
	}
}

func (c *Config) ignored(rule string) bool {
	c.init()
	return c.ignoredSet[rule]
}

func (c *Config) severityOf(rule string) (Severity, bool) {
	c.init()
	s, ok := c.sevs[rule]
	return s, ok
}

// requiredLabels merges requiredLabels and hadolint's label-schema keys.
func (c *Config) requiredLabels() []string {
	out := append([]string(nil), c.RequiredLabels...)
	for k := range c.LabelSchema {
		out = append(out, k)
	}
	return out
}
