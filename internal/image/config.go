package image

import (
	"fmt"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HealthConfig is Docker's HEALTHCHECK record in an image config (durations in nanoseconds).
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// ContainerConfig is the OCI image config plus the fields Docker's image format adds to it.
type ContainerConfig struct {
	ocispec.ImageConfig
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`
	OnBuild     []string      `json:"OnBuild,omitempty"`
	Shell       []string      `json:"Shell,omitempty"`
}

// Config is an image config blob: the OCI image with Docker's config extensions.
type Config struct {
	ocispec.Image
	Config ContainerConfig `json:"config,omitempty"`
	// Comment and DockerVersion are Docker's; kept so that configs round-trip.
	Comment       string `json:"comment,omitempty"`
	DockerVersion string `json:"docker_version,omitempty"`
}

// ParseConfig decodes a config blob and checks what hako relies on.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := decodeJSON(b, &c); err != nil {
		return c, fmt.Errorf("parse image config: %w", err)
	}
	if c.RootFS.Type != "layers" && !(c.RootFS.Type == "" && len(c.RootFS.DiffIDs) == 0) {
		return c, fmt.Errorf("parse image config: rootfs type %q is not \"layers\"", c.RootFS.Type)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return c, fmt.Errorf("parse image config: diff_id %q: %w", d, err)
		}
	}
	return c, nil
}

// ParseManifest decodes a manifest blob.
func ParseManifest(b []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := decodeJSON(b, (*JSONManifest)(&m)); err != nil {
		return m, fmt.Errorf("parse manifest: %w", err)
	}
	if m.Config.Digest == "" {
		return m, fmt.Errorf("parse manifest: no config")
	}
	return m, nil
}

// Media types of Docker's schema 2, which OCI archives from older tools still carry.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// IsManifest and IsIndex classify descriptor media types.
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// SetEnv sets KEY=value in an environment list, replacing an earlier KEY in place (so the order
// of the rest is kept) or appending it: how ENV, --change ENV, commit -c and exec -e all change
// an image's or a process's environment.
func SetEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
