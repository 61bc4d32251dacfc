package builder

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/layer"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Stages build in parallel: each planned stage has a goroutine that waits for the stages it
// reads (its FROM stage, COPY --from and RUN --mount=from stages), then for one of
// runtime.NumCPU() slots, and builds. The first stage that fails cancels the build's context:
// the other stages' RUN containers are killed (the runtime executor kills on cancel), their
// steps end as canceled, and the build returns the first failure. Nothing is tagged; the steps
// that finished stay as build cache, as in a sequential build.

// stageRun is one stage's place in the schedule.
type stageRun struct {
	done chan struct{} // closed when the stage has ended, built or not
	res  *stepImage
	err  error
}

// buildStages builds the plan's stages, each as soon as the stages it needs are built.
func (b *job) buildStages(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.runs = map[int]*stageRun{}
	for _, sp := range b.plan.Stages {
		b.runs[sp.Index] = &stageRun{done: make(chan struct{})}
	}
	slots := make(chan struct{}, max(1, goruntime.NumCPU()))
	var wg sync.WaitGroup
	for _, sp := range b.plan.Stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.runs[sp.Index]
			defer close(r.done)
			for _, d := range stageDeps(sp) {
				if _, err := b.stageResult(ctx, d.Index); err != nil {
					r.err = err
					return
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				r.err = context.Cause(ctx)
				return
			}
			r.err = b.buildStage(ctx, sp)
			<-slots
			if r.err != nil {
				cancel(r.err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// stageDeps are the stages sp reads.
func stageDeps(sp *build.StagePlan) []*build.StagePlan {
	var out []*build.StagePlan
	if sp.BaseStage != nil {
		out = append(out, sp.BaseStage)
	}
	return append(out, sp.Deps...)
}

// stageResult waits for a planned stage and returns its final image.
func (b *job) stageResult(ctx context.Context, index int) (*stepImage, error) {
	r := b.runs[index]
	if r == nil {
		return nil, fmt.Errorf("stage %d is not part of this build", index)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if r.err != nil {
		return nil, errStageFailed
	}
	return r.res, nil
}

var errStageFailed = errors.New("a stage this one needs failed")

// lockedProgress serialises progress events: the stages report from their own goroutines, and
// a Progress takes events from one goroutine at a time.
type lockedProgress struct {
	mu sync.Mutex
	p  build.Progress
}

func (l *lockedProgress) Start(v *build.Vertex) { l.mu.Lock(); defer l.mu.Unlock(); l.p.Start(v) }
func (l *lockedProgress) Log(v *build.Vertex, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.Log(v, b)
}
func (l *lockedProgress) Done(v *build.Vertex) { l.mu.Lock(); defer l.mu.Unlock(); l.p.Done(v) }
func (l *lockedProgress) Warn(msg string)      { l.mu.Lock(); defer l.mu.Unlock(); l.p.Warn(msg) }

// unpack is layer.Unpack, one at a time in this build: two stages that read the same image
// would otherwise race to unpack its missing layers under the same snapshot keys.
func (b *job) unpack(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	b.unpackMu.Lock()
	defer b.unpackMu.Unlock()
	return layer.Unpack(ctx, b.e.Snapshots, b.e.Content, b.lease, layers, diffIDs)
}
