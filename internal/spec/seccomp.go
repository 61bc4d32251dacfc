package spec

// SeccompUnconfined is the --security-opt seccomp value that turns seccomp off.
const SeccompUnconfined = "unconfined"
