// Package build is the middle of the build data flow: it takes the typed instructions of package
// dockerfile and decides what to do with them, without touching the store or the runtime.
//
//   - Plan picks the stages that the target needs, resolves global ARGs and --build-arg values,
//     and warns about build args nothing uses.
//   - A Stage holds the state of one stage while it builds (image config, ARGs in scope, shell)
//     and turns each instruction into a Step: expanded, with its history line and cache key.
//   - Steps are carried out by one file per instruction kind: metadata.go changes the config,
//     run.go runs a command through an Executor (the builder's runtime, or a fake in tests),
//     copy.go and add.go copy from a Context or another root into a mounted snapshot.
//
// The builder (internal/builder) drives the loop: cache lookups, snapshots, layers and image
// records are its job.
package build
