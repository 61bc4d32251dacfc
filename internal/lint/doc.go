// Package lint checks the practices Docker's guides teach, before they bite in production. It
// sits beside the build in the data flow: a Dockerfile (BuildKit's parser, RUN bodies parsed as
// shell with mvdan.cc/sh) and its build context go in, Findings come out; `hako lint`, `hako build
// --check` and `hako build` print them. Rules over a built image (CheckImage) read an image config
// and its layer tars and never run anything.
//
// Every rule is a small value in the registry (Rules): an ID, a severity, a one-line summary and a
// doc page. BuildKit's build checks keep BuildKit's names and messages (its linter package defines
// them); hadolint's most used rules get names of ours and hadolint's DLxxxx codes map onto them, so
// `# hadolint ignore=DL3008` keeps working for users who switch.
package lint
