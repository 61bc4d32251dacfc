//go:build hakolean

package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// unpackImage has hako, next to this lean binary (hako-monitor, which has no decompressors:
// internal/archive's codecs_lean.go), unpack the layers of an image whose snapshots are gone:
// rare (GC took them), and a second process then costs less than the decompressors'
// initialisers at the start of every run.
func (e *Engine) unpackImage(ctx context.Context, id digest.Digest, _ []ocispec.Descriptor, _ []digest.Digest) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("unpack the image's layers: %w", err)
	}
	hako := fullBinary(self)
	args := []string{"--root", e.Root}
	if e.Snapshotter != "" {
		args = append(args, "--snapshotter", e.Snapshotter)
	}
	cmd := exec.CommandContext(ctx, hako, append(args, "__unpack", id.String())...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "Error:"))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("unpack the image's layers (%s): %s", hako, msg)
	}
	return nil
}

// fullBinary is the hako beside this lean binary self: the forked run's parent, which found
// hako-monitor next to its own executable, whatever its name (a versioned one behind a symlink),
// else the one named hako there.
func fullBinary(self string) string {
	if p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", os.Getppid())); err == nil &&
		filepath.Dir(p) == filepath.Dir(self) && filepath.Base(p) != filepath.Base(self) {
		return p
	}
	return filepath.Join(filepath.Dir(self), "hako")
}
