// Command elfinstall installs hako's statically linked executables (scripts/build.sh): it
// extends each read-only PT_LOAD segment that the linker aligned to 2 MiB (-z
// max-page-size=0x200000) up to the next 2 MiB boundary, over the linker's own padding, and
// writes the file in one write.
//
// Both are for the page cache. A file written in one large write is cached in large folios,
// 2 MiB where the offsets allow, which the kernel maps with one page-table entry each (a PMD)
// wherever a whole aligned 2 MiB of the file falls in one mapping. The linker's segments end
// wherever their contents do, so without the extension the last, partial 2 MiB of the code and
// of the read-only data are mapped page by page. On the virtualised MMU hako is measured on,
// where each first touch of a 4 KiB page costs a trap (docs/run.md, "The binaries"), this
// takes ~5 ms off `hako run --rm busybox true` and ~8 ms off `hako ps`. The extension maps
// only bytes the file already holds (the padding between segments, or the next segment's
// first bytes, read-only), and never past the next segment's address or the end of the file.
//
//	go run ./tools/elfinstall SRC DST
package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/hako-dev/hako/internal/atomicfile"
)

// hugePage is the size of x86-64's PMD mapping.
const hugePage = 2 << 20

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: elfinstall SRC DST")
		os.Exit(2)
	}
	if err := install(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "elfinstall:", err)
		os.Exit(1)
	}
}

// install writes SRC, its read-only segments extended, to DST, mode 0755: through a temporary
// file and a rename (atomicfile), so that a running DST keeps its own inode, and in one write.
func install(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := extendSegments(data); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return atomicfile.Replace(dst, data, 0o755) // one Write: large folios
}

// extendSegments rewrites, in data (a 64-bit little-endian ELF file), the sizes of each
// PT_LOAD segment that is not writable, has no zero-filled tail (p_filesz == p_memsz) and is
// aligned to at least 2 MiB: up to the next 2 MiB boundary, or less where the next segment's
// first page or the end of the file comes first. Any other file is left as it is.
func extendSegments(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return err
	}
	// x86-64's 4 KiB pages and 2 MiB PMDs; anything else is installed as it is.
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 {
		return nil
	}
	le := binary.LittleEndian
	phoff, phentsize := le.Uint64(data[0x20:]), uint64(le.Uint16(data[0x36:]))
	if phentsize < 0x38 || phoff+uint64(len(f.Progs))*phentsize > uint64(len(data)) {
		return errors.New("program headers out of the file")
	}
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_W != 0 || p.Align < hugePage || p.Filesz != p.Memsz ||
			p.Off > uint64(len(data)) || p.Filesz > uint64(len(data))-p.Off {
			continue
		}
		end := (p.Vaddr + p.Memsz + hugePage - 1) &^ (hugePage - 1)
		for _, q := range f.Progs {
			if q.Type == elf.PT_LOAD && q.Vaddr > p.Vaddr && q.Vaddr&^0xfff < end {
				end = q.Vaddr &^ 0xfff
			}
		}
		size := end - p.Vaddr
		if p.Off+size > uint64(len(data)) {
			size = uint64(len(data)) - p.Off
		}
		if size <= p.Memsz {
			continue
		}
		h := data[phoff+uint64(i)*phentsize:]
		le.PutUint64(h[0x20:], size) // p_filesz
		le.PutUint64(h[0x28:], size) // p_memsz
	}
	return nil
}
