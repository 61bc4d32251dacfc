package cli

import (
	"os"
	"runtime"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func hostArch() string { return runtime.GOARCH }
