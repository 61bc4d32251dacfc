package lint

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hako-dev/hako/internal/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// hadolint's most used rules, under names of ours; Hadolint lists the codes they answer to.

func hRule(id string, sev Severity, summary, fix, doc string, check func(*Document, *reporter), codes ...string) *Rule {
	return &Rule{ID: id, Severity: sev, Source: SourceHadolint, Target: TargetDockerfile, Summary: summary, Fix: fix, Doc: doc, check: check, Hadolint: codes,
		URL: "https://github.com/hadolint/hadolint/wiki/" + codes[0]}
}

func registerHadolint() {
	register(
		hRule("LastUserRoot", SeverityWarning, "The last USER of the final stage is root",
			"switch to an unprivileged USER after the steps that need root",
			"A process running as root in a container is root on the host's kernel: one escape away from the host. Do the steps that need root, then `USER app` (create it with useradd/adduser) so the container runs unprivileged.",
			checkLastUserRoot, "DL3002"),
		hRule("UntaggedBaseImage", SeverityWarning, "FROM names an image without a tag or digest",
			"pin the base image: FROM debian:12.5 or @sha256:…",
			"An untagged image means :latest, which moves: the next build silently gets a different base. Pin a version tag, or a digest for full reproducibility.",
			checkBaseImageTag(false), "DL3006"),
		hRule("LatestBaseImage", SeverityWarning, "FROM uses the :latest tag",
			"pin a version tag or digest instead of :latest",
			":latest is whatever was pushed last; builds stop being reproducible and can break without a change on your side.",
			checkBaseImageTag(true), "DL3007"),
		hRule("AptGetNoYes", SeverityWarning, "apt-get install without -y",
			"add -y (or --yes) so the install does not wait for a prompt",
			"Builds have no terminal: apt-get install asks to confirm and aborts without -y.",
			checkPkgRun(aptGetNoYes), "DL3014"),
		hRule("AptNoInstallRecommends", SeverityInfo, "apt-get install without --no-install-recommends",
			"add --no-install-recommends",
			"Recommended packages are not needed to run; they often double an image's size.",
			checkPkgRun(aptNoRecommends), "DL3015"),
		hRule("AptListsNotCleaned", SeverityInfo, "apt-get lists are not removed in the RUN that fetched them",
			"end the RUN with && rm -rf /var/lib/apt/lists/*",
			"apt-get update downloads tens of megabytes of package lists into /var/lib/apt/lists. Removing them in a later RUN does not shrink the image: the layer that wrote them keeps them. Remove them in the same RUN, or use RUN --mount=type=cache,target=/var/lib/apt.",
			checkAptLists, "DL3009"),
		hRule("AptUnpinned", SeverityWarning, "apt-get install of a package without a version",
			"pin versions: apt-get install curl=7.88.1-10+deb12u5",
			"Without versions, two builds of the same Dockerfile install different packages. Pin with pkg=version, or accept the drift and ignore this rule in .hako-lint.yaml.",
			checkPkgRun(aptUnpinned), "DL3008"),
		hRule("ApkUnpinned", SeverityWarning, "apk add of a package without a version",
			"pin versions: apk add curl=8.5.0-r0",
			"Without versions, builds drift as the Alpine repository moves.",
			checkPkgRun(apkUnpinned), "DL3018"),
		hRule("ApkNoCache", SeverityInfo, "apk add without --no-cache",
			"use apk add --no-cache",
			"apk keeps its index in /var/cache/apk; --no-cache fetches it to a temporary place and leaves nothing behind.",
			checkPkgRun(apkNoCache), "DL3019"),
		hRule("PipUnpinned", SeverityWarning, "pip install of a package without a version",
			"pin versions: pip install requests==2.31.0, or use -r requirements.txt with pins",
			"Unpinned pip installs take whatever PyPI serves that day.",
			checkPkgRun(pipUnpinned), "DL3013"),
		hRule("PipNoCacheDir", SeverityWarning, "pip install without --no-cache-dir",
			"add --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1)",
			"pip keeps downloaded wheels in ~/.cache/pip; in an image they are dead weight.",
			checkPkgRun(pipNoCacheDir), "DL3042"),
		hRule("NpmUnpinned", SeverityWarning, "npm install of a package without a version",
			"pin versions: npm install express@4.19.2, or npm ci from a lockfile",
			"Unpinned npm installs resolve to whatever is newest at build time.",
			checkPkgRun(npmUnpinned), "DL3016"),
		hRule("SudoInRun", SeverityError, "RUN uses sudo",
			"drop sudo; use USER root for the steps that need it",
			"Build steps already run as the current USER; sudo adds a setuid binary, a TTY requirement and unpredictable environment handling. Switch USER around the steps instead.",
			checkSudo, "DL3004"),
		hRule("CdInsteadOfWorkdir", SeverityWarning, "RUN cd … to change directory",
			"use WORKDIR to change directory",
			"A `cd` lasts one RUN; WORKDIR states the directory once for every following instruction and is visible in the image config.",
			checkCd, "DL3003"),
		hRule("AddInsteadOfCopy", SeverityWarning, "ADD copies local files that are not archives",
			"use COPY; keep ADD for remote URLs, git sources and tar archives to extract",
			"ADD also fetches URLs and extracts archives, so a reader cannot tell what it does without looking at the source. COPY only copies.",
			checkAddForCopy, "DL3020"),
		hRule("CopyFromUnknownStage", SeverityWarning, "COPY --from names no earlier stage",
			"name an earlier stage (FROM … AS name) or a full image reference",
			"COPY --from=NAME takes a stage defined before it; an unknown plain name is pulled as an image from Docker Hub, which is rarely what was meant.",
			checkCopyFrom, "DL3022"),
		hRule("CopyFromSelf", SeverityError, "COPY --from names the stage it is in",
			"copy from an earlier stage",
			"A stage cannot copy from itself: the build fails with a circular dependency.",
			checkCopyFromSelf, "DL3023"),
		hRule("ConsecutiveRun", SeverityInfo, "Consecutive RUN instructions",
			"join them with && into one RUN",
			"Each RUN makes a layer. Consecutive RUNs that belong together cost layers and let files deleted in the second survive in the first. Separate RUNs with a comment between them when the split is deliberate (for caching).",
			checkConsecutiveRun, "DL3059"),
		hRule("PipeWithoutPipefail", SeverityWarning, "RUN with a pipe but no pipefail",
			`set SHELL ["/bin/bash", "-o", "pipefail", "-c"] or start the RUN with set -o pipefail`,
			"A pipeline's status is its last command's: `curl … | tar x` succeeds when curl fails, and the build goes on with a broken download.",
			checkPipefail, "DL4006"),
		hRule("WgetAndCurl", SeverityWarning, "Both wget and curl are used",
			"use one of them throughout",
			"Installing two download tools doubles what can break and what the image carries.",
			checkWgetCurl, "DL4001"),
		hRule("UseraddLargeUID", SeverityWarning, "useradd with a large UID and without -l",
			"add -l (--no-log-init) to useradd",
			"useradd writes the user's entry into /var/log/lastlog and faillog, sparse files sized by the UID: a UID of 100000000 makes a layer of gigabytes. -l skips them.",
			checkUseradd, "DL3046"),
	)
}

