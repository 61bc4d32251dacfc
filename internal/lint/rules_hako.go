package lint

import (
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Rules of our own for the practices Docker's guides teach and nothing else checks.

func kRule(id string, sev Severity, summary, fix, doc string, check func(*Document, *reporter), hadolint ...string) *Rule {
	return &Rule{ID: id, Severity: sev, Source: SourceHako, Target: TargetDockerfile, Summary: summary, Fix: fix, Doc: doc, check: check, Hadolint: hadolint}
}

func registerHako() {
	register(
		kRule("MissingDockerignore", SeverityWarning, "The build context has no .dockerignore",
			"add a .dockerignore that excludes .git, secrets and build output",
			"Without .dockerignore the whole directory is sent to the build: .git with its history, .env files, keys, node_modules, build output. `COPY . .` then bakes them into a layer, and every change to any of them invalidates the cache.",
			checkDockerignore),
		kRule("DockerignoreWithoutGit", SeverityWarning, ".dockerignore does not exclude .git",
			"add .git to .dockerignore",
			".git holds the full history, including secrets that were committed and removed since; `COPY . .` puts all of it in the image and every commit busts the build cache.",
			checkDockerignoreGit),
		kRule("CredentialFileCopied", SeverityError, "A file that looks like a credential is copied into the image",
			"exclude it in .dockerignore and pass it with RUN --mount=type=secret",
			"Private keys (id_rsa, *.pem, *.key), .env files, .npmrc, .pypirc, .netrc, cloud credentials and docker config files copied into a layer stay in the image for anyone who pulls it, even if a later step deletes them. Build secrets belong in RUN --mount=type=secret, runtime secrets in the environment or a mounted file.",
			checkCredentialCopy),
		kRule("ToolchainInFinalStage", SeverityWarning, "The final stage keeps a build toolchain",
			"build in an earlier stage and COPY --from it only the result",
			"Compilers, headers and build tools in the final image add hundreds of megabytes and attack surface the running program never uses. A multi-stage build compiles in a builder stage and copies the artefact into a slim runtime stage.",
			checkToolchain),
		kRule("UntrustedBaseImage", SeverityWarning, "The base image comes from outside the trusted registries",
			"use an image from a trusted registry, or add the registry to trustedRegistries in .hako-lint.yaml",
			"A base image is code you run as root at build time and ship. By default hako trusts Docker Official Images (docker.io/library) and the registries of major vendors (gcr.io/distroless, mcr.microsoft.com, registry.access.redhat.com, registry.k8s.io, public.ecr.aws, cgr.dev/chainguard); trustedRegistries in .hako-lint.yaml replaces the list.",
			checkTrustedBase, "DL3026"),
		kRule("VolumeSystemPath", SeverityError, "VOLUME of /proc, /sys or /dev",
			"declare volumes for application data only",
			"/proc, /sys and /dev are the kernel's interfaces that the runtime mounts; a volume over them breaks the container or, bound to the host's, hands the host to the container.",
			checkVolume),
		kRule("MultipleProcesses", SeverityWarning, "CMD or ENTRYPOINT starts several processes or a process supervisor",
			"run one process per container; split the others into their own containers",
			"A container's lifecycle follows one process. Starting several (a & b, supervisord, s6, pm2) hides crashes from the engine, breaks signal handling and log collection, and couples things that scale differently.",
			checkMultipleProcesses),
		kRule("MissingRequiredLabel", SeverityWarning, "The final image lacks a label the config requires",
			"add LABEL name=value for every label in requiredLabels",
			"requiredLabels in .hako-lint.yaml (or hadolint's label-schema) lists labels every image must carry, such as org.opencontainers.image.source.",
			checkRequiredLabels),
	)
}

func checkDockerignore(d *Document, r *reporter) {
	if d.Context != nil && d.Context.IgnoreFile == "" {
		r.atLine(1, "the build context has no .dockerignore")
	}
}

// firstContextCopy is the first COPY/ADD from the build context, where its content lands.
func firstContextCopy(d *Document) *Instr {
	for _, in := range d.Instrs {
		switch c := in.Cmd.(type) {
		case *instructions.CopyCommand:
			if c.From == "" && len(c.SourcePaths) > 0 {
				return in
			}
		case *instructions.AddCommand:
			return in
		}
	}
	return nil
}

func checkDockerignoreGit(d *Document, r *reporter) {
	if d.Context == nil || d.Context.IgnoreFile == "" || d.Context.excludesGit() {
		return
	}
	if in := firstContextCopy(d); in != nil {
		r.at(in, "%s does not exclude .git", path.Base(d.Context.IgnoreFile))
	} else {
		r.atLine(1, "%s does not exclude .git", path.Base(d.Context.IgnoreFile))
	}
}

var credentialNames = map[string]bool{
	"id_rsa": true, "id_dsa": true, "id_ecdsa": true, "id_ed25519": true, ".env": true, ".npmrc": true,
	".pypirc": true, ".netrc": true, ".git-credentials": true, ".htpasswd": true, "credentials": true,
	"credentials.json": true, "service-account.json": true, "kubeconfig": true, ".dockercfg": true,
	"secrets.yaml": true, "secrets.yml": true, "terraform.tfstate": true, ".boto": true, ".s3cfg": true,
}

var credentialExt = []string{".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".gpg", ".asc"}

// IsCredentialPath reports whether a path names a file that usually holds a secret.
func IsCredentialPath(p string) bool {
	p = strings.TrimRight(p, "/")
	base := strings.ToLower(path.Base(p))
	if credentialNames[base] {
		return true
	}
	if strings.HasPrefix(base, ".env.") && base != ".env.example" && base != ".env.sample" && base != ".env.template" {
		return true
	}
	if strings.HasPrefix(base, "id_") && (strings.HasSuffix(base, "_rsa") || strings.HasSuffix(base, "_ed25519")) {
		return true
	}
	for _, ext := range credentialExt {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	if strings.HasSuffix(p, ".aws/credentials") || strings.HasSuffix(p, ".docker/config.json") || strings.HasSuffix(p, ".kube/config") || strings.HasSuffix(p, ".ssh/id_rsa") {
		return true
	}
	return false
}

func checkCredentialCopy(d *Document, r *reporter) {
	for _, in := range d.Instrs {
		var srcs []string
		switch c := in.Cmd.(type) {
		case *instructions.CopyCommand:
			if c.From != "" {
				continue
			}
			srcs = c.SourcePaths
		case *instructions.AddCommand:
			srcs = c.SourcePaths
		default:
			continue
		}
		var hits []string
		for _, s := range srcs {
			if isURL(s) {
				continue
			}
			if IsCredentialPath(s) {
				hits = append(hits, s)
				continue
			}
			if d.Context == nil {
				continue
			}
			for _, f := range d.Context.under(s) {
				if IsCredentialPath(f) {
					hits = append(hits, f)
				}
			}
		}
		if len(hits) > 0 {
			if len(hits) > 3 {
				hits = append(hits[:3:3], "…")
			}
			r.at(in, "%s copies %s into the image", strings.ToUpper(in.Keyword), strings.Join(hits, ", "))
		}
	}
}

// toolchainPkgs are packages that only builds need.
var toolchainPkgs = map[string]bool{
	"build-essential": true, "gcc": true, "g++": true, "clang": true, "make": true, "cmake": true,
	"autoconf": true, "automake": true, "libtool": true, "golang": true, "golang-go": true, "go": true,
	"rustc": true, "cargo": true, "maven": true, "gradle": true, "default-jdk": true, "build-base": true,
	"musl-dev": true, "libc-dev": true, "libc6-dev": true, "gcc-c++": true, "nodejs-dev": true,
}

// toolchainImages are images whose point is to compile; compileCmds are what compiling runs.
var toolchainImages = map[string]bool{"golang": true, "rust": true, "maven": true, "gradle": true, "gcc": true, "openjdk": true, "eclipse-temurin": true, "mcr.microsoft.com/dotnet/sdk": true}
var compileCmds = map[string]string{"go": "build", "cargo": "build", "mvn": "", "gradle": "", "gcc": "", "g++": "", "make": "", "dotnet": "publish", "javac": ""}

func checkToolchain(d *Document, r *reporter) {
	s := d.Final()
	g := globalDefaults(d)
	compiles := func() *Instr {
		for _, in := range s.Instrs {
			if in.Script == nil || in.Keyword != "run" {
				continue
			}
			for _, c := range in.Script.Cmds {
				if sub, ok := compileCmds[c.Name]; ok && (sub == "" || c.Sub() == sub) {
					return in
				}
			}
		}
		return nil
	}
	if ref, _, ok := baseRef(d, s, g); ok {
		name := ref.Name
		short := strings.TrimPrefix(name, "docker.io/library/")
		if toolchainImages[short] || toolchainImages[name] {
			if in := compiles(); in != nil {
				r.at(s.From, "final stage builds on %s and compiles at line %d", short, in.Line())
				return
			}
		}
	}
	for _, in := range s.Instrs {
		if in.Keyword != "run" || in.Script == nil {
			continue
		}
		var installed []string
		removed := map[string]bool{}
		virtual := ""
		for _, c := range in.Script.Cmds {
			switch {
			case isAptInstall(c), isApkAdd(c), (c.Name == "yum" || c.Name == "dnf" || c.Name == "microdnf") && c.Sub() == "install":
				for i, a := range c.Args {
					if (a == "-t" || a == "--virtual") && i+1 < len(c.Args) {
						virtual = c.Args[i+1]
					}
				}
				for _, p := range packages(c, "-t", "--virtual", "-o") {
					name, _, _ := strings.Cut(p, "=")
					if toolchainPkgs[name] {
						installed = append(installed, name)
					}
				}
			case (c.Name == "apt-get" || c.Name == "apt") && (c.Sub() == "purge" || c.Sub() == "remove"),
				c.Name == "apk" && c.Sub() == "del",
				(c.Name == "yum" || c.Name == "dnf") && (c.Sub() == "remove" || c.Sub() == "erase"):
				for _, p := range packages(c) {
					removed[p] = true
				}
			}
		}
		var kept []string
		for _, p := range installed {
			if !removed[p] && !(virtual != "" && removed[virtual]) {
				kept = append(kept, p)
			}
		}
		if len(kept) > 0 {
			r.at(in, "final stage installs %s and keeps it", strings.Join(kept, ", "))
		}
	}
}

// defaultTrusted are the registries and repository prefixes trusted without a config.
var defaultTrusted = []string{"docker.io/library/", "gcr.io/distroless/", "mcr.microsoft.com/", "registry.access.redhat.com/",
	"registry.k8s.io/", "public.ecr.aws/docker/library/", "cgr.dev/chainguard/"}

func trusted(name string, list []string) bool {
	for _, t := range list {
		t = strings.TrimSuffix(strings.TrimSpace(t), "/")
		if t == "" {
			continue
		}
		if name == t || strings.HasPrefix(name, t+"/") {
			return true
		}
	}
	return false
}

func checkTrustedBase(d *Document, r *reporter) {
	list := d.Config.TrustedRegistries
	if len(list) == 0 {
		list = defaultTrusted
	}
	g := globalDefaults(d)
	for _, s := range d.Stages {
		ref, name, ok := baseRef(d, s, g)
		if !ok {
			continue
		}
		if !trusted(ref.Name, list) {
			r.at(s.From, "base image %s is not from a trusted registry", name)
		}
	}
}

func checkVolume(d *Document, r *reporter) {
	for _, in := range d.Instrs {
		c, ok := in.Cmd.(*instructions.VolumeCommand)
		if !ok {
			continue
		}
		for _, v := range c.Volumes {
			p := path.Clean("/" + strings.TrimSpace(v))
			for _, sys := range []string{"/proc", "/sys", "/dev"} {
				if p == sys || strings.HasPrefix(p, sys+"/") {
					r.at(in, "VOLUME %s covers %s", v, sys)
				}
			}
		}
	}
}

var supervisors = map[string]bool{"supervisord": true, "s6-svscan": true, "runsvdir": true, "pm2": true, "pm2-runtime": true,
	"forego": true, "honcho": true, "circusd": true, "my_init": true, "systemd": true, "init": true, "s6-overlay": true, "overmind": true, "foreman": true}

func checkMultipleProcesses(d *Document, r *reporter) {
	for _, in := range d.Instrs {
		if (in.Keyword != "cmd" && in.Keyword != "entrypoint") || in.Script == nil {
			continue
		}
		for _, c := range in.Script.Cmds {
			if supervisors[c.Name] {
				r.at(in, "%s starts the supervisor %s", strings.ToUpper(in.Keyword), c.Name)
				break
			}
			if c.Background {
				r.at(in, "%s starts %s in the background next to the main process", strings.ToUpper(in.Keyword), c.Name)
				break
			}
		}
	}
}

func checkRequiredLabels(d *Document, r *reporter) {
	want := d.Config.requiredLabels()
	if len(want) == 0 {
		return
	}
	have := map[string]bool{}
	for _, s := range finalChain(d) {
		for _, in := range s.Instrs {
			if c, ok := in.Cmd.(*instructions.LabelCommand); ok {
				for _, kv := range c.Labels {
					have[kv.Key] = true
				}
			}
		}
	}
	final := d.Final()
	for _, l := range want {
		if !have[l] {
			r.at(final.From, "the final image has no label %s", l)
		}
	}
}
