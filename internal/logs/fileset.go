package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// logFile is one open file of a log with what fstat said when it was opened.
type logFile struct {
	*os.File
	info os.FileInfo
}

func openFile(name string) (*logFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{File: f, info: fi}, nil
}

func closeFiles(files []*logFile) {
	for _, f := range files {
		f.Close()
	}
}

// openSet opens every file of the log at path, oldest first, the current file (if it exists)
// last.
//
// The Writer rotates without telling readers, so the set is opened optimistically: open the
// current file, then path.1, path.2, … and check that the current file is still the one opened.
// If it is, no rotation completed meanwhile and at most one was under way; it moves each file up
// by one index, from the oldest down, so walking the indexes upwards meets every file, a file
// met twice is recognised by its inode, and the order is still newest to oldest. If the current
// file changed, start again.
func openSet(path string) ([]*logFile, error) {
	for attempt := 0; ; attempt++ {
		files, stable, err := tryOpenSet(path)
		if err != nil {
			return nil, fmt.Errorf("open log %s: %w", path, err)
		}
		if stable || attempt == 100 {
			return files, nil
		}
		closeFiles(files)
	}
}

func tryOpenSet(path string) (files []*logFile, stable bool, err error) {
	cur, err := openFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	top, err := maxRotated(path)
	if err != nil {
		if cur != nil {
			cur.Close()
		}
		return nil, false, err
	}
	seen := func(fi os.FileInfo) bool {
		if cur != nil && os.SameFile(cur.info, fi) {
			return true
		}
		return slices.ContainsFunc(files, func(f *logFile) bool { return os.SameFile(f.info, fi) })
	}
	// One index more than listed: a rotation under way may have just moved the oldest up.
	for i := 1; i <= top+1; i++ {
		f, err := openFile(rotatedName(path, i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			closeFiles(files)
			if cur != nil {
				cur.Close()
			}
			return nil, false, err
		}
		if seen(f.info) {
			f.Close()
			continue
		}
		files = append(files, f)
	}
	slices.Reverse(files)
	if cur != nil {
		files = append(files, cur)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		stable = cur == nil
	case err != nil:
		closeFiles(files)
		return nil, false, err
	default:
		stable = cur != nil && os.SameFile(cur.info, fi)
	}
	return files, stable, nil
}

// maxRotated returns the highest N of the files path.N, or 0.
func maxRotated(path string) (int, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return 0, err
	}
	prefix := filepath.Base(path) + "."
	top := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n > top {
			top = n
		}
	}
	return top, nil
}
