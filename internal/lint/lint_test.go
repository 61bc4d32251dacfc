package lint

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The corpus: Dockerfiles written from the patterns of public official images and of the
// tutorials people copy, each with its expected findings in a golden file.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.Dockerfile")
	if err != nil || len(files) < 8 {
		t.Fatalf("corpus: %v %v", files, err)
	}
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			res, err := CheckDockerfile(src, Options{Path: filepath.Base(p)})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("corpus", strings.TrimSuffix(filepath.Base(p), ".Dockerfile")+".golden"), render(res.Findings))
		})
	}
}

// A Dockerfile and context that follow every practice: zero findings with the default config.
func TestGoodDockerfileHasNoFindings(t *testing.T) {
	src, err := os.ReadFile("testdata/good/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte("requiredLabels: [org.opencontainers.image.source]\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := CheckDockerfile(src, Options{Path: "Dockerfile", ContextDir: "testdata/good", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings on the good Dockerfile:\n%s", render(res.Findings))
	}
	if res.Failed(SeverityStyle) {
		t.Error("good Dockerfile fails at style")
	}
}

func rules(res *Result) string {
	var ids []string
	for _, f := range res.Findings {
		ids = append(ids, f.Rule)
	}
	return strings.Join(ids, " ")
}

func TestSuppression(t *testing.T) {
	const body = "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n"
	for _, tc := range []struct {
		name, src, want string
		errorOn         bool
	}{
		{"none", body, "AptUnpinned", false},
		{"check skip", "# check=skip=AptUnpinned\n" + body, "", false},
		{"check skip hadolint code", "# check=skip=DL3008\n" + body, "", false},
		{"check skip all", "# check=skip=all\n" + body + "MAINTAINER x\n", "", false},
		{"check error", "# check=error=true\n" + body, "AptUnpinned", true},
		{"hadolint ignore before", "FROM debian:12\n# hadolint ignore=DL3008\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n", "", false},
		{"hadolint ignore our ID", "FROM debian:12\n# hadolint ignore=AptUnpinned,DL3015\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n", "", false},
		{"hadolint ignore applies to one instruction", "FROM debian:12\n# hadolint ignore=DL3008\nRUN apt-get install -y --no-install-recommends curl\nRUN apt-get install -y --no-install-recommends wget\n", "AptListsNotCleaned AptListsNotCleaned AptUnpinned ConsecutiveRun", false},
		{"hadolint global", "# hadolint global ignore=DL3008\n" + body, "", false},
		{"check comment before instruction", "FROM debian:12\n# check=skip=AptUnpinned\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n", "", false},
		{"wrong code does not suppress", "FROM debian:12\n# hadolint ignore=DL3009\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n", "AptUnpinned", false},
		{"syntax errors are never suppressed", "# check=skip=all\nFROM debian:12\nBOGUS x\n", "DockerfileSyntax", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := check(t, tc.src, nil, "")
			if got := rules(res); got != tc.want {
				t.Errorf("rules = %q, want %q", got, tc.want)
			}
			if res.ErrorOnFindings != tc.errorOn {
				t.Errorf("ErrorOnFindings = %v", res.ErrorOnFindings)
			}
		})
	}
	if _, err := CheckDockerfile([]byte("# check=bogus=1\nFROM debian:12\n"), Options{}); err == nil {
		t.Error("a malformed check directive is not an error")
	}
}

func TestConfig(t *testing.T) {
	const src = "FROM ghcr.io/acme/base:1.0\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nMAINTAINER me\n"
	res := check(t, src, nil, "")
	if got := rules(res); got != "UntrustedBaseImage AptUnpinned MaintainerDeprecated" {
		t.Fatalf("default: %q", got)
	}
	res = check(t, src, nil, `
ignored: [DL3008]
override:
  error: [MaintainerDeprecated]
trustedRegistries: [ghcr.io/acme]
requiredLabels: [org.opencontainers.image.source]
failure-threshold: error
`)
	if got := rules(res); got != "MissingRequiredLabel MaintainerDeprecated" {
		t.Fatalf("configured: %q", got)
	}
	if res.Findings[1].Severity != SeverityError {
		t.Errorf("override: %v", res.Findings[1].Severity)
	}
	if !res.Failed(SeverityError) || res.Failed(SeverityNone) {
		t.Error("Failed thresholds")
	}
	for _, bad := range []string{"ignored: [NoSuchRule]\n", "failure-threshold: loud\n", "ignore: [DL3008]\n"} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%q) accepted", bad)
		}
	}
	if c, err := ParseConfig(nil); err != nil || c == nil {
		t.Errorf("empty config: %v", err)
	}
}

