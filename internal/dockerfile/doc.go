// Package dockerfile is the first stage of a build: it turns a Dockerfile's bytes into typed
// instructions grouped by stage, with the line each came from. BuildKit's own parser and
// instruction types do the work, so line continuations, `# escape=`, JSON and shell forms and
// heredocs read exactly as Docker reads them. Nothing is expanded here: ARG and ENV values are
// applied later, by the build plan, step by step.
//
// A syntax error is an *Error naming file, line and column, which can show the offending lines.
// Flags and instructions that hako does not implement are refused here, so that nothing is
// silently ignored.
package dockerfile
