//go:build !hakolean

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hako-dev/hako/internal/builder"
	"golang.org/x/term"
)

// plainProgress writes BuildKit's plain progress format:
//
//	#5 [2/4] RUN echo hi
//	#5 0.213 hi
//	#5 DONE 0.3s
type plainProgress struct {
	w     io.Writer
	start map[int]time.Time
	part  map[int][]byte
}

func newPlainProgress(w io.Writer) *plainProgress {
	return &plainProgress{w: w, start: map[int]time.Time{}, part: map[int][]byte{}}
}

func (p *plainProgress) Start(v *builder.Vertex) {
	p.start[v.ID] = v.Started
	fmt.Fprintf(p.w, "#%d %s\n", v.ID, v.Name)
}

func (p *plainProgress) Log(v *builder.Vertex, b []byte) {
	buf := append(p.part[v.ID], b...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "#%d %.3f %s\n", v.ID, time.Since(p.start[v.ID]).Seconds(), strings.TrimRight(string(buf[:i]), "\r"))
		buf = buf[i+1:]
	}
	p.part[v.ID] = buf
}

func (p *plainProgress) Done(v *builder.Vertex) {
	if rest := p.part[v.ID]; len(rest) > 0 {
		fmt.Fprintf(p.w, "#%d %.3f %s\n", v.ID, time.Since(p.start[v.ID]).Seconds(), rest)
		delete(p.part, v.ID)
	}
	switch {
	case errors.Is(v.Err, context.Canceled):
		// Another stage failed first, or the user interrupted the build.
		fmt.Fprintf(p.w, "#%d CANCELED\n", v.ID)
	case v.Err != nil:
		fmt.Fprintf(p.w, "#%d ERROR: %s\n", v.ID, oneLine(v.Err))
	case v.Cached:
		fmt.Fprintf(p.w, "#%d CACHED\n", v.ID)
	default:
		fmt.Fprintf(p.w, "#%d DONE %.1fs\n", v.ID, v.Completed.Sub(v.Started).Seconds())
	}
	fmt.Fprintln(p.w)
}

func (p *plainProgress) Warn(msg string) { fmt.Fprintf(p.w, "WARNING: %s\n", msg) }

// ttyProgress redraws BuildKit's terminal display: a header with the elapsed time, one line per
// step with its status and time, and the last lines of output of the running step.
type ttyProgress struct {
	mu       sync.Mutex
	w        io.Writer
	width    func() int
	began    time.Time
	vertices []*ttyVertex
	warnings []string
	lines    int // lines drawn last time, to move back over
	stop     chan struct{}
	stopped  chan struct{}
}

type ttyVertex struct {
	v    *builder.Vertex
	done bool
	logs []string
	part []byte
}

func newTTYProgress(w io.Writer, width func() int) *ttyProgress {
	t := &ttyProgress{w: w, width: width, began: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(t.stopped)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				t.mu.Lock()
				t.draw(false)
				t.mu.Unlock()
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (t *ttyProgress) find(v *builder.Vertex) *ttyVertex {
	for _, x := range t.vertices {
		if x.v == v {
			return x
		}
	}
	x := &ttyVertex{v: v}
	t.vertices = append(t.vertices, x)
	return x
}

func (t *ttyProgress) Start(v *builder.Vertex) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.find(v)
	t.draw(false)
}

func (t *ttyProgress) Log(v *builder.Vertex, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.find(v)
	x.part = append(x.part, b...)
	for {
		i := bytes.IndexByte(x.part, '\n')
		if i < 0 {
			break
		}
		x.logs = append(x.logs, strings.TrimRight(string(x.part[:i]), "\r"))
		x.part = x.part[i+1:]
	}
	if len(x.logs) > 6 {
		x.logs = x.logs[len(x.logs)-6:]
	}
}

func (t *ttyProgress) Done(v *builder.Vertex) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.find(v)
	x.done = true
	t.draw(false)
}

func (t *ttyProgress) Warn(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.warnings = append(t.warnings, msg)
}

// Close draws the final state and stops redrawing.
func (t *ttyProgress) Close() {
	close(t.stop)
	<-t.stopped
	t.mu.Lock()
	defer t.mu.Unlock()
	t.draw(true)
	for _, w := range t.warnings {
		fmt.Fprintf(t.w, "WARNING: %s\n", w)
	}
}

func (t *ttyProgress) draw(final bool) {
	width := t.width()
	if width <= 20 {
		width = 80
	}
	var b strings.Builder
	if t.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.lines)
	}
	n := 0
	line := func(s string) {
		if len([]rune(s)) > width-1 {
			s = string([]rune(s)[:width-1])
		}
		b.WriteString(s + "\x1b[K\n")
		n++
	}
	done := 0
	for _, x := range t.vertices {
		if x.done {
			done++
		}
	}
	state := "Building"
	if final {
		state = "Finished"
	}
	line(fmt.Sprintf("[+] %s %.1fs (%d/%d)", state, time.Since(t.began).Seconds(), done, len(t.vertices)))
	for _, x := range t.vertices {
		v := x.v
		var status string
		switch {
		case x.done && errors.Is(v.Err, context.Canceled):
			status = "CANCELED"
		case x.done && v.Err != nil:
			status = "ERROR"
		case x.done && v.Cached:
			status = "CACHED"
		case x.done:
			status = fmt.Sprintf("%.1fs", v.Completed.Sub(v.Started).Seconds())
		default:
			status = fmt.Sprintf("%.1fs", time.Since(v.Started).Seconds())
		}
		name := " => " + v.Name
		pad := width - 1 - len([]rune(name)) - len(status) - 1
		if pad < 1 {
			keep := len([]rune(name)) + pad - 2
			if keep < 10 {
				keep = 10
			}
			if keep < len([]rune(name)) {
				name = string([]rune(name)[:keep]) + "…"
			}
			pad = 1
		}
		line(name + strings.Repeat(" ", pad) + status)
		if !x.done || v.Err != nil {
			for _, l := range x.logs {
				line(" => => # " + l)
			}
		}
	}
	// Clear what a longer previous frame left below.
	for i := n; i < t.lines; i++ {
		b.WriteString("\x1b[K\n")
	}
	if t.lines > n {
		fmt.Fprintf(&b, "\x1b[%dA", t.lines-n)
	}
	t.lines = n
	io.WriteString(t.w, b.String())
}

func termWidth(fd int) func() int {
	return func() int {
		w, _, err := term.GetSize(fd)
		if err != nil {
			return 80
		}
		return w
	}
}