func TestFormats(t *testing.T) {
	res := check(t, "FROM debian:latest\nCMD echo <hi> \"&\"\n", nil, "")
	results := []*Result{res}

	var text bytes.Buffer
	if err := Write(&text, "text", results, "test"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Dockerfile:1:1 LatestBaseImage warning: base image debian:latest uses the latest tag; ") ||
		!strings.Contains(text.String(), "    2 | CMD echo <hi> \"&\"\n") {
		t.Errorf("text:\n%s", text.String())
	}

	var js bytes.Buffer
	if err := Write(&js, "json", results, "test"); err != nil {
		t.Fatal(err)
	}
	var fs []map[string]any
	if err := json.Unmarshal(js.Bytes(), &fs); err != nil || len(fs) != len(res.Findings) || fs[0]["rule"] != "LatestBaseImage" || fs[0]["severity"] != "warning" || fs[0]["line"] != 1.0 {
		t.Errorf("json: %v %s", err, js.String())
	}

	var sarif bytes.Buffer
	if err := Write(&sarif, "sarif", results, "test"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(sarif.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-2.1.0") || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name == "" {
		t.Fatalf("sarif header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Results) != len(res.Findings) {
		t.Fatalf("sarif results: %d", len(run.Results))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.Message.Text == "" || len(r.Locations) != 1 ||
			r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "Dockerfile" || r.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("sarif result %+v", r)
		}
		switch r.Level {
		case "error", "warning", "note":
		default:
			t.Errorf("sarif level %q", r.Level)
		}
	}

	var cs bytes.Buffer
	if err := Write(&cs, "checkstyle", results, "test"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files []struct {
			Name   string `xml:"name,attr"`
			Errors []struct {
				Line     int    `xml:"line,attr"`
				Severity string `xml:"severity,attr"`
				Source   string `xml:"source,attr"`
				Message  string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"file"`
	}
	if err := xml.Unmarshal(cs.Bytes(), &doc); err != nil || len(doc.Files) != 1 || len(doc.Files[0].Errors) != len(res.Findings) || doc.Files[0].Errors[0].Source != "LatestBaseImage" {
		t.Errorf("checkstyle: %v\n%s", err, cs.String())
	}
	if err := Write(&cs, "yaml", results, ""); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestShell(t *testing.T) {
	s := ParseShell(`set -eux; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -qy --no-install-recommends curl=1 "$PKG" | tee log; sudo -E make install & sh -c 'pip install x'`)
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	var names []string
	for _, c := range s.Cmds {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "set apt-get apt-get tee sudo make sh pip" {
		t.Fatalf("commands %q", got)
	}
	inst := s.Cmds[2]
	if !inst.Has("-y") || !inst.Has("--no-install-recommends") || inst.Has("-x") || inst.Sub() != "install" {
		t.Errorf("flags of %+v", inst)
	}
	if p := packages(inst); strings.Join(p, ",") != "curl=1" {
		t.Errorf("packages %q", p)
	}
	if !s.Cmds[4].Background || !s.Cmds[5].Wrapped || !s.Cmds[7].Wrapped {
		t.Errorf("background/wrapped: %+v %+v %+v", s.Cmds[4], s.Cmds[5], s.Cmds[7])
	}
	if len(s.Pipes) != 1 || !s.pipeUnguarded() {
		t.Errorf("pipes %v pipefail %d", s.Pipes, s.PipefailAt)
	}
	if g := ParseShell("set -euxo pipefail; a | b"); g.pipeUnguarded() {
		t.Error("pipefail before the pipe not seen")
	}
	if g := ParseShell("a | b; set -o pipefail"); !g.pipeUnguarded() {
		t.Error("pipefail after the pipe counted")
	}
	if bad := ParseShell("if then fi ("); bad.Err == nil {
		t.Error("bad shell parsed")
	}
}

func TestHeredocRun(t *testing.T) {
	res := check(t, "# syntax=docker/dockerfile:1\nFROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl=1\nrm -rf /var/lib/apt/lists/*\nsudo true\nEOF\n", nil, "")
	if got := rules(res); got != "SudoInRun" {
		t.Errorf("heredoc rules %q", got)
	}
}