// finalChain is the final stage and the stages it builds on, final first.
func finalChain(d *Document) []*Stage {
	var out []*Stage
	for s := d.Final(); s != nil; s = s.Parent {
		out = append(out, s)
	}
	return out
}

func checkLastUserRoot(d *Document, r *reporter) {
	for _, s := range finalChain(d) {
		for i := len(s.Instrs) - 1; i >= 0; i-- {
			if u, ok := s.Instrs[i].Cmd.(*instructions.UserCommand); ok {
				name, _, _ := strings.Cut(u.User, ":")
				if name == "root" || name == "0" {
					r.at(s.Instrs[i], "last USER is %s", name)
				}
				return
			}
		}
	}
}

// globalDefaults expands meta ARG defaults for FROM lines, once per document.
func globalDefaults(d *Document) *env {
	if d.globals != nil {
		return d.globals
	}
	e := newEnv()
	d.globals = e
	lex := shell.NewLex(d.Escape)
	for _, in := range d.MetaArgs {
		for _, a := range in.Cmd.(*instructions.ArgCommand).Args {
			if a.Value != nil {
				v, _, _ := lex.ProcessWord(*a.Value, e)
				e.set(a.Key, v)
			}
		}
	}
	return e
}

// baseRef is the normalised image a stage starts from, or ok=false for scratch, an earlier stage
// or a name that does not expand.
func baseRef(d *Document, s *Stage, g *env) (reference.Named, string, bool) {
	if b, ok := d.bases[s]; ok {
		return b.ref, b.name, b.ok
	}
	ref, name, ok := resolveBase(d, s, g)
	if d.bases == nil {
		d.bases = map[*Stage]base{}
	}
	d.bases[s] = base{ref, name, ok}
	return ref, name, ok
}

