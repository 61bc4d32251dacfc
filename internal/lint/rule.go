package lint

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Severity orders findings; a failure threshold fails a run on findings at or above it.
type Severity int

// Severities from least to most serious. SeverityNone as a threshold never fails.
const (
	SeverityStyle Severity = iota + 1
	SeverityInfo
	SeverityWarning
	SeverityError
	SeverityNone
)

func (s Severity) String() string {
	switch s {
	case SeverityStyle:
		return "style"
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	case SeverityNone:
		return "none"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity as its name in JSON and YAML.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity reads error, warning, info, style or none.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "style":
		return SeverityStyle, nil
	case "info":
		return SeverityInfo, nil
	case "warning", "warn":
		return SeverityWarning, nil
	case "error":
		return SeverityError, nil
	case "none", "never":
		return SeverityNone, nil
	}
	return 0, fmt.Errorf("invalid severity %q (error, warning, info, style, none)", s)
}

// Source says where a rule comes from.
type Source string

// Rule origins.
const (
	SourceBuildKit Source = "buildkit"
	SourceHadolint Source = "hadolint"
	SourceHako     Source = "hako"
)

// Target says what a rule checks.
type Target string

// What rules check.
const (
	TargetDockerfile Target = "dockerfile"
	TargetImage      Target = "image"
)

// Rule is one check. Summary is the one-line description; Fix is the hint appended to every
// finding; Doc is the page `hako lint --explain ID` prints.
type Rule struct {
	ID       string
	Severity Severity
	Source   Source
	Target   Target
	Summary  string
	Fix      string
	Doc      string
	Hadolint []string // hadolint codes that mean this rule
	URL      string

	check func(*Document, *reporter) // nil for the BuildKit rules: one pass reports them all
}

var registry = map[string]*Rule{}

// aliases maps hadolint codes (upper case) to our IDs.
var aliases = map[string]string{}

var registerOnce sync.Once

// ruleSet is the registry, filled on first use rather than by initialisers: every hako process
// (a `run`, a `ps`) would otherwise build the ~60 rules at its start, 0.3 ms here.
func ruleSet() map[string]*Rule {
	registerOnce.Do(func() {
		registerBuildKit()
		registerCheck()
		registerImage()
		registerHadolint()
		registerHako()
	})
	return registry
}

func register(rs ...*Rule) {
	for _, r := range rs {
		if _, dup := registry[r.ID]; dup {
			panic("lint: duplicate rule " + r.ID)
		}
		registry[r.ID] = r
		for _, h := range r.Hadolint {
			aliases[strings.ToUpper(h)] = r.ID
		}
	}
}

// Rules lists every rule sorted by target then ID.
func Rules() []*Rule {
	out := make([]*Rule, 0, len(ruleSet()))
	for _, r := range registry {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Target != out[j].Target {
			return out[i].Target < out[j].Target
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Lookup finds a rule by its ID (any case) or by a hadolint code it maps.
func Lookup(id string) (*Rule, bool) {
	id = strings.TrimSpace(id)
	if r, ok := ruleSet()[id]; ok {
		return r, true
	}
	if a, ok := aliases[strings.ToUpper(id)]; ok {
		return registry[a], true
	}
	for k, r := range registry {
		if strings.EqualFold(k, id) {
			return r, true
		}
	}
	return nil, false
}

// canonical returns the rule ID id names, or id itself when no rule has that name.
func canonical(id string) string {
	if r, ok := Lookup(id); ok {
		return r.ID
	}
	return strings.TrimSpace(id)
}

// Explain is the doc page of a rule.
func (r *Rule) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %s, from %s)\n\n%s\n\n%s\n\nFix: %s\n", r.ID, r.Severity, r.Target, r.Source, r.Summary, strings.TrimSpace(r.Doc), r.Fix)
	if len(r.Hadolint) > 0 {
		fmt.Fprintf(&b, "hadolint: %s\n", strings.Join(r.Hadolint, ", "))
	}
	if r.URL != "" {
		fmt.Fprintf(&b, "See: %s\n", r.URL)
	}
	return b.String()
}

// lazyRegexp compiles a pattern on its first use. The hako binary links this package, and most
// of its processes never lint: compiling the patterns at start-up cost each of them (the CLI,
// libcontainer's init of a container, which is hako re-executed, and the monitor when it runs as
// the `hako __monitor` fallback) part of a millisecond. cmd/hako-monitor and cmd/hako-init do not
// link it.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
