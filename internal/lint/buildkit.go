package lint

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/hako-dev/hako/internal/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
)

// BuildKit's build checks. The rule definitions, names, messages and URLs are BuildKit's own
// (frontend/dockerfile/linter), and the checks BuildKit's parsers make themselves
// (NoEmptyContinuation, MaintainerDeprecated, StageNameCasing, FromAsCasing) come straight from
// them. The rest BuildKit runs inside dockerfile2llb while it converts to LLB, which needs a
// solver client and resolves base images over the network; importing it would add the whole
// BuildKit client (grpc, containerd) to hako. So runBuildKit walks the same instructions with the
// same logic as dockerfile2llb/validations.go, feeding BuildKit's linter rule values, without
// resolving anything. The one difference: a base image's own ENV is unknown offline, so
// UndefinedVar assumes the variables official images set (knownImageEnv).

func bkRule(name, desc, url string, sev Severity, fix, doc string, hadolint ...string) *Rule {
	return &Rule{ID: name, Severity: sev, Source: SourceBuildKit, Target: TargetDockerfile, Summary: desc, URL: url, Fix: fix, Doc: doc, Hadolint: hadolint}
}

func registerBuildKit() {
	register(
		bkRule(linter.RuleStageNameCasing.Name, linter.RuleStageNameCasing.Description, linter.RuleStageNameCasing.URL, SeverityStyle, "write the stage name in lower case",
			"BuildKit lower-cases stage names; `FROM alpine AS Build` is stage \"build\". Writing it in lower case keeps COPY --from and --target references matching what you read."),
		bkRule(linter.RuleFromAsCasing.Name, linter.RuleFromAsCasing.Description, linter.RuleFromAsCasing.URL, SeverityStyle, "write FROM … AS in the same case",
			"`FROM debian as build` mixes cases; pick upper or lower case for both keywords."),
		bkRule(linter.RuleNoEmptyContinuation.Name, linter.RuleNoEmptyContinuation.Description, linter.RuleNoEmptyContinuation.URL, SeverityWarning, "remove the empty line inside the continued instruction",
			"An empty line after a trailing backslash is skipped today and will become an error: a later edit that removes the backslash above it silently truncates the instruction."),
		bkRule(linter.RuleConsistentInstructionCasing.Name, linter.RuleConsistentInstructionCasing.Description, linter.RuleConsistentInstructionCasing.URL, SeverityStyle, "write every instruction in the case most of the file uses",
			"Instruction keywords are case-insensitive, but a file that mixes `RUN` and `run` reads as two styles glued together."),
		bkRule(linter.RuleDuplicateStageName.Name, linter.RuleDuplicateStageName.Description, linter.RuleDuplicateStageName.URL, SeverityError, "rename one of the stages",
			"Two stages with one name make `COPY --from=NAME` and `--target NAME` ambiguous: the later definition wins silently.", "DL3024"),
		bkRule(linter.RuleReservedStageName.Name, linter.RuleReservedStageName.Description, linter.RuleReservedStageName.URL, SeverityError, "rename the stage (scratch and context are reserved)",
			"`scratch` and `context` mean the empty image and the build context; a stage named so shadows them."),
		bkRule(linter.RuleJSONArgsRecommended.Name, linter.RuleJSONArgsRecommended.Description, linter.RuleJSONArgsRecommended.URL, SeverityWarning, `write it in exec form: CMD ["executable", "arg"]`,
			"In shell form the command runs under /bin/sh -c, which becomes PID 1 and does not forward SIGTERM: `docker stop` waits for the timeout and then kills the process without a clean shutdown. Exec form runs the process itself as PID 1. If you need a shell, set it explicitly with SHELL or use exec form with [\"sh\", \"-c\", \"exec …\"].", "DL3025"),
		bkRule(linter.RuleMaintainerDeprecated.Name, linter.RuleMaintainerDeprecated.Description, linter.RuleMaintainerDeprecated.URL, SeverityInfo, `use LABEL org.opencontainers.image.authors="…"`,
			"MAINTAINER is deprecated; the OCI annotation org.opencontainers.image.authors carries the same information in a label tools read.", "DL4000"),
		bkRule(linter.RuleUndefinedArgInFrom.Name, linter.RuleUndefinedArgInFrom.Description, linter.RuleUndefinedArgInFrom.URL, SeverityWarning, "declare the ARG before the first FROM",
			"A variable in FROM must be declared with ARG before the first FROM (or be one of BuildKit's automatic platform ARGs); otherwise it expands to an empty string."),
		bkRule(linter.RuleWorkdirRelativePath.Name, linter.RuleWorkdirRelativePath.Description, linter.RuleWorkdirRelativePath.URL, SeverityWarning, "use an absolute WORKDIR",
			"A relative WORKDIR is resolved against the base image's working directory, which is not yours to fix: the next base image release can move your files.", "DL3000"),
		bkRule(linter.RuleUndefinedVar.Name, linter.RuleUndefinedVar.Description, linter.RuleUndefinedVar.URL, SeverityWarning, "declare it with ARG or ENV first",
			"A variable expanded by an instruction (COPY, ENV, WORKDIR, LABEL, …) that no ARG or ENV defined expands to an empty string. hako does not pull base images to lint, so variables from a base image's ENV are assumed only for the ones official images commonly set (PATH, HOME, GOPATH, JAVA_HOME, …)."),
		bkRule(linter.RuleMultipleInstructionsDisallowed.Name, linter.RuleMultipleInstructionsDisallowed.Description, linter.RuleMultipleInstructionsDisallowed.URL, SeverityWarning, "keep only the last one",
			"Only the last CMD, ENTRYPOINT or HEALTHCHECK of a stage takes effect; the earlier ones mislead readers.", "DL4003", "DL4004", "DL3012"),
		bkRule(linter.RuleLegacyKeyValueFormat.Name, linter.RuleLegacyKeyValueFormat.Description, linter.RuleLegacyKeyValueFormat.URL, SeverityStyle, "write KEY=value",
			"`ENV KEY value` sets one variable to everything after the key, spaces included; `ENV KEY=value` is unambiguous and sets several at once."),
		bkRule(linter.RuleRedundantTargetPlatform.Name, linter.RuleRedundantTargetPlatform.Description, linter.RuleRedundantTargetPlatform.URL, SeverityInfo, "drop --platform=$TARGETPLATFORM",
			"FROM already pulls for the target platform."),
		bkRule(linter.RuleSecretsUsedInArgOrEnv.Name, linter.RuleSecretsUsedInArgOrEnv.Description, linter.RuleSecretsUsedInArgOrEnv.URL, SeverityWarning, "pass it with RUN --mount=type=secret instead",
			"ARG and ENV values are stored in the image: ENV in its config, ARG in the history of every RUN that uses it. Anyone who pulls the image reads them. Secret mounts are never written to a layer."),
		bkRule(linter.RuleInvalidDefaultArgInFrom.Name, linter.RuleInvalidDefaultArgInFrom.Description, linter.RuleInvalidDefaultArgInFrom.URL, SeverityError, "give the ARG a default that makes a valid image name",
			"Built without --build-arg, the FROM expands to an empty or invalid image name and the build fails."),
		bkRule(linter.RuleFromPlatformFlagConstDisallowed.Name, linter.RuleFromPlatformFlagConstDisallowed.Description, linter.RuleFromPlatformFlagConstDisallowed.URL, SeverityWarning, "use --platform=$BUILDPLATFORM or drop the flag",
			"A constant --platform pins the stage to one architecture and breaks multi-platform builds; if it is intended, name the stage after the platform (e.g. build-amd64).", "DL3029"),
		bkRule(linter.RuleCopyIgnoredFile.Name, linter.RuleCopyIgnoredFile.Description, linter.RuleCopyIgnoredFile.URL, SeverityWarning, "remove the source or stop excluding it in .dockerignore",
			"The file is excluded from the build context, so COPY fails or copies nothing."),
		bkRule(linter.RuleExposeProtoCasing.Name, linter.RuleExposeProtoCasing.Description, linter.RuleExposeProtoCasing.URL, SeverityStyle, "write the protocol in lower case (80/tcp)",
			"Protocols are lower case in the image config; EXPOSE 80/TCP is normalised silently."),
		bkRule(linter.RuleExposeInvalidFormat.Name, linter.RuleExposeInvalidFormat.Description, linter.RuleExposeInvalidFormat.URL, SeverityWarning, "expose the container port only; publish with run -p",
			"EXPOSE documents a container port. An IP address or host port in it is ignored and will become an error; host ports are chosen at run time with -p."),
	)
}

