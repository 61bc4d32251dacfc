// Package imagecheck is `hako image check`: the lint package's image rules over an image in the
// store. It is its own package, above the engine, because it reads a stored image whatever made
// it (build, load, import, commit), and so belongs neither to the builder nor to lint, whose
// rules know nothing of the store; and because lint's dependencies (YAML, XML, a shell parser)
// must stay out of the engine.
package imagecheck

import (
	"context"
	"fmt"
	"io"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/lint"
)

// Check runs the image rules (lint.CheckImage) over a stored image: its config and every
// layer read from the content store, in order. Nothing is extracted or run; layers are streamed
// once each.
func Check(ctx context.Context, e *engine.Engine, ref string, cfg *lint.Config) (*lint.Result, error) {
	img, c, err := e.ResolveImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	m, err := e.Images.Manifest(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("check image %s: %w", ref, err)
	}
	in := lint.Image{Name: ref, Config: c.Image}
	in.Config.Config = c.Config.ImageConfig
	if c.Config.Healthcheck != nil {
		in.Healthcheck = c.Config.Healthcheck.Test
	}
	for _, l := range m.Layers {
		in.Layers = append(in.Layers, func() (io.ReadCloser, error) {
			f, err := e.Content.Open(ctx, l.Digest)
			if err != nil {
				return nil, err
			}
			rc, _, err := archive.DecompressStream(f)
			if err != nil {
				f.Close()
				return nil, err
			}
			return closeBoth{rc, f}, nil
		})
	}
	res, err := lint.CheckImage(ctx, in, cfg)
	if err != nil {
		return nil, fmt.Errorf("check image %s: %w", ref, err)
	}
	return res, nil
}

type closeBoth struct {
	io.ReadCloser
	under io.Closer
}

func (c closeBoth) Close() error {
	err := c.ReadCloser.Close()
	if err2 := c.under.Close(); err == nil {
		err = err2
	}
	return err
}
