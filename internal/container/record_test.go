package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/spec"
)

// Records of every size load whole: below the first read's buffer, exactly its size, and far
// above it (a long environment), through Get and List.
func TestRecordSizes(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	for _, n := range []int{0, 1, 200, 5000} {
		env := make([]string, n)
		for i := range env {
			env[i] = fmt.Sprintf("VAR_%d=%s", i, strings.Repeat("x", i%50))
		}
		c := &Container{ID: NewID(), Name: fmt.Sprintf("c%d", n), Created: time.Now().UTC(),
			Config: Config{Image: "busybox", Cmd: []string{"true"}, Options: spec.Options{Env: env}},
			State:  State{Status: Created}}
		if err := s.Save(c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(c.ID)
		if err != nil {
			t.Fatalf("%d variables: %v", n, err)
		}
		if !slices.Equal(got.Config.Options.Env, env) {
			t.Fatalf("%d variables: got %d back", n, len(got.Config.Options.Env))
		}
	}
	// Exactly the first read's buffer, and one byte more.
	for _, size := range []int{8192, 8193} {
		c := &Container{ID: NewID(), Name: fmt.Sprintf("exact%d", size), Created: time.Now().UTC(), State: State{Status: Created}}
		if err := s.Save(c); err != nil {
			t.Fatal(err)
		}
		c.Config.Cmd = []string{""}
		var b []byte
		for range 3 { // the Cmd string grows the record byte for byte
			if err := s.Save(c); err != nil {
				t.Fatal(err)
			}
			var err error
			if b, err = readRecord(s.Dir(c.ID)+"/container.json", false); err != nil {
				t.Fatal(err)
			}
			c.Config.Cmd[0] += strings.Repeat("y", size-len(b))
		}
		if len(b) != size {
			t.Fatalf("record of %d bytes, aimed at %d", len(b), size)
		}
		got, err := s.Get(c.ID)
		if err != nil || got.Config.Cmd[0] != c.Config.Cmd[0] {
			t.Fatalf("record of %d bytes: %v", len(b), err)
		}
	}
	cs, err := s.List()
	if err != nil || len(cs) != 6 {
		t.Fatalf("List: %d records, %v", len(cs), err)
	}
}

// TestRecordHead: `hako exec`'s C path (internal/fastexec) finds a container by name from the
// head of its record alone, {"ID":"<id>","Name":"<name>",; ID and Name must stay the first
// fields of Container, or every exec by name or prefix falls back to the Go path.
func TestRecordHead(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	c := &Container{ID: strings.Repeat("ab", 32), Name: "web-1.x_y", Config: Config{Labels: map[string]string{"Name": "decoy"}}}
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(c.ID), "container.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ID":"` + c.ID + `","Name":"` + c.Name + `",`; !strings.HasPrefix(string(b), want) {
		t.Fatalf("the record starts %.80q, want %q", b, want)
	}
}