type base struct {
	ref  reference.Named
	name string
	ok   bool
}

func resolveBase(d *Document, s *Stage, g *env) (reference.Named, string, bool) {
	if s.Parent != nil || strings.EqualFold(s.Base, "scratch") {
		return reference.Named{}, "", false
	}
	name, _, err := shell.NewLex(d.Escape).ProcessWord(s.Base, g)
	if err != nil || name == "" || strings.EqualFold(name, "scratch") {
		return reference.Named{}, "", false
	}
	ref, err := reference.Parse(name)
	if err != nil {
		return reference.Named{}, "", false
	}
	return ref, name, true
}

func checkBaseImageTag(latest bool) func(*Document, *reporter) {
	return func(d *Document, r *reporter) {
		g := globalDefaults(d)
		for _, s := range d.Stages {
			b, name, ok := baseRef(d, s, g)
			if !ok {
				continue
			}
			tag, digested := b.Tag, b.Digest != ""
			switch {
			case latest && tag == "latest" && !digested:
				r.at(s.From, "base image %s uses the latest tag", name)
			case !latest && tag == "" && !digested:
				r.at(s.From, "base image %s has no tag", name)
			}
		}
	}
}

// runs yields every RUN with its parsed script.
func runs(d *Document, fn func(in *Instr, c *instructions.RunCommand)) {
	for _, in := range d.Instrs {
		if c, ok := in.Cmd.(*instructions.RunCommand); ok && in.Script != nil {
			fn(in, c)
		}
	}
}

// checkPkgRun runs f on every simple command of every RUN; f returns a message or "".
func checkPkgRun(f func(d *Document, in *Instr, c *ShellCmd) string) func(*Document, *reporter) {
	return func(d *Document, r *reporter) {
		runs(d, func(in *Instr, _ *instructions.RunCommand) {
			for _, c := range in.Script.Cmds {
				if msg := f(d, in, c); msg != "" {
					r.at(in, "%s", msg)
				}
			}
		})
	}
}

func isAptInstall(c *ShellCmd) bool {
	return (c.Name == "apt-get" || c.Name == "apt") && c.Sub() == "install"
}

func aptGetNoYes(_ *Document, _ *Instr, c *ShellCmd) string {
	if isAptInstall(c) && !c.Has("-y", "--yes", "--assume-yes", "-qq", "-q=2") {
		return c.Name + " install without -y"
	}
	return ""
}

