// Package cli is hako's command line: cobra commands that turn flags into one engine call and
// print the result the way Docker does (same columns, --format templates, -q, --no-trunc). It
// holds no store logic and never exits the process; main maps the returned error to an exit code.
//
// It is the light part: it links the engine but not the builder, BuildKit's Dockerfile parser or
// the linters, so that hako-monitor can serve the container verbs with it. The commands that need
// those (build, builder, lint, image check) are package buildcli's, which the full hako binary
// registers with Register; see Extension.
package cli
