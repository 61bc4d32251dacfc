package lint

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Formats Write knows.
var Formats = []string{"text", "json", "sarif", "checkstyle"}

// Write prints results in format: text for people, json, sarif (2.1.0, for code scanning) and
// checkstyle for machines.
func Write(w io.Writer, format string, results []*Result, toolVersion string) error {
	switch format {
	case "", "text", "tty":
		return writeText(w, results)
	case "json":
		return writeJSON(w, results)
	case "sarif":
		return writeSARIF(w, results, toolVersion)
	case "checkstyle":
		return writeCheckstyle(w, results)
	}
	return fmt.Errorf("unknown format %q (%s)", format, strings.Join(Formats, ", "))
}

func writeText(w io.Writer, results []*Result) error {
	for _, r := range results {
		for _, f := range r.Findings {
			where := fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
			if f.Line == 0 {
				where = f.File // an image finding has no line
			}
			if _, err := fmt.Fprintf(w, "%s %s %s: %s\n", where, f.Rule, f.Severity, f.Text()); err != nil {
				return err
			}
			if strings.TrimSpace(f.Code) != "" {
				fmt.Fprintf(w, "    %d | %s\n", f.Line, strings.TrimRight(f.Code, " \t\r"))
			}
		}
	}
	return nil
}

func writeJSON(w io.Writer, results []*Result) error {
	all := []Finding{}
	for _, r := range results {
		all = append(all, r.Findings...)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(all)
}

// SARIF 2.1.0, the subset code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine   int `json:"startLine"`
			StartColumn int `json:"startColumn"`
			EndLine     int `json:"endLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

func sarifLevel(s Severity) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "note"
}

func writeSARIF(w io.Writer, results []*Result, version string) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "hako lint", Version: version, InformationURI: "https://github.com/hako-dev/hako"}}, Results: []sarifResult{}}
	index := map[string]int{}
	for _, r := range Rules() {
		index[r.ID] = len(run.Tool.Driver.Rules)
		props := map[string]any{"tags": []string{string(r.Source), string(r.Target)}}
		if len(r.Hadolint) > 0 {
			props["hadolint"] = r.Hadolint
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: r.ID, Name: r.ID, ShortDescription: sarifText{r.Summary}, FullDescription: sarifText{strings.TrimSpace(r.Doc)},
			Help: sarifText{r.Fix}, HelpURI: r.URL, DefaultConfiguration: map[string]any{"level": sarifLevel(r.Severity)}, Properties: props,
		})
	}
	for _, res := range results {
		for _, f := range res.Findings {
			var loc sarifLocation
			loc.PhysicalLocation.ArtifactLocation.URI = f.File
			loc.PhysicalLocation.Region.StartLine = max(f.Line, 1)
			loc.PhysicalLocation.Region.StartColumn = max(f.Column, 1)
			loc.PhysicalLocation.Region.EndLine = max(f.EndLine, f.Line, 1)
			run.Results = append(run.Results, sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity), Message: sarifText{f.Text()}, Locations: []sarifLocation{loc}})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

type csFile struct {
	Name   string    `xml:"name,attr"`
	Errors []csError `xml:"error"`
}

type csError struct {
	Line     int    `xml:"line,attr"`
	Column   int    `xml:"column,attr"`
	Severity string `xml:"severity,attr"`
	Message  string `xml:"message,attr"`
	Source   string `xml:"source,attr"`
}

func writeCheckstyle(w io.Writer, results []*Result) error {
	type root struct {
		XMLName xml.Name `xml:"checkstyle"`
		Version string   `xml:"version,attr"`
		Files   []csFile `xml:"file"`
	}
	doc := root{Version: "4.3"}
	for _, r := range results {
		f := csFile{Name: r.File}
		for _, x := range r.Findings {
			sev := x.Severity.String()
			if x.Severity == SeverityStyle {
				sev = "info"
			}
			f.Errors = append(f.Errors, csError{Line: x.Line, Column: x.Column, Severity: sev, Message: x.Text(), Source: x.Rule})
		}
		doc.Files = append(doc.Files, f)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