func aptNoRecommends(_ *Document, _ *Instr, c *ShellCmd) string {
	if !isAptInstall(c) || c.Has("--no-install-recommends") {
		return ""
	}
	for _, a := range c.Args {
		if strings.Contains(a, "Install-Recommends=false") || strings.Contains(a, "Install-Recommends=0") {
			return ""
		}
	}
	return c.Name + " install without --no-install-recommends"
}

// packages are the positional arguments after the subcommand, variables left out.
func packages(c *ShellCmd, withValue ...string) []string {
	p := c.Positional(withValue...)
	if len(p) > 0 {
		p = p[1:]
	}
	var out []string
	for _, a := range p {
		if a == "" || strings.Contains(a, "$") {
			continue
		}
		out = append(out, a)
	}
	return out
}

func unpinned(pkgs []string, pinned func(string) bool) []string {
	var out []string
	for _, p := range pkgs {
		if !pinned(p) {
			out = append(out, p)
		}
	}
	return out
}

func pinMsg(tool string, pkgs []string) string {
	if len(pkgs) == 0 {
		return ""
	}
	if len(pkgs) > 3 {
		pkgs = append(pkgs[:3:3], "…")
	}
	return fmt.Sprintf("%s %s without a version", tool, strings.Join(pkgs, " "))
}

func aptUnpinned(_ *Document, _ *Instr, c *ShellCmd) string {
	if !isAptInstall(c) {
		return ""
	}
	return pinMsg(c.Name+" install", unpinned(packages(c, "-o", "-t", "--target-release"), func(p string) bool {
		return strings.Contains(p, "=") || strings.HasSuffix(p, ".deb") || strings.Contains(p, "/")
	}))
}

func isApkAdd(c *ShellCmd) bool { return c.Name == "apk" && c.Sub() == "add" }

func apkUnpinned(_ *Document, _ *Instr, c *ShellCmd) string {
	if !isApkAdd(c) {
		return ""
	}
	return pinMsg("apk add", unpinned(packages(c, "-t", "--virtual", "-X", "--repository", "--root", "-p"), func(p string) bool {
		return strings.ContainsAny(p, "=<>~") || strings.HasSuffix(p, ".apk")
	}))
}

func apkNoCache(d *Document, in *Instr, c *ShellCmd) string {
	if !isApkAdd(c) || c.Has("--no-cache") || cacheMount(in, "/var/cache/apk") {
		return ""
	}
	for _, o := range in.Script.Cmds {
		if o.Name == "rm" && strings.Contains(strings.Join(o.Args, " "), "/var/cache/apk") {
			return ""
		}
	}
	return "apk add without --no-cache"
}

// pipInstall returns the pip command if c is `pip install`, `pip3 install`, `python -m pip install`.
func pipInstall(c *ShellCmd) (*ShellCmd, bool) {
	if strings.HasPrefix(c.Name, "pip") && c.Sub() == "install" {
		return c, true
	}
	if strings.HasPrefix(c.Name, "python") {
		for i := 0; i+2 < len(c.Args); i++ {
			if c.Args[i] == "-m" && strings.HasPrefix(c.Args[i+1], "pip") {
				sub := &ShellCmd{Name: c.Args[i+1], Args: c.Args[i+2:]}
				if sub.Sub() == "install" {
					return sub, true
				}
			}
		}
	}
	return nil, false
}

func pipUnpinned(_ *Document, _ *Instr, c *ShellCmd) string {
	p, ok := pipInstall(c)
	if !ok {
		return ""
	}
	return pinMsg("pip install", unpinned(packages(p, "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url", "-t", "--target", "--prefix", "-f", "--find-links"), func(a string) bool {
		return strings.ContainsAny(a, "=<>~@") || strings.HasPrefix(a, ".") || strings.HasPrefix(a, "/") ||
			strings.HasSuffix(a, ".whl") || strings.HasSuffix(a, ".tar.gz") || strings.Contains(a, "://")
	}))
}

