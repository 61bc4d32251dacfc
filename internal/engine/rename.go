package engine

import (
	"context"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
)

// Rename gives a container a new name, unique among containers (under the store lock, as create).
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	name = trimSlash(name)
	if err := container.ValidName(name); err != nil {
		return err
	}
	cs := e.Containers()
	return e.withLock(func() error {
		all, err := cs.List()
		if err != nil {
			return err
		}
		c, err := container.Resolve(all, ref)
		if err != nil {
			return err
		}
		if c.Name == name {
			return errdefs.Invalidf("Renaming a container with the same name as its current name")
		}
		for _, o := range all {
			if o.Name == name {
				return errdefs.Conflictf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, o.ID)
			}
		}
		c, l, err := cs.GetLocked(c.ID)
		if err != nil {
			return err
		}
		defer l.Unlock()
		c.Name = name
		return cs.Save(c)
	})
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}