var reservedStageNames = map[string]bool{"context": true, "scratch": true}

// platformArgs are BuildKit's automatic ARGs, usable in FROM without declaration.
var platformArgs = []string{"BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
	"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE"}

// knownImageEnv are variables official base images set in their ENV.
var knownImageEnv = []string{"PATH", "HOME", "HOSTNAME", "TERM", "LANG", "LC_ALL", "USER",
	"GOPATH", "GOLANG_VERSION", "GOTOOLCHAIN", "NODE_VERSION", "YARN_VERSION", "PYTHON_VERSION",
	"PYTHON_SHA256", "PIP_VERSION", "GPG_KEY", "JAVA_HOME", "JAVA_VERSION", "MAVEN_HOME", "MAVEN_CONFIG",
	"GRADLE_HOME", "GRADLE_VERSION", "RUBY_VERSION", "RUBY_MAJOR", "GEM_HOME", "BUNDLE_APP_CONFIG",
	"BUNDLE_SILENCE_ROOT_WARNING", "PHP_VERSION", "PHP_INI_DIR", "PHPIZE_DEPS", "NGINX_VERSION",
	"NJS_VERSION", "PKG_RELEASE", "CARGO_HOME", "RUSTUP_HOME", "RUST_VERSION", "PG_MAJOR", "PG_VERSION",
	"PGDATA", "GOSU_VERSION", "HTTPD_PREFIX", "HTTPD_VERSION", "DOTNET_VERSION", "ASPNET_VERSION",
	"ASPNETCORE_URLS", "REDIS_VERSION", "MYSQL_MAJOR", "MYSQL_VERSION", "MARIADB_VERSION", "MONGO_VERSION",
	"ERLANG_VERSION", "ELIXIR_VERSION", "PERL_VERSION", "TOMCAT_VERSION", "CATALINA_HOME", "RABBITMQ_VERSION"}