func pipNoCacheDir(d *Document, in *Instr, c *ShellCmd) string {
	p, ok := pipInstall(c)
	if !ok || p.Has("--no-cache-dir") || cacheMount(in, ".cache/pip") || envSet(d, in, "PIP_NO_CACHE_DIR") {
		return ""
	}
	return "pip install without --no-cache-dir"
}

func npmUnpinned(_ *Document, _ *Instr, c *ShellCmd) string {
	if c.Name != "npm" || (c.Sub() != "install" && c.Sub() != "i" && c.Sub() != "add") {
		return ""
	}
	return pinMsg("npm install", unpinned(packages(c, "--prefix", "--registry"), func(a string) bool {
		at := strings.LastIndex(a, "@")
		return at > 0 || strings.HasPrefix(a, ".") || strings.HasPrefix(a, "/") || strings.Contains(a, "://") ||
			strings.HasSuffix(a, ".tgz") || strings.HasPrefix(a, "git")
	}))
}

// cacheMount reports whether a RUN mounts a cache over a path containing target.
func cacheMount(in *Instr, target string) bool {
	for _, f := range in.Node.Flags {
		if strings.HasPrefix(f, "--mount=") && strings.Contains(f, "type=cache") && strings.Contains(f, target) {
			return true
		}
	}
	return false
}

// envSet reports whether an ENV before in (in its stage chain) sets key.
func envSet(d *Document, in *Instr, key string) bool {
	for s := in.Stage; s != nil; s = s.Parent {
		for _, x := range s.Instrs {
			if x == in {
				break
			}
			if e, ok := x.Cmd.(*instructions.EnvCommand); ok {
				for _, kv := range e.Env {
					if kv.Key == key {
						return true
					}
				}
			}
		}
	}
	return false
}

func checkAptLists(d *Document, r *reporter) {
	final := d.Final()
	runs(d, func(in *Instr, _ *instructions.RunCommand) {
		if in.Stage != final || cacheMount(in, "/var/lib/apt") {
			return
		}
		uses, cleans := false, false
		for _, c := range in.Script.Cmds {
			if (c.Name == "apt-get" || c.Name == "apt") && (c.Sub() == "update" || c.Sub() == "install") {
				uses = true
			}
			if c.Name == "rm" && strings.Contains(strings.Join(c.Args, " "), "/var/lib/apt/lists") {
				cleans = true
			}
		}
		if uses && !cleans {
			r.at(in, "apt-get lists are left in the layer")
		}
	})
}

func checkSudo(d *Document, r *reporter) {
	runs(d, func(in *Instr, _ *instructions.RunCommand) {
		for _, c := range in.Script.Cmds {
			if c.Name == "sudo" {
				r.at(in, "RUN uses sudo")
				return
			}
		}
	})
}

func checkCd(d *Document, r *reporter) {
	runs(d, func(in *Instr, _ *instructions.RunCommand) {
		for _, c := range in.Script.Cmds {
			if c.Name == "cd" && !c.Wrapped {
				r.at(in, "RUN changes directory with cd %s", strings.Join(c.Args, " "))
				return
			}
		}
	})
}

var archiveExt = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".gz", ".bz2", ".xz"}

func checkAddForCopy(d *Document, r *reporter) {
	for _, in := range d.Instrs {
		c, ok := in.Cmd.(*instructions.AddCommand)
		if !ok || len(c.SourceContents) > 0 {
			continue
		}
		for _, src := range c.SourcePaths {
			if isURL(src) || strings.Contains(src, "$") || strings.HasSuffix(src, ".git") {
				goto next
			}
			for _, ext := range archiveExt {
				if strings.HasSuffix(strings.ToLower(src), ext) {
					goto next
				}
			}
		}
		r.at(in, "ADD %s copies local files", strings.Join(c.SourcePaths, " "))
	next:
	}
}

// looksLikeImage: COPY --from may name an image instead of a stage.
func looksLikeImage(s string) bool { return strings.ContainsAny(s, ":/@") }

