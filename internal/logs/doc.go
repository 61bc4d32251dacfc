// Package logs is hako's json-file log driver: the per-container monitor writes the container's
// stdout and stderr through a Writer, and `hako logs` reads them back with Read.
//
// The on-disk format is Docker's json-file format, byte for byte, so that tools that parse
// /var/lib/docker/containers/<id>/<id>-json.log also parse ours: one JSON object per line,
//
//	{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
//
// with "log" holding one line of output including its newline. A line longer than 16 KiB is
// split into 16 KiB records without a newline, like Docker's 16K copier buffer; so is a last
// line that never got its newline before the Writer was closed.
//
// Rotation is on by default: DefaultOptions keeps at most 5 files of 20 MB each (path, path.1 …
// path.4, oldest last), so a chatty container cannot fill the disk. Docker's default is
// unbounded (no max-size); hako deliberately differs. Rotation only ever renames files and
// creates a new one, never truncates or rewrites, so a reader holding a file open always sees a
// whole file; Read opens the set of files consistently even while a rotation is in progress.
//
// Records are written with O_APPEND and not fsynced: a crash can lose the tail of the log or
// leave a torn last line, which readers skip and the next Writer terminates.
package logs
