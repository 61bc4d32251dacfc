// Package cli is hako's command line: cobra commands that turn flags into one engine call and
// print the result the way Docker does (same columns, --format templates, -q, --no-trunc). It
// holds no store logic and never exits the process; main maps the returned error to an exit code.
package cli
