package lint

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is what CheckImage reads: the config and the layers, bottom first, as uncompressed tar
// streams opened on demand. Nothing is run or extracted.
type Image struct {
	Name        string
	Config      ocispec.Image
	Healthcheck []string // Docker's config.Healthcheck.Test; nil when the image has none
	Layers      []func() (io.ReadCloser, error)
}

func iRule(id string, sev Severity, summary, fix, doc string) *Rule {
	return &Rule{ID: id, Severity: sev, Source: SourceHako, Target: TargetImage, Summary: summary, Fix: fix, Doc: doc}
}

var (
	ruleImageRoot = iRule("ImageRunsAsRoot", SeverityWarning, "The image runs as root",
		"set USER to an unprivileged user in the Dockerfile",
		"The config has no USER (or USER root/0), so containers run as root unless the runner passes --user. Root in a container is root on the host's kernel; a breakout or a writable host mount becomes a host compromise.")
	ruleImageSecretEnv = iRule("ImageSecretInConfig", SeverityError, "A secret is stored in the image's ENV or labels",
		"remove it from ENV/LABEL; pass secrets at run time or with RUN --mount=type=secret",
		"ENV and LABEL values are in the image config that every `inspect` shows. A variable named like a password, token or key with a value, or a value shaped like an access key or a private key, is a leaked secret.")
	ruleImageSecretHistory = iRule("ImageSecretInHistory", SeverityError, "A secret is stored in the image history",
		"use RUN --mount=type=secret instead of build args for secrets",
		"The history records every RUN with the build args it saw (`|1 TOKEN=… /bin/sh -c …`). Build args named like secrets, and values shaped like tokens, stay in the image for anyone who runs `history --no-trunc`.")
	ruleImageSetuid = iRule("ImageSetuidFile", SeverityInfo, "The image has setuid or setgid files",
		"remove the bits with chmod u-s,g-s where the program is not needed",
		"A setuid or setgid binary runs with its owner's rights whoever starts it; each one is a path to privilege escalation inside the container. Keep only those you need, or run with --security-opt no-new-privileges.")
	ruleImageCredFile = iRule("ImageCredentialFile", SeverityError, "A layer holds a credential file",
		"keep keys and credential files out of every layer: .dockerignore and RUN --mount=type=secret",
		"Private keys, .env, .npmrc, .netrc, cloud credentials: once a layer stores them they stay there, even when a later layer deletes them; `save` and a tar tool recover them. hako reads every layer, so it finds the deleted ones too.")
	ruleImageWasted = iRule("ImageWastedBytes", SeverityInfo, "Files stored in a layer are deleted or replaced by a later layer",
		"delete files in the same RUN that creates them, or use a multi-stage build",
		"A layer is immutable: deleting or overwriting a file later hides it but every pull still downloads it. The total is what the image could lose.")
	ruleImageWorldWritable = iRule("ImageWorldWritableDir", SeverityWarning, "A directory is world-writable without the sticky bit",
		"chmod o-w the directory, or chmod +t it like /tmp",
		"Any user in the container can replace files in a world-writable directory without the sticky bit, including files other users or programs trust.")
	ruleImageEmptyPassword = iRule("ImageEmptyPassword", SeverityError, "A user in /etc/shadow has an empty password",
		"lock the account (passwd -l) or set a password hash",
		"An empty password field lets anyone su or log in as that user with no password.")
	ruleImageDupUID = iRule("ImageDuplicateUID", SeverityWarning, "Two users in /etc/passwd share a UID",
		"give each user its own UID",
		"Users with one UID are one user to the kernel: files, processes and permissions of one belong to the other.")
	ruleImageNoHealthcheck = iRule("ImageNoHealthcheck", SeverityInfo, "The image has no HEALTHCHECK",
		"add HEALTHCHECK CMD … to the Dockerfile",
		"Without a health check the engine can only tell whether the process exists, not whether it works; orchestrators and `ps` report a hung service as healthy.")
)

