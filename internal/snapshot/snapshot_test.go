package snapshot_test

import (
	"testing"

	"github.com/hako-dev/hako/internal/snapshot"
	"github.com/hako-dev/hako/internal/snapshot/snapshottest"
)

func TestOverlayConformance(t *testing.T) {
	snapshottest.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
		sn, err := snapshot.NewOverlay(root)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	})
}

func TestNativeConformance(t *testing.T) {
	snapshottest.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
		sn, err := snapshot.NewNative(root)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	})
}
