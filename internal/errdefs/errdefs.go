// Package errdefs holds the error classes that every hako package uses, so that the CLI can map
// any failure to Docker's exit codes and messages without knowing where it came from.
//
// Wrap a class with fmt.Errorf("...: %w", errdefs.ErrNotFound) or errdefs.NotFound(err), and
// test with errors.Is.
package errdefs

import (
	"errors"
	"fmt"
)

var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrConflict        = errors.New("conflict")
	ErrNotImplemented  = errors.New("not implemented")
	ErrUnavailable     = errors.New("unavailable")
	// ErrCannotExecute and ErrCommandNotFound are the container process's own start failures:
	// Docker exits 126 and 127 for them.
	ErrCannotExecute   = errors.New("cannot execute")
	ErrCommandNotFound = errors.New("command not found")
)

// classed keeps the message of the wrapped error and adds a class for errors.Is.
type classed struct {
	err   error
	class error
}

func (c classed) Error() string   { return c.err.Error() }
func (c classed) Unwrap() []error { return []error{c.err, c.class} }

func with(class, err error) error {
	if err == nil || errors.Is(err, class) {
		return err
	}
	return classed{err: err, class: class}
}

func NotFound(err error) error        { return with(ErrNotFound, err) }
func AlreadyExists(err error) error   { return with(ErrAlreadyExists, err) }
func InvalidArgument(err error) error { return with(ErrInvalidArgument, err) }
func Conflict(err error) error        { return with(ErrConflict, err) }
func NotImplemented(err error) error  { return with(ErrNotImplemented, err) }

// Invalidf is a shorthand for an InvalidArgument error with a formatted message.
func Invalidf(format string, args ...any) error {
	return InvalidArgument(fmt.Errorf(format, args...))
}

// NotFoundf is a shorthand for a NotFound error with a formatted message.
func NotFoundf(format string, args ...any) error { return NotFound(fmt.Errorf(format, args...)) }

// Conflictf is a shorthand for a Conflict error with a formatted message.
func Conflictf(format string, args ...any) error { return Conflict(fmt.Errorf(format, args...)) }
