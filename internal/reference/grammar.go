package reference

import (
	"errors"
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// Docker's reference grammar (github.com/distribution/reference, regexp.go), scanned by hand:
//
//	reference  := name [ ":" tag ] [ "@" digest ]
//	name       := [ domain "/" ] path            (a domain whenever the first component is one)
//	domain     := host [ ":" port ]
//	host       := domain-name | "[" [a-fA-F0-9:]+ "]"
//	domain-name:= label ( "." label )*           label: [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//	port       := [0-9]+
//	path       := component ( "/" component )*   (at most 255 bytes, without the domain)
//	component  := alnum ( separator alnum )*     alnum: [a-z0-9]+; separator: "." | "_" | "__" | "-"+
//	tag        := [\w][\w.-]{0,127}
//	digest     := algorithm ":" [0-9a-fA-F]{32,} algorithm: alg ( [-_+.] alg )*, alg: [A-Za-z][A-Za-z0-9]*
//
// The digest is then validated by go-digest (a known algorithm and its exact length and case).

const (
	defaultDomain = "docker.io"
	legacyDomain  = "index.docker.io"
	officialRepo  = "library/"
	nameMax       = 255 // RepositoryNameTotalLengthMax
)

// The errors of distribution/reference, word for word.
var (
	errInvalidFormat = errors.New("invalid reference format")
	errUppercase     = errors.New("repository name must be lowercase")
	errNameTooLong   = errors.New("repository name must not be more than 255 characters")
)

// ref is a reference split as distribution/reference splits it.
type ref struct {
	domain, path, tag, digest string
}

// name is the repository: domain/path, or the path alone when there is no domain.
func (r ref) name() string {
	if r.domain == "" {
		return r.path
	}
	return r.domain + "/" + r.path
}

// familiarName strips Docker Hub's domain, and "library/" from an official image's path.
func (r ref) familiarName() string {
	if r.domain != defaultDomain {
		return r.name()
	}
	if rest, ok := strings.CutPrefix(r.path, officialRepo); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return r.path
}

// withTagDigest appends r's tag and digest to name.
func (r ref) withTagDigest(name string) string {
	if r.tag != "" {
		name += ":" + r.tag
	}
	if r.digest != "" {
		name += "@" + r.digest
	}
	return name
}

// parseNormalized is distribution/reference's ParseNormalizedNamed: reject a bare 64-hex ID, put
// Docker Hub's domain and library/ where the familiar form leaves them out, then parse.
func parseNormalized(s string) (ref, error) {
	if len(s) == 64 && isLowerHex(s) {
		return ref{}, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, rest := splitDockerDomain(s)
	remote := rest
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		remote = rest[:i]
	}
	if strings.ToLower(remote) != remote {
		return ref{}, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", remote)
	}
	return parse(domain + "/" + rest)
}

// splitDockerDomain splits off the first component as the domain when it is "localhost" or holds a
// '.', a ':' or an uppercase letter; otherwise the domain is docker.io. A Docker Hub name with one
// component gets library/.
func splitDockerDomain(s string) (domain, rest string) {
	first, after, ok := strings.Cut(s, "/")
	switch {
	case !ok:
		return defaultDomain, officialRepo + s
	case first == legacyDomain:
		domain, rest = defaultDomain, after
	case first == "localhost" || strings.ContainsAny(first, ".:") || strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = defaultDomain, s
	}
	if domain == defaultDomain && !strings.Contains(rest, "/") {
		rest = officialRepo + rest
	}
	return domain, rest
}

// parse is distribution/reference's Parse for a non-empty s.
func parse(s string) (ref, error) {
	r, ok := scan(s)
	if !ok {
		if _, ok := scan(strings.ToLower(s)); ok {
			return ref{}, errUppercase
		}
		return ref{}, errInvalidFormat
	}
	if len(r.path) > nameMax {
		return ref{}, errNameTooLong
	}
	if r.digest != "" {
		if _, err := digest.Parse(r.digest); err != nil {
			return ref{}, err
		}
	}
	return r, nil
}

// scan matches s against the whole grammar. Like the anchored regexp it replaces, it takes the
// first component for a domain when that component is one and the rest still matches; otherwise
// the first component belongs to the path.
func scan(s string) (ref, bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 && isDomain(s[:i]) {
		if r, ok := scanRemote(s[i+1:]); ok {
			r.domain = s[:i]
			return r, true
		}
	}
	return scanRemote(s)
}

// scanRemote matches path [":" tag] ["@" digest]. Neither ':' nor '@' can occur in a path, nor '@'
// in a tag, so each part ends where the next begins.
func scanRemote(s string) (r ref, ok bool) {
	n := 0
	for n < len(s) && (isLowerAlnum(s[n]) || s[n] == '/' || s[n] == '.' || s[n] == '_' || s[n] == '-') {
		n++
	}
	r.path, s = s[:n], s[n:]
	for c := range strings.SplitSeq(r.path, "/") {
		if !isComponent(c) {
			return r, false
		}
	}
	if t, ok := strings.CutPrefix(s, ":"); ok {
		if i := strings.IndexByte(t, '@'); i >= 0 {
			t = t[:i]
		}
		if !isTag(t) {
			return r, false
		}
		r.tag, s = t, s[1+len(t):]
	}
	if d, ok := strings.CutPrefix(s, "@"); ok {
		if !isDigest(d) {
			return r, false
		}
		r.digest, s = d, ""
	}
	return r, s == ""
}

// isComponent: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
func isComponent(c string) bool {
	i := 0
	for {
		j := i
		for j < len(c) && isLowerAlnum(c[j]) {
			j++
		}
		if j == i {
			return false
		}
		if j == len(c) {
			return true
		}
		switch c[j] {
		case '.':
			j++
		case '_':
			j++
			if j < len(c) && c[j] == '_' {
				j++
			}
		case '-':
			for j < len(c) && c[j] == '-' {
				j++
			}
		default:
			return false
		}
		i = j
	}
}

// isDomain: ( label ( "." label )* | "[" [a-fA-F0-9:]+ "]" ) [ ":" [0-9]+ ]
func isDomain(d string) bool {
	var port string
	if inner, ok := strings.CutPrefix(d, "["); ok {
		end := strings.IndexByte(inner, ']')
		if end <= 0 {
			return false
		}
		for i := range end {
			if !isHex(inner[i]) && inner[i] != ':' {
				return false
			}
		}
		port = inner[end+1:]
	} else {
		host := d
		if i := strings.IndexByte(d, ':'); i >= 0 {
			host, port = d[:i], d[i:]
		}
		for label := range strings.SplitSeq(host, ".") {
			if !isLabel(label) {
				return false
			}
		}
	}
	if port == "" {
		return true
	}
	if port[0] != ':' || len(port) == 1 {
		return false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// isLabel: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
func isLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !isAlnum(l[i]) && l[i] != '-' {
			return false
		}
	}
	return true
}

// isTag: [\w][\w.-]{0,127}
func isTag(t string) bool {
	if t == "" || len(t) > 128 || !isWord(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if !isWord(t[i]) && t[i] != '.' && t[i] != '-' {
			return false
		}
	}
	return true
}

// isDigest: [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [0-9a-fA-F]{32,}
func isDigest(d string) bool {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok || len(enc) < 32 {
		return false
	}
	for i := range len(enc) {
		if !isHex(enc[i]) {
			return false
		}
	}
	i := 0
	for {
		if i == len(alg) || !isLetter(alg[i]) { // every part starts with a letter
			return false
		}
		for i++; i < len(alg) && isAlnum(alg[i]); i++ {
		}
		if i == len(alg) {
			return true
		}
		switch alg[i] {
		case '-', '_', '+', '.':
			i++
		default:
			return false
		}
	}
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func isLetter(c byte) bool     { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool      { return isLetter(c) || c >= '0' && c <= '9' }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
