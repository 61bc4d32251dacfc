package container

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/spec"
	digest "github.com/opencontainers/go-digest"
)

// BenchmarkList reads a store of 1,000 created containers, as `ps -a` does.
func BenchmarkList(b *testing.B) {
	s := &Store{Root: b.TempDir()}
	for i := 0; i < 1000; i++ {
		c := &Container{ID: NewID(), Name: fmt.Sprintf("c%d", i), Created: time.Now().UTC(),
			Config: Config{Image: "busybox", ImageID: digest.FromString("img"), Cmd: []string{"sleep", "1"},
				Options: spec.Options{Cmd: []string{"sleep", "1"}, NetworkMode: "none"}},
			State: State{Status: Created}}
		if err := s.Save(c); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time as well as wall time: on a shared machine the wall time says more about the
	// neighbours than about List.
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cs, err := s.List()
		if err != nil || len(cs) != 1000 {
			b.Fatalf("List: %d, %v", len(cs), err)
		}
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/1000, "cpu-ms/op")
}