func registerImage() {
	register(ruleImageRoot, ruleImageSecretEnv, ruleImageSecretHistory, ruleImageSetuid, ruleImageCredFile, ruleImageWasted,
		ruleImageWorldWritable, ruleImageEmptyPassword, ruleImageDupUID, ruleImageNoHealthcheck)
}

// secretValue matches values shaped like well-known credentials.
var secretValue = lazyRegexp(`AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9_-]{20}|xox[baprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----`)

// secretAssign finds KEY=value pairs in history lines.
var secretAssign = lazyRegexp(`([A-Za-z_][A-Za-z0-9_]*)=(\S+)`)

func secretKey(k string) bool { return secretsDeny().MatchString(k) && !secretsAllow().MatchString(k) }

// fileInfo is a path as the layers leave it.
type fileInfo struct {
	layer int
	size  int64
	mode  int64
	typ   byte
	data  []byte // kept for the account files
}

// CheckImage runs the image rules. It streams every layer once.
func CheckImage(ctx context.Context, img Image, cfg *Config) (*Result, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	var out []Finding
	report := func(r *Rule, format string, args ...any) {
		out = append(out, Finding{File: img.Name, Rule: r.ID, Severity: r.Severity, Message: fmt.Sprintf(format, args...), Fix: r.Fix})
	}
	c := img.Config.Config

	switch u, _, _ := strings.Cut(c.User, ":"); u {
	case "", "root", "0":
		if c.User == "" {
			report(ruleImageRoot, "the image has no USER and runs as root")
		} else {
			report(ruleImageRoot, "USER is %s", c.User)
		}
	}
	for _, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		if (secretKey(k) && v != "") || secretValue().MatchString(v) {
			report(ruleImageSecretEnv, "ENV %s holds a secret", k)
		}
	}
	labels := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		labels = append(labels, k)
	}
	sort.Strings(labels)
	for _, k := range labels {
		if v := c.Labels[k]; (secretKey(strings.ReplaceAll(k, ".", "_")) && v != "") || secretValue().MatchString(v) {
			report(ruleImageSecretEnv, "label %s holds a secret", k)
		}
	}
	for i, h := range img.Config.History {
		if secretValue().MatchString(h.CreatedBy) {
			report(ruleImageSecretHistory, "history step %d holds a credential-shaped value", i+1)
			continue
		}
		for _, m := range secretAssign().FindAllStringSubmatch(h.CreatedBy, -1) {
			if secretKey(m[1]) && !strings.HasPrefix(m[2], "$") {
				report(ruleImageSecretHistory, "history step %d records %s=…", i+1, m[1])
				break
			}
		}
	}
	if len(img.Healthcheck) == 0 || img.Healthcheck[0] == "NONE" {
		report(ruleImageNoHealthcheck, "the image has no HEALTHCHECK")
	}

	files := map[string]*fileInfo{}
	var wasted int64
	wastedFiles := map[string]int64{}
	creds := map[string]string{}
	drop := func(p string, layer int, subtree bool) {
		for q, fi := range files {
			if q == p || (subtree && strings.HasPrefix(q, p+"/")) || (p == "" && subtree) {
				if fi.layer < layer && fi.typ == tar.TypeReg {
					wasted += fi.size
					wastedFiles[q] += fi.size
				}
				delete(files, q)
			}
		}
	}
	for li, open := range img.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rc, err := open()
		if err != nil {
			return nil, fmt.Errorf("open layer %d: %w", li+1, err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("read layer %d: %w", li+1, err)
			}
			p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			dir, base := path.Split(p)
			dir = strings.TrimSuffix(dir, "/")
			if base == ".wh..wh..opq" {
				drop(dir, li, true)
				continue
			}
			if name, ok := strings.CutPrefix(base, ".wh."); ok {
				drop(path.Join(dir, name), li, true)
				continue
			}
			if old, ok := files[p]; ok && old.layer < li && old.typ == tar.TypeReg {
				wasted += old.size
				wastedFiles[p] += old.size
			}
			fi := &fileInfo{layer: li, size: h.Size, mode: h.Mode, typ: h.Typeflag}
			if h.Typeflag == tar.TypeReg {
				switch p {
				case "etc/passwd", "etc/shadow", "etc/group":
					fi.data, _ = io.ReadAll(io.LimitReader(tr, 4<<20))
				}
				if _, seen := creds[p]; !seen && h.Size > 0 && credentialFile(p, tr) {
					creds[p] = fmt.Sprintf("layer %d", li+1)
				}
			}
			files[p] = fi
		}
		rc.Close()
	}

	for p, where := range creds {
		if _, still := files[p]; !still {
			where += ", deleted later but still in that layer"
		}
		creds[p] = where
	}
	for _, p := range sortedKeys(creds) {
		report(ruleImageCredFile, "/%s (%s)", p, creds[p])
	}
	if wasted > 0 {
		top := sortedKeys(wastedFiles)
		sort.SliceStable(top, func(i, j int) bool { return wastedFiles[top[i]] > wastedFiles[top[j]] })
		if len(top) > 3 {
			top = top[:3]
		}
		for i := range top {
			top[i] = "/" + top[i]
		}
		report(ruleImageWasted, "%s in %d files deleted or replaced by later layers (largest: %s)", humanBytes(wasted), len(wastedFiles), strings.Join(top, ", "))
	}
	var setuid, writable []string
	for _, p := range sortedKeys(files) {
		fi := files[p]
		switch {
		case fi.typ == tar.TypeReg && fi.mode&0o6000 != 0:
			setuid = append(setuid, "/"+p)
		case fi.typ == tar.TypeDir && fi.mode&0o002 != 0 && fi.mode&0o1000 == 0:
			writable = append(writable, "/"+p)
		}
	}
	if len(setuid) > 0 {
		report(ruleImageSetuid, "%d setuid/setgid files: %s", len(setuid), list(setuid))
	}
	for _, p := range writable {
		report(ruleImageWorldWritable, "%s is world-writable", p)
	}
	if fi := files["etc/shadow"]; fi != nil {
		sc := bufio.NewScanner(bytes.NewReader(fi.data))
		for sc.Scan() {
			f := strings.Split(sc.Text(), ":")
			if len(f) > 1 && f[0] != "" && f[1] == "" {
				report(ruleImageEmptyPassword, "user %s has an empty password", f[0])
			}
		}
	}
	if fi := files["etc/passwd"]; fi != nil {
		byUID := map[string][]string{}
		var uids []string
		sc := bufio.NewScanner(bytes.NewReader(fi.data))
		for sc.Scan() {
			f := strings.Split(sc.Text(), ":")
			if len(f) < 3 || strings.HasPrefix(f[0], "#") {
				continue
			}
			if _, ok := byUID[f[2]]; !ok {
				uids = append(uids, f[2])
			}
			byUID[f[2]] = append(byUID[f[2]], f[0])
		}
		for _, u := range uids {
			if len(byUID[u]) > 1 {
				report(ruleImageDupUID, "UID %s is shared by %s", u, strings.Join(byUID[u], ", "))
			}
		}
	}

	res := &Result{File: img.Name}
	for _, f := range out {
		if cfg.ignored(f.Rule) {
			continue
		}
		if s, ok := cfg.severityOf(f.Rule); ok {
			f.Severity = s
		}
		res.Findings = append(res.Findings, f)
	}
	return res, nil
}

// credentialFile reports whether a layer file is a credential: by name, and for key and
// certificate extensions only when it holds a private key (CA bundles are *.pem too).
func credentialFile(p string, r io.Reader) bool {
	if !IsCredentialPath(p) {
		return false
	}
	base := strings.ToLower(path.Base(p))
	for _, ext := range []string{".pem", ".key", ".asc", ".gpg"} {
		if strings.HasSuffix(base, ext) {
			head, _ := io.ReadAll(io.LimitReader(r, 64<<10))
			return bytes.Contains(head, []byte("PRIVATE KEY"))
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func list(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], ", ") + fmt.Sprintf(" and %d more", len(s)-5)
	}
	return strings.Join(s, ", ")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
