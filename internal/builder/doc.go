// Package builder is `hako build` and `hako builder prune`: it drives a build over an engine's
// store. Package dockerfile parses the Dockerfile and package build plans the stages and turns
// instructions into steps; the builder runs them, each stage as soon as the stages it reads are
// built, looks each step up in the build cache (package buildcache) and records it as an
// intermediate image, with RUN steps in containers of the runtime, their --mount prepared on
// the host, and the result exported to the store or to an --output.
//
// It sits above package engine and reaches the store through the engine's exported fields and
// accessors; the engine never imports it, so that what links the engine (the container monitor
// above all) does not carry BuildKit's Dockerfile parser, the ssh agent or the HTTP and git
// fetchers of ADD.
//
// Store layout it adds under the root:
//
//	root/buildcache/           the cache index (package buildcache); http/ holds ADD <url> downloads
//	root/cachemounts/          RUN --mount=type=cache directories
//	root/tmp/build-*/          a live build's scratch directory, locked while it runs
package builder
