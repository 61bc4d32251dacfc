package cli

import (
	"bytes"
	"encoding/csv"
	"strings"

	"github.com/spf13/pflag"
)

// stringArray is pflag's stringArray flag value (each use of the flag appends one value, the
// first replacing the default; no splitting at commas) with a String that costs nothing while
// the value is empty. pflag's own computes the flag's default text at registration, through an
// encoding/csv writer and its 4 KiB buffer: for hako's 35 such flags, made on every command's
// start whatever the command, that was ~1 ms of `hako run` (allocation and page faults).
type stringArray struct {
	value   *[]string
	changed bool
}

func (s *stringArray) Set(v string) error {
	if !s.changed {
		*s.value = []string{v}
		s.changed = true
	} else {
		*s.value = append(*s.value, v)
	}
	return nil
}

func (s *stringArray) Type() string { return "stringArray" }

// String is pflag's: the values as one CSV record in brackets.
func (s *stringArray) String() string {
	if len(*s.value) == 0 {
		return "[]"
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(*s.value)
	w.Flush()
	return "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}

// Append, Replace and GetSlice make it a pflag.SliceValue, as pflag's is.
func (s *stringArray) Append(v string) error {
	*s.value = append(*s.value, v)
	return nil
}

func (s *stringArray) Replace(vals []string) error {
	*s.value = append([]string(nil), vals...)
	return nil
}

func (s *stringArray) GetSlice() []string { return *s.value }

// stringArrayVar and stringArrayVarP register a stringArray flag with no default, in place of
// fs.StringArrayVar(p, name, nil, usage) and fs.StringArrayVarP(p, name, short, nil, usage).
func stringArrayVar(fs *pflag.FlagSet, p *[]string, name, usage string) {
	stringArrayVarP(fs, p, name, "", usage)
}

func stringArrayVarP(fs *pflag.FlagSet, p *[]string, name, short, usage string) {
	*p = nil
	f := fs.VarPF(&stringArray{value: p}, name, short, usage)
	// pflag's help leaves out a default of "[]" for its own type only: "" is how a value of
	// another type says it has none.
	f.DefValue = ""
}
