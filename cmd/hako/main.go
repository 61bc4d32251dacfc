package main

import (
	_ "crypto/sha256"

	_ "github.com/cyphar/filepath-securejoin"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/moby/sys/mountinfo"
	_ "github.com/opencontainers/go-digest"
	_ "github.com/opencontainers/image-spec/specs-go/v1"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)

func main() {}