// env is what a stage defines at a point, as BuildKit's shell.EnvGetter.
type env struct {
	m    map[string]string
	keys []string
}

func newEnv() *env { return &env{m: map[string]string{}} }

func (e *env) set(k, v string) {
	if _, ok := e.m[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.m[k] = v
}
func (e *env) Get(k string) (string, bool) { v, ok := e.m[k]; return v, ok }
func (e *env) Keys() []string              { return e.keys }
func (e *env) clone() *env {
	c := newEnv()
	for _, k := range e.keys {
		c.set(k, e.m[k])
	}
	return c
}

// runBuildKit runs BuildKit's build checks; they report under BuildKit's rule names.
func runBuildKit(d *Document, r *reporter) {
	warn := r.buildkit
	lt := linter.New(&linter.Config{Warn: warn})

	for _, w := range d.warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			lt.Run(&linter.RuleNoEmptyContinuation, []parser.Range{*w.Location}, linter.RuleNoEmptyContinuation.Format())
		}
	}
	for _, f := range d.bkFindings {
		warn(f.rule, "", "", f.msg, f.loc)
	}

	// validateStageNames
	seen := map[string]bool{}
	for _, s := range d.Stages {
		if s.Name == "" {
			continue
		}
		if reservedStageNames[s.Name] {
			lt.Run(&linter.RuleReservedStageName, s.From.location(), linter.RuleReservedStageName.Format(s.Name))
		}
		if seen[s.Name] {
			lt.Run(&linter.RuleDuplicateStageName, s.From.location(), linter.RuleDuplicateStageName.Format(s.Name))
		}
		seen[s.Name] = true
	}

	// validateCommandCasing
	var lower, upper int
	for _, in := range d.Instrs {
		if in.Stage == nil {
			continue
		}
		v := in.Node.Value
		if in.Cmd == nil {
			v = in.Stage.Raw.OrigCmd
		} else {
			v = in.Cmd.Name()
		}
		if v == strings.ToLower(v) {
			lower++
		} else if v == strings.ToUpper(v) {
			upper++
		}
	}
	for _, in := range d.Instrs {
		if in.Stage == nil {
			continue
		}
		name := in.Stage.Raw.OrigCmd
		if in.Cmd != nil {
			name = in.Cmd.Name()
		}
		correct := ""
		if lower > upper && strings.ToLower(name) != name {
			correct = "lowercase"
		} else if lower <= upper && strings.ToUpper(name) != name {
			correct = "uppercase"
		}
		if correct != "" {
			lt.Run(&linter.RuleConsistentInstructionCasing, in.location(), linter.RuleConsistentInstructionCasing.Format(name, correct))
		}
	}

	shlex := shell.NewLex(d.Escape)

	// Global args: BuildKit's automatic platform args, then the meta ARGs with their defaults.
	global := newEnv()
	for _, k := range platformArgs {
		global.set(k, "")
	}
	global.set("TARGETPLATFORM", "linux/amd64")
	global.set("BUILDPLATFORM", "linux/amd64")
	global.set("TARGETOS", "linux")
	global.set("TARGETARCH", "amd64")
	declared := map[string]bool{}
	for _, k := range platformArgs {
		declared[k] = true
	}
	for _, in := range d.MetaArgs {
		c := in.Cmd.(*instructions.ArgCommand)
		for _, a := range c.Args {
			validateNoSecretKey(lt, "ARG", a.Key, in.location())
			declared[a.Key] = true
			if a.Value != nil {
				v, _, _ := shlex.ProcessWord(*a.Value, global)
				global.set(a.Key, v)
			} else {
				global.set(a.Key, "")
			}
		}
	}
	argKeys := make([]string, 0, len(declared))
	for k := range declared {
		argKeys = append(argKeys, k)
	}
	sort.Strings(argKeys)

	// validateBaseImagesWithDefaultArgs, then the FROM checks of buildDispatchStates
	for _, s := range d.Stages {
		loc := s.From.location()
		nm, err := shlex.ProcessWordWithMatches(s.Base, global)
		if err == nil {
			if _, err := reference.Parse(nm.Result); err != nil {
				lt.Run(&linter.RuleInvalidDefaultArgInFrom, loc, linter.RuleInvalidDefaultArgInFrom.Format(s.Base))
			}
		}
		reportUnusedFromArgs(lt, declared, argKeys, nm.Unmatched, loc)
		if s.Platform != "" {
			pm, _ := shlex.ProcessWordWithMatches(s.Platform, global)
			reportUnusedFromArgs(lt, declared, argKeys, pm.Unmatched, loc)
			if len(pm.Matched) == 1 && len(pm.Unmatched) == 0 {
				if _, ok := pm.Matched["TARGETPLATFORM"]; ok {
					if v, _ := global.Get("TARGETPLATFORM"); pm.Result == v {
						lt.Run(&linter.RuleRedundantTargetPlatform, loc, linter.RuleRedundantTargetPlatform.Format(s.Platform))
					}
				}
			}
			if len(pm.Matched) == 0 && len(pm.Unmatched) == 0 {
				if os, arch, ok := parsePlatform(pm.Result); ok && !strings.Contains(s.Name, os) && !strings.Contains(s.Name, arch) {
					lt.Run(&linter.RuleFromPlatformFlagConstDisallowed, loc, linter.RuleFromPlatformFlagConstDisallowed.Format(pm.Result))
				}
			}
		}
	}

	// dispatch: per stage, in order, with the env and build args it has at each instruction
	final := make([]*env, len(d.Stages))
	workdirSet := make([]bool, len(d.Stages))
	shellSet := make([]bool, len(d.Stages))
	for _, s := range d.Stages {
		e := newEnv()
		wd, sh := false, false
		switch {
		case s.Parent != nil:
			e = final[s.Parent.Index].clone()
			wd, sh = workdirSet[s.Parent.Index], shellSet[s.Parent.Index]
		case strings.EqualFold(s.Base, "scratch"):
		default:
			for _, k := range knownImageEnv {
				e.set(k, "")
			}
		}
		buildArgs := map[string]bool{}
		var cmdT, entT, hcT *Instr
		for _, in := range s.Instrs {
			undefined := func(words ...string) {
				for _, w := range words {
					_, unmatched, _ := shlex.ProcessWord(w, e)
					reportUnmatched(lt, in, e, buildArgs, unmatched)
				}
			}
			raw := func(words ...string) {
				l := shell.NewLex('\\')
				l.SkipProcessQuotes = true
				for _, w := range words {
					_, unmatched, _ := l.ProcessWord(w, e)
					reportUnmatched(lt, in, e, buildArgs, unmatched)
				}
			}
			switch c := in.Cmd.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					undefined(kv.Value)
				}
				for _, kv := range c.Env {
					if kv.NoDelim {
						lt.Run(&linter.RuleLegacyKeyValueFormat, in.location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
					}
					validateNoSecretKey(lt, "ENV", kv.Key, in.location())
					v, _, _ := shlex.ProcessWord(kv.Value, e)
					e.set(kv.Key, v)
				}
			case *instructions.LabelCommand:
				for _, kv := range c.Labels {
					undefined(kv.Key, kv.Value)
					if kv.NoDelim {
						lt.Run(&linter.RuleLegacyKeyValueFormat, in.location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
					}
				}
			case *instructions.CopyCommand:
				undefined(c.SourcePaths...)
				undefined(c.DestPath, c.Chown, c.Chmod)
				if c.From == "" {
					copyIgnored(d, lt, in, "Copy", c.SourcePaths, shlex, e)
				}
			case *instructions.AddCommand:
				undefined(c.SourcePaths...)
				undefined(c.DestPath, c.Chown, c.Chmod)
				copyIgnored(d, lt, in, "Add", c.SourcePaths, shlex, e)
			case *instructions.WorkdirCommand:
				undefined(c.Path)
				if p, _, _ := shlex.ProcessWord(c.Path, e); !wd && !strings.HasPrefix(p, "/") {
					lt.Run(&linter.RuleWorkdirRelativePath, in.location(), linter.RuleWorkdirRelativePath.Format(c.Path))
				}
				wd = true
			case *instructions.UserCommand:
				undefined(c.User)
			case *instructions.VolumeCommand:
				undefined(c.Volumes...)
			case *instructions.StopSignalCommand:
				undefined(c.Signal)
			case *instructions.ExposeCommand:
				raw(c.Ports...)
				for _, p := range c.Ports {
					ps, _ := shlex.ProcessWords(p, e)
					for _, port := range ps {
						ip, hostPort, cport := splitPortParts(port)
						_, proto, _ := strings.Cut(cport, "/")
						if proto != strings.ToLower(proto) {
							lt.Run(&linter.RuleExposeProtoCasing, in.location(), linter.RuleExposeProtoCasing.Format(port))
						}
						if ip != "" || hostPort != "" {
							lt.Run(&linter.RuleExposeInvalidFormat, in.location(), linter.RuleExposeInvalidFormat.Format(port))
						}
					}
				}
			case *instructions.ShellCommand:
				sh = true
			case *instructions.ArgCommand:
				for _, a := range c.Args {
					validateNoSecretKey(lt, "ARG", a.Key, in.location())
					buildArgs[a.Key] = true
					switch {
					case a.Value != nil:
						v, unmatched, _ := shlex.ProcessWord(*a.Value, e)
						reportUnmatched(lt, in, e, buildArgs, unmatched)
						e.set(a.Key, v)
					default:
						if v, ok := global.Get(a.Key); ok && declared[a.Key] {
							e.set(a.Key, v)
						}
					}
				}
			case *instructions.CmdCommand:
				if cmdT != nil {
					lt.Run(&linter.RuleMultipleInstructionsDisallowed, cmdT.location(), linter.RuleMultipleInstructionsDisallowed.Format(c.Name()))
				}
				cmdT = in
				if c.PrependShell && !sh {
					lt.Run(&linter.RuleJSONArgsRecommended, in.location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
				}
			case *instructions.EntrypointCommand:
				if entT != nil {
					lt.Run(&linter.RuleMultipleInstructionsDisallowed, entT.location(), linter.RuleMultipleInstructionsDisallowed.Format(c.Name()))
				}
				entT = in
				if c.PrependShell && !sh {
					lt.Run(&linter.RuleJSONArgsRecommended, in.location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
				}
			case *instructions.HealthCheckCommand:
				if hcT != nil {
					lt.Run(&linter.RuleMultipleInstructionsDisallowed, hcT.location(), linter.RuleMultipleInstructionsDisallowed.Format(c.Name()))
				}
				hcT = in
			}
		}
		final[s.Index], workdirSet[s.Index], shellSet[s.Index] = e, wd, sh
	}
}

// reportUnmatched is BuildKit's reportUnmatchedVariables: build args of the stage count as
// defined even without a value.
func reportUnmatched(lt *linter.Linter, in *Instr, e *env, buildArgs map[string]bool, unmatched map[string]struct{}) {
	var names []string
	for k := range unmatched {
		if !buildArgs[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		match, _ := suggest.Search(k, e.Keys(), true)
		lt.Run(&linter.RuleUndefinedVar, in.location(), linter.RuleUndefinedVar.Format(k, match))
	}
}

func reportUnusedFromArgs(lt *linter.Linter, declared map[string]bool, keys []string, unmatched map[string]struct{}, loc []parser.Range) {
	var names []string
	for k := range unmatched {
		if !declared[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		s, _ := suggest.Search(k, keys, true)
		lt.Run(&linter.RuleUndefinedArgInFrom, loc, linter.RuleUndefinedArgInFrom.Format(k, s))
	}
}

var (
	secretsDeny  = lazyRegexp(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	secretsAllow = lazyRegexp(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
)

func validateNoSecretKey(lt *linter.Linter, instruction, key string, loc []parser.Range) {
	if secretsDeny().MatchString(key) && !secretsAllow().MatchString(key) {
		lt.Run(&linter.RuleSecretsUsedInArgOrEnv, loc, linter.RuleSecretsUsedInArgOrEnv.Format(instruction, key))
	}
}

func splitPortParts(raw string) (ip, hostPort, containerPort string) {
	parts := strings.Split(raw, ":")
	switch n := len(parts); n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

var knownOS = map[string]bool{"linux": true, "windows": true, "darwin": true, "freebsd": true, "netbsd": true, "openbsd": true, "solaris": true, "illumos": true, "aix": true, "plan9": true, "android": true, "ios": true, "js": true, "wasip1": true}

// parsePlatform accepts os/arch[/variant], enough to tell a constant platform from a typo.
func parsePlatform(s string) (os, arch string, ok bool) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || !knownOS[parts[0]] || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// copyIgnored is BuildKit's validateCopySourcePath: only without exclusions in .dockerignore.
func copyIgnored(d *Document, lt *linter.Linter, in *Instr, cmd string, srcs []string, shlex *shell.Lex, e *env) {
	if d.Context == nil || d.Context.ignore == nil || d.Context.ignore.Exclusions() {
		return
	}
	for _, src := range srcs {
		if isURL(src) {
			continue
		}
		v, _, err := shlex.ProcessWord(src, e)
		if err != nil {
			continue
		}
		v = filepath.ToSlash(filepath.Clean(v))
		if v == "." || v == "/" {
			if !d.Context.rootIgnored() {
				continue
			}
		}
		v = strings.TrimPrefix(v, "/")
		if ok, err := d.Context.ignore.MatchesOrParentMatches(v); err == nil && ok {
			lt.Run(&linter.RuleCopyIgnoredFile, in.location(), linter.RuleCopyIgnoredFile.Format(cmd, v))
		}
	}
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://")
}