func checkCopyFrom(d *Document, r *reporter) {
	for _, in := range d.Instrs {
		c, ok := in.Cmd.(*instructions.CopyCommand)
		if !ok || c.From == "" || strings.Contains(c.From, "$") || looksLikeImage(c.From) {
			continue
		}
		if n, err := strconv.Atoi(c.From); err == nil {
			if n >= 0 && n < in.Stage.Index {
				continue
			}
			if n == in.Stage.Index {
				continue // CopyFromSelf
			}
			r.at(in, "COPY --from=%d names no earlier stage", n)
			continue
		}
		if strings.EqualFold(c.From, in.Stage.Name) {
			continue
		}
		if d.stageByRef(c.From, in.Stage.Index) == nil {
			r.at(in, "COPY --from=%s names no earlier stage; it would be pulled as an image", c.From)
		}
	}
}

func checkCopyFromSelf(d *Document, r *reporter) {
	for _, in := range d.Instrs {
		c, ok := in.Cmd.(*instructions.CopyCommand)
		if !ok || c.From == "" {
			continue
		}
		if (in.Stage.Name != "" && strings.EqualFold(c.From, in.Stage.Name)) || c.From == strconv.Itoa(in.Stage.Index) {
			r.at(in, "COPY --from=%s names its own stage", c.From)
		}
	}
}

func checkConsecutiveRun(d *Document, r *reporter) {
	for _, s := range d.Stages {
		for i := 1; i < len(s.Instrs); i++ {
			a, b := s.Instrs[i-1], s.Instrs[i]
			if a.Keyword != "run" || b.Keyword != "run" || len(b.Node.PrevComment) > 0 {
				continue
			}
			if strings.Join(a.Node.Flags, " ") != strings.Join(b.Node.Flags, " ") {
				continue
			}
			r.at(b, "RUN follows a RUN at line %d", a.Line())
		}
	}
}

func checkPipefail(d *Document, r *reporter) {
	runs(d, func(in *Instr, c *instructions.RunCommand) {
		if !c.PrependShell || !in.Script.pipeUnguarded() {
			return
		}
		sh := shellOf(in.Stage, in)
		joined := strings.Join(sh, " ")
		if strings.Contains(joined, "pipefail") {
			return
		}
		if len(sh) > 0 {
			switch base := strings.ToLower(sh[0][strings.LastIndex(sh[0], "/")+1:]); base {
			case "pwsh", "powershell", "powershell.exe", "cmd", "cmd.exe":
				return
			}
		}
		r.at(in, "RUN pipes into another command without pipefail")
	})
}

func checkWgetCurl(d *Document, r *reporter) {
	var first string
	var firstLine int
	runs(d, func(in *Instr, _ *instructions.RunCommand) {
		for _, c := range in.Script.Cmds {
			if c.Name != "wget" && c.Name != "curl" {
				continue
			}
			if first == "" {
				first, firstLine = c.Name, in.Line()
			} else if c.Name != first {
				r.at(in, "%s is used here and %s at line %d", c.Name, first, firstLine)
				first = "reported"
			}
		}
	})
}

func checkUseradd(d *Document, r *reporter) {
	runs(d, func(in *Instr, _ *instructions.RunCommand) {
		for _, c := range in.Script.Cmds {
			if c.Name != "useradd" || c.Has("-l", "--no-log-init") {
				continue
			}
			for i, a := range c.Args {
				uid := ""
				switch {
				case (a == "-u" || a == "--uid") && i+1 < len(c.Args):
					uid = c.Args[i+1]
				case strings.HasPrefix(a, "--uid="):
					uid = a[len("--uid="):]
				}
				if n, err := strconv.Atoi(uid); err == nil && n >= 100000 {
					r.at(in, "useradd -u %d without -l writes a lastlog of gigabytes", n)
				}
			}
		}
	})
}
