package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// stringArray must behave exactly as pflag's stringArray: the values, the text, the help.
func TestStringArrayIsPflags(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-e", "A=1"},
		{"-e", "A=1", "--env", "B=2,3", "-e", `C="q"`, "-e", ""},
		{"--env=x y", "--env", "a,b,\"c\""},
	} {
		var theirs, ours []string
		pf := pflag.NewFlagSet("t", pflag.ContinueOnError)
		pf.StringArrayVarP(&theirs, "env", "e", nil, "Set environment variables")
		of := pflag.NewFlagSet("t", pflag.ContinueOnError)
		stringArrayVarP(of, &ours, "env", "e", "Set environment variables")
		if err := pf.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := of.Parse(args); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(theirs, ours) || (theirs == nil) != (ours == nil) {
			t.Errorf("%q: values %q, pflag's %q", args, ours, theirs)
		}
		p, o := pf.Lookup("env"), of.Lookup("env")
		// DefValue differs ("" for pflag's "[]"): pflag's help knows only its own type's empty
		// default; the help itself must be the same.
		if p.Value.String() != o.Value.String() || p.Value.Type() != o.Value.Type() {
			t.Errorf("%q: String %q Type %q, pflag's %q %q", args, o.Value.String(), o.Value.Type(), p.Value.String(), p.Value.Type())
		}
		if pf.FlagUsages() != of.FlagUsages() {
			t.Errorf("%q: help\n%s\npflag's\n%s", args, of.FlagUsages(), pf.FlagUsages())
		}
		ps, os := p.Value.(pflag.SliceValue), o.Value.(pflag.SliceValue)
		ps.Append("z")
		os.Append("z")
		if !slices.Equal(ps.GetSlice(), os.GetSlice()) {
			t.Errorf("%q: Append: %q, pflag's %q", args, os.GetSlice(), ps.GetSlice())
		}
		ps.Replace([]string{"r"})
		os.Replace([]string{"r"})
		if !slices.Equal(ps.GetSlice(), os.GetSlice()) || !strings.Contains(o.Value.String(), "r") {
			t.Errorf("%q: Replace: %q, pflag's %q", args, os.GetSlice(), ps.GetSlice())
		}
	}
}
