package build

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Chmod is a COPY/ADD --chmod value: an octal mode ("0755") or chmod(1)'s symbolic form
// ("u+x,go-w", "a=rX", "g=u"), as BuildKit's Dockerfile frontend takes it since 1.14. A symbolic
// mode changes each copied file's own mode, so "+X" adds execute to directories and to files
// that some class may already execute.
type Chmod struct {
	octal   uint32 // 0o7777 bits, when symbolic is nil
	clauses []chmodClause
	text    string
}

type chmodClause struct {
	who uint32 // the bits the clause may touch
	ops []chmodOp
}

type chmodOp struct {
	op    byte   // '+', '-' or '='
	perms string // letters of rwxXst, or one of u, g, o (copy that class's bits)
}

const (
	whoU = 0o4700
	whoG = 0o2070
	whoO = 0o1007
	whoA = whoU | whoG | whoO
)

// ParseChmod reads a --chmod value.
func ParseChmod(s string) (*Chmod, error) {
	if s == "" {
		return nil, nil
	}
	if m, err := strconv.ParseUint(s, 8, 32); err == nil {
		if m > 0o7777 {
			return nil, errdefs.Invalidf("--chmod=%s: an octal mode is at most 7777", s)
		}
		return &Chmod{octal: uint32(m), text: fmt.Sprintf("%04o", m)}, nil
	}
	c := &Chmod{text: s}
	for _, part := range strings.Split(s, ",") {
		cl, err := parseChmodClause(part)
		if err != nil {
			return nil, errdefs.Invalidf("--chmod=%s: %v (an octal mode such as 0755, or symbolic such as u+x,go-w)", s, err)
		}
		c.clauses = append(c.clauses, cl)
	}
	return c, nil
}

func parseChmodClause(s string) (chmodClause, error) {
	var cl chmodClause
	i := 0
	for ; i < len(s) && strings.IndexByte("ugoa", s[i]) >= 0; i++ {
		switch s[i] {
		case 'u':
			cl.who |= whoU
		case 'g':
			cl.who |= whoG
		case 'o':
			cl.who |= whoO
		case 'a':
			cl.who |= whoA
		}
	}
	if cl.who == 0 {
		cl.who = whoA // no umask in a build: "+x" is "a+x"
	}
	if i == len(s) {
		return cl, fmt.Errorf("clause %q has no operator", s)
	}
	for i < len(s) {
		op := s[i]
		if op != '+' && op != '-' && op != '=' {
			return cl, fmt.Errorf("clause %q: unexpected %q", s, op)
		}
		i++
		j := i
		for j < len(s) && strings.IndexByte("rwxXstugo", s[j]) >= 0 {
			j++
		}
		perms := s[i:j]
		if strings.ContainsAny(perms, "ugo") && len(perms) != 1 {
			return cl, fmt.Errorf("clause %q: u, g or o stands alone after %c", s, op)
		}
		cl.ops = append(cl.ops, chmodOp{op: op, perms: perms})
		i = j
	}
	return cl, nil
}

// String is the value as history and cache keys show it: octal modes as four digits.
func (c *Chmod) String() string {
	if c == nil {
		return ""
	}
	return c.text
}

// Apply gives the mode a file of mode m gets; isDir matters for "X".
func (c *Chmod) Apply(m fs.FileMode, isDir bool) fs.FileMode {
	if c.clauses == nil {
		return FileMode(c.octal)
	}
	bits := uint32(m.Perm()) | specialBits(m)
	for _, cl := range c.clauses {
		for _, op := range cl.ops {
			var p uint32
			switch op.perms {
			case "u":
				p = (bits >> 6 & 7) * 0o111
			case "g":
				p = (bits >> 3 & 7) * 0o111
			case "o":
				p = (bits & 7) * 0o111
			default:
				for _, r := range op.perms {
					switch r {
					case 'r':
						p |= 0o444
					case 'w':
						p |= 0o222
					case 'x':
						p |= 0o111
					case 'X':
						if isDir || bits&0o111 != 0 {
							p |= 0o111
						}
					case 's':
						p |= 0o6000
					case 't':
						p |= 0o1000
					}
				}
			}
			p &= cl.who
			switch op.op {
			case '+':
				bits |= p
			case '-':
				bits &^= p
			case '=':
				bits = bits&^cl.who | p
			}
		}
	}
	return FileMode(bits)
}

// applyChmod is Apply for a nil-able Chmod on os.FileMode values.
func applyChmod(c *Chmod, m os.FileMode, isDir bool) os.FileMode {
	if c == nil {
		return m
	}
	return c.Apply(m, isDir)
}
