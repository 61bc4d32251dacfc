package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

type seg struct {
	flags                     elf.ProgFlag
	off, vaddr, filesz, memsz uint64
	align                     uint64
}

// synthetic is an ELF64 file with these PT_LOAD segments and no sections, size bytes long.
func synthetic(segs []seg, size int) []byte {
	le := binary.LittleEndian
	data := make([]byte, size)
	copy(data, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(data[0x10:], uint16(elf.ET_EXEC))
	le.PutUint16(data[0x12:], uint16(elf.EM_X86_64))
	le.PutUint32(data[0x14:], 1)
	le.PutUint64(data[0x20:], 64) // e_phoff
	le.PutUint16(data[0x34:], 64) // e_ehsize
	le.PutUint16(data[0x36:], 0x38)
	le.PutUint16(data[0x38:], uint16(len(segs)))
	for i, s := range segs {
		h := data[64+i*0x38:]
		le.PutUint32(h[0:], uint32(elf.PT_LOAD))
		le.PutUint32(h[4:], uint32(s.flags))
		le.PutUint64(h[8:], s.off)
		le.PutUint64(h[0x10:], s.vaddr)
		le.PutUint64(h[0x18:], s.vaddr)
		le.PutUint64(h[0x20:], s.filesz)
		le.PutUint64(h[0x28:], s.memsz)
		le.PutUint64(h[0x30:], s.align)
	}
	return data
}

func sizes(t *testing.T, data []byte) [][2]uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]uint64
	for _, p := range f.Progs {
		out = append(out, [2]uint64{p.Filesz, p.Memsz})
	}
	return out
}

func TestExtendSegments(t *testing.T) {
	const huge = 2 << 20
	for _, tc := range []struct {
		name string
		segs []seg
		size int
		want [][2]uint64
	}{
		{
			// hako-monitor's layout, linked with -z separate-code -z max-page-size=0x200000
			name: "separate code",
			segs: []seg{
				{elf.PF_R, 0, 0x400000, 0x620, 0x620, huge},
				{elf.PF_R | elf.PF_X, 0x200000, 0x600000, 0x56cbc1, 0x56cbc1, huge},
				{elf.PF_R, 0x800000, 0xc00000, 0x572bcb, 0x572bcb, huge},
				{elf.PF_R | elf.PF_W, 0xdfb968, 0x13fb968, 0x2eec8, 0x2077f40, huge},
			},
			size: 0xdfb968 + 0x2eec8,
			want: [][2]uint64{{0x200000, 0x200000}, {0x600000, 0x600000}, {0x600000, 0x600000}, {0x2eec8, 0x2077f40}},
		},
		{
			// the next segment starts within the last 2 MiB: up to its first page only
			name: "next segment close",
			segs: []seg{
				{elf.PF_R | elf.PF_X, 0, 0x400000, 0x1234, 0x1234, huge},
				{elf.PF_R, 0x3000, 0x403000, 0x100, 0x100, huge},
			},
			size: 0x3100,
			want: [][2]uint64{{0x3000, 0x3000}, {0x100, 0x100}},
		},
		{
			// the file ends first: up to its end
			name: "end of file",
			segs: []seg{{elf.PF_R | elf.PF_X, 0, 0x400000, 0x1234, 0x1234, huge}},
			size: 0x5000,
			want: [][2]uint64{{0x5000, 0x5000}},
		},
		{
			// 4 KiB alignment (Go's internal linker), writable, or a zero-filled tail: as it was
			name: "left alone",
			segs: []seg{
				{elf.PF_R | elf.PF_X, 0, 0x400000, 0x1234, 0x1234, 0x1000},
				{elf.PF_R | elf.PF_W, 0x200000, 0x600000, 0x100, 0x100, huge},
				{elf.PF_R, 0x400000, 0x800000, 0x100, 0x200, huge},
			},
			size: 0x400100,
			want: [][2]uint64{{0x1234, 0x1234}, {0x100, 0x100}, {0x100, 0x200}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := synthetic(tc.segs, tc.size)
			if err := extendSegments(data); err != nil {
				t.Fatal(err)
			}
			got := sizes(t, data)
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Errorf("segment %d: filesz, memsz %#x, want %#x", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestExtendSegmentsRefusesGarbage(t *testing.T) {
	if err := extendSegments([]byte("#!/bin/sh\necho not an ELF file\n")); err == nil {
		t.Fatal("a shell script passed as an ELF file")
	}
	data := synthetic([]seg{{elf.PF_R, 0, 0x400000, 0x100, 0x100, 2 << 20}}, 0x200)
	binary.LittleEndian.PutUint64(data[0x20:], 1<<40) // e_phoff past the end
	if err := extendSegments(data); err == nil {
		t.Fatal("program headers past the end of the file accepted")
	}
	// A segment whose file range lies past the end of the file is left as it is.
	data = synthetic([]seg{{elf.PF_R | elf.PF_X, 0x10000, 0x400000, 0x100, 0x100, 2 << 20}}, 0x1000)
	if err := extendSegments(data); err != nil {
		t.Fatal(err)
	}
	if got := sizes(t, data); got[0] != [2]uint64{0x100, 0x100} {
		t.Errorf("a segment past the end of the file became %#x", got[0])
	}
}

// TestInstalledBinaryRuns links a static program as scripts/build.sh links hako, installs it and
// runs it: the extended segments must map and run as before.
func TestInstalledBinaryRuns(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc for an external link")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from the extended binary\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	built := filepath.Join(dir, "built")
	cmd := exec.Command("go", "build", "-o", built, "-ldflags",
		"-linkmode external -extldflags '-static -Wl,-z,separate-code -Wl,-z,max-page-size=0x200000'", src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-mod=mod")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot link statically here: %v\n%s", err, out)
	}
	installed := filepath.Join(dir, "installed")
	if err := install(built, installed); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(installed).CombinedOutput()
	if err != nil || string(out) != "hello from the extended binary\n" {
		t.Fatalf("the installed binary: %v, %q", err, out)
	}
	data, err := os.ReadFile(installed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	extended := 0
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			if (p.Vaddr+p.Memsz)%(2<<20) == 0 {
				extended++
			}
		}
	}
	if extended == 0 {
		t.Fatalf("no read-only segment ends on a 2 MiB boundary: %+v", f.Progs)
	}
	if st, err := os.Stat(installed); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("installed mode: %v %v", st.Mode(), err)
	}
}
