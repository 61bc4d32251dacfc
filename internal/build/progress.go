package build

import "time"

// Vertex is one line of progress output, as BuildKit has them: a step, or the builder's own work
// ("[internal] load build context", "exporting to image").
type Vertex struct {
	ID        int // "#5" in plain output
	Name      string
	Started   time.Time
	Completed time.Time
	Cached    bool
	Err       error
}

// Progress receives a build's events, in order, from one goroutine at a time.
type Progress interface {
	// Start says v began.
	Start(v *Vertex)
	// Log is output of v (a RUN's stdout and stderr, or a status line of the builder's).
	Log(v *Vertex, b []byte)
	// Done says v ended: Completed is set, and Cached or Err may be.
	Done(v *Vertex)
	// Warn is a warning about the whole build (an unused build arg, a lint rule).
	Warn(msg string)
}

// Discard is a Progress that drops everything.
type Discard struct{}

func (Discard) Start(*Vertex)       {}
func (Discard) Log(*Vertex, []byte) {}
func (Discard) Done(*Vertex)        {}
func (Discard) Warn(string)         {}
