package lint

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ruleCase shows one rule firing on fire and staying quiet on pass. ctx, when set, is the build
// context (file name → content) the Dockerfile is checked with.
type ruleCase struct {
	fire, pass string
	ctx        map[string]string
	passCtx    map[string]string
	cfg        string
}

var ruleCases = map[string]ruleCase{
	"DockerfileSyntax": {
		fire: "FROM alpine:3.19\nFROOM x\n",
		pass: "FROM alpine:3.19\n",
	},
	"StageNameCasing": {
		fire: "FROM alpine:3.19 AS Build\n",
		pass: "FROM alpine:3.19 AS build\n",
	},
	"FromAsCasing": {
		fire: "FROM alpine:3.19 as build\n",
		pass: "from alpine:3.19 as build\n",
	},
	"NoEmptyContinuation": {
		fire: "FROM alpine:3.19\nRUN echo a && \\\n\n    echo b\n",
		pass: "FROM alpine:3.19\nRUN echo a && \\\n    echo b\n",
	},
	"ConsistentInstructionCasing": {
		fire: "FROM alpine:3.19\nRUN echo a\nworkdir /app\n",
		pass: "FROM alpine:3.19\nRUN echo a\nWORKDIR /app\n",
	},
	"DuplicateStageName": {
		fire: "FROM alpine:3.19 AS a\nFROM alpine:3.19 AS a\n",
		pass: "FROM alpine:3.19 AS a\nFROM alpine:3.19 AS b\n",
	},
	"ReservedStageName": {
		fire: "FROM alpine:3.19 AS scratch\n",
		pass: "FROM alpine:3.19 AS base\n",
	},
	"JSONArgsRecommended": {
		fire: "FROM alpine:3.19\nCMD echo hi\n",
		pass: "FROM alpine:3.19\nCMD [\"echo\", \"hi\"]\n",
	},
	"MaintainerDeprecated": {
		fire: "FROM alpine:3.19\nMAINTAINER me@example.com\n",
		pass: "FROM alpine:3.19\nLABEL org.opencontainers.image.authors=me@example.com\n",
	},
	"UndefinedArgInFrom": {
		fire: "FROM alpine:${VERSON}\n",
		pass: "ARG VERSION=3.19\nFROM alpine:${VERSION}\n",
	},
	"WorkdirRelativePath": {
		fire: "FROM alpine:3.19\nWORKDIR app\n",
		pass: "FROM alpine:3.19\nWORKDIR /app\nWORKDIR sub\n",
	},
	"UndefinedVar": {
		fire: "FROM alpine:3.19\nENV APP_HOME=/app\nCOPY . $APP_HOM\n",
		pass: "FROM alpine:3.19\nENV APP_HOME=/app\nCOPY . $APP_HOME\nENV PATH=$APP_HOME/bin:$PATH\n",
	},
	"MultipleInstructionsDisallowed": {
		fire: "FROM alpine:3.19\nCMD [\"a\"]\nCMD [\"b\"]\n",
		pass: "FROM alpine:3.19\nCMD [\"a\"]\nFROM alpine:3.19\nCMD [\"b\"]\n",
	},
	"LegacyKeyValueFormat": {
		fire: "FROM alpine:3.19\nENV MODE production\n",
		pass: "FROM alpine:3.19\nENV MODE=production\n",
	},
	"RedundantTargetPlatform": {
		fire: "FROM --platform=$TARGETPLATFORM alpine:3.19\n",
		pass: "FROM --platform=$BUILDPLATFORM alpine:3.19\n",
	},
	"SecretsUsedInArgOrEnv": {
		fire: "FROM alpine:3.19\nARG GITHUB_TOKEN\n",
		pass: "FROM alpine:3.19\nARG GITHUB_TOKEN_FILE\n",
	},
	"InvalidDefaultArgInFrom": {
		fire: "ARG TAG\nFROM alpine:${TAG}\n",
		pass: "ARG TAG=3.19\nFROM alpine:${TAG}\n",
	},
	"FromPlatformFlagConstDisallowed": {
		fire: "FROM --platform=linux/amd64 alpine:3.19 AS build\n",
		pass: "FROM --platform=linux/amd64 alpine:3.19 AS build-amd64\n",
	},
	"CopyIgnoredFile": {
		fire:    "FROM alpine:3.19\nCOPY secret.txt /app/\n",
		pass:    "FROM alpine:3.19\nCOPY app.txt /app/\n",
		ctx:     map[string]string{".dockerignore": ".git\nsecret.txt\n", "secret.txt": "x", "app.txt": "x"},
		passCtx: map[string]string{".dockerignore": ".git\nsecret.txt\n", "secret.txt": "x", "app.txt": "x"},
	},
	"ExposeProtoCasing": {
		fire: "FROM alpine:3.19\nEXPOSE 53/UDP\n",
		pass: "FROM alpine:3.19\nEXPOSE 53/udp\n",
	},
	"ExposeInvalidFormat": {
		fire: "FROM alpine:3.19\nEXPOSE 127.0.0.1:8080:80\n",
		pass: "FROM alpine:3.19\nEXPOSE 80\n",
	},
	"LastUserRoot": {
		fire: "FROM alpine:3.19\nUSER app\nRUN id\nUSER root\n",
		pass: "FROM alpine:3.19\nUSER root\nRUN id\nUSER app\n",
	},
	"UntaggedBaseImage": {
		fire: "FROM debian\n",
		pass: "FROM debian:12\nFROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
	},
	"LatestBaseImage": {
		fire: "FROM debian:latest\n",
		pass: "FROM debian:12\n",
	},
	"AptGetNoYes": {
		fire: "FROM debian:12\nRUN apt-get update && apt-get install --no-install-recommends curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*\n",
		pass: "FROM debian:12\nRUN apt-get update && apt-get install -qy --no-install-recommends curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*\n",
	},
	"AptNoInstallRecommends": {
		fire: "FROM debian:12\nRUN apt-get update && apt-get install -y curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*\n",
		pass: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*\n",
	},
	"AptListsNotCleaned": {
		fire: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10\n",
		pass: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*\n",
	},
	"AptUnpinned": {
		fire: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
		pass: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 ./local.deb && rm -rf /var/lib/apt/lists/*\n",
	},
	"ApkUnpinned": {
		fire: "FROM alpine:3.19\nRUN apk add --no-cache curl\n",
		pass: "FROM alpine:3.19\nRUN apk add --no-cache --virtual .deps curl=8.5.0-r0\n",
	},
	"ApkNoCache": {
		fire: "FROM alpine:3.19\nRUN apk add curl=8.5.0-r0\n",
		pass: "FROM alpine:3.19\nRUN apk add --no-cache curl=8.5.0-r0\n",
	},
	"PipUnpinned": {
		fire: "FROM python:3.12\nRUN pip install --no-cache-dir flask\n",
		pass: "FROM python:3.12\nRUN pip install --no-cache-dir flask==3.0.2 -r requirements.txt .\n",
	},
	"PipNoCacheDir": {
		fire: "FROM python:3.12\nRUN python -m pip install -r requirements.txt\n",
		pass: "FROM python:3.12\nENV PIP_NO_CACHE_DIR=1\nRUN python -m pip install -r requirements.txt\n",
	},
	"NpmUnpinned": {
		fire: "FROM node:20\nRUN npm install -g typescript\n",
		pass: "FROM node:20\nRUN npm install -g typescript@5.4.2 @types/node@20.1.0 && npm ci\n",
	},
	"SudoInRun": {
		fire: "FROM debian:12\nRUN sudo make install\n",
		pass: "FROM debian:12\nRUN make install\n",
	},
	"CdInsteadOfWorkdir": {
		fire: "FROM debian:12\nRUN cd /src && make\n",
		pass: "FROM debian:12\nWORKDIR /src\nRUN make\n",
	},
	"AddInsteadOfCopy": {
		fire: "FROM debian:12\nADD app.py /app/\n",
		pass: "FROM debian:12\nADD rootfs.tar.gz /\nADD https://example.com/a.txt /a.txt\n",
	},
	"CopyFromUnknownStage": {
		fire: "FROM golang:1.22 AS build\nFROM debian:12\nCOPY --from=builder /out /app\n",
		pass: "FROM golang:1.22 AS build\nFROM debian:12\nCOPY --from=build /out /app\nCOPY --from=0 /out /app\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx\n",
	},
	"CopyFromSelf": {
		fire: "FROM golang:1.22 AS build\nCOPY --from=build /a /b\n",
		pass: "FROM golang:1.22 AS build\nFROM debian:12\nCOPY --from=build /a /b\n",
	},
	"ConsecutiveRun": {
		fire: "FROM debian:12\nRUN mkdir /a\nRUN mkdir /b\n",
		pass: "FROM debian:12\nRUN mkdir /a\n# separate for caching\nRUN mkdir /b\nRUN --mount=type=cache,target=/root/.cache mkdir /c\n",
	},
	"PipeWithoutPipefail": {
		fire: "FROM debian:12\nRUN curl -fsSL https://example.com/install.sh | sh\n",
		pass: "FROM debian:12\nRUN set -o pipefail && curl -fsSL https://example.com/install.sh | sh\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN wget -qO- https://example.com/x | tar x\n",
	},
	"WgetAndCurl": {
		fire: "FROM debian:12\nRUN curl -fsSLO https://example.com/a\nRUN wget https://example.com/b\n",
		pass: "FROM debian:12\nRUN curl -fsSLO https://example.com/a && curl -fsSLO https://example.com/b\n",
	},
	"UseraddLargeUID": {
		fire: "FROM debian:12\nRUN useradd -u 123456789 app\n",
		pass: "FROM debian:12\nRUN useradd -l -u 123456789 app && useradd -u 1000 other\n",
	},
	"MissingDockerignore": {
		fire:    "FROM alpine:3.19\nCOPY . /app\n",
		pass:    "FROM alpine:3.19\nCOPY . /app\n",
		ctx:     map[string]string{"app.txt": "x"},
		passCtx: map[string]string{".dockerignore": ".git\n", "app.txt": "x"},
	},
	"DockerignoreWithoutGit": {
		fire:    "FROM alpine:3.19\nCOPY . /app\n",
		pass:    "FROM alpine:3.19\nCOPY . /app\n",
		ctx:     map[string]string{".dockerignore": "node_modules\n", "app.txt": "x"},
		passCtx: map[string]string{".dockerignore": "node_modules\n**/.git\n", "app.txt": "x"},
	},
	"CredentialFileCopied": {
		fire:    "FROM alpine:3.19\nCOPY config/ /app/config/\nCOPY .npmrc /root/\n",
		pass:    "FROM alpine:3.19\nCOPY config/ /app/config/\n",
		ctx:     map[string]string{".dockerignore": ".git\n", "config/app.yaml": "x", "config/tls.key": "x", ".npmrc": "x"},
		passCtx: map[string]string{".dockerignore": ".git\n**/*.key\n", "config/app.yaml": "x", "config/tls.key": "x"},
	},
	"ToolchainInFinalStage": {
		fire: "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\nCMD [\"/app\"]\n",
		pass: "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\nFROM alpine:3.19\nRUN apk add --no-cache --virtual .build-deps gcc=13.2.1_git20231014-r0 && make && apk del .build-deps\nCOPY --from=build /app /app\nCMD [\"/app\"]\n",
	},
	"UntrustedBaseImage": {
		fire: "FROM randomuser/alpine:3.19\n",
		pass: "FROM alpine:3.19\nFROM gcr.io/distroless/static-debian12:nonroot\n",
	},
	"VolumeSystemPath": {
		fire: "FROM alpine:3.19\nVOLUME [\"/data\", \"/sys/fs/cgroup\"]\n",
		pass: "FROM alpine:3.19\nVOLUME [\"/data\", \"/proceeds\"]\n",
	},
	"MultipleProcesses": {
		fire: "FROM alpine:3.19\nCMD [\"sh\", \"-c\", \"crond && nginx -g 'daemon off;' & php-fpm\"]\nFROM alpine:3.19\nCMD [\"/usr/bin/supervisord\", \"-c\", \"/etc/supervisord.conf\"]\n",
		pass: "FROM alpine:3.19\nCMD [\"sh\", \"-c\", \"migrate && exec server\"]\n",
	},
	"MissingRequiredLabel": {
		fire: "FROM alpine:3.19\nLABEL org.opencontainers.image.title=app\n",
		pass: "FROM alpine:3.19 AS base\nLABEL org.opencontainers.image.source=https://example.com/app\nFROM base\n",
		cfg:  "requiredLabels: [org.opencontainers.image.source]\n",
	},
}

func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	if files == nil {
		return ""
	}
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func check(t *testing.T, src string, ctx map[string]string, cfgText string) *Result {
	t.Helper()
	var cfg *Config
	if cfgText != "" {
		var err error
		if cfg, err = ParseConfig([]byte(cfgText)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := CheckDockerfile([]byte(src), Options{Path: "Dockerfile", ContextDir: writeContext(t, ctx), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func only(res *Result, rule string) []Finding {
	var out []Finding
	for _, f := range res.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func render(fs []Finding) string {
	var b strings.Builder
	_ = writeText(&b, []*Result{{Findings: fs}})
	return b.String()
}

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (-update rewrites it)\n--- want\n%s--- got\n%s", p, want, got)
	}
}

func TestEveryRuleFiresAndStaysQuiet(t *testing.T) {
	for _, r := range Rules() {
		if r.Target != TargetDockerfile {
			continue
		}
		c, ok := ruleCases[r.ID]
		if !ok {
			t.Errorf("rule %s has no case in ruleCases", r.ID)
			continue
		}
		t.Run(r.ID, func(t *testing.T) {
			fired := only(check(t, c.fire, c.ctx, c.cfg), r.ID)
			if len(fired) == 0 {
				t.Errorf("%s did not fire on:\n%s", r.ID, c.fire)
			}
			for _, f := range fired {
				if f.Severity != r.Severity || f.Message == "" || f.Fix == "" || f.Line < 1 {
					t.Errorf("malformed finding %+v", f)
				}
			}
			golden(t, filepath.Join("rules", r.ID+".golden"), render(fired))
			if quiet := only(check(t, c.pass, c.passCtx, c.cfg), r.ID); len(quiet) > 0 {
				t.Errorf("%s fired on the passing case:\n%s", r.ID, render(quiet))
			}
		})
	}
}

func TestRulesHaveDocs(t *testing.T) {
	for _, r := range Rules() {
		if r.ID == "" || r.Summary == "" || r.Fix == "" || strings.TrimSpace(r.Doc) == "" || r.Severity < SeverityStyle || r.Severity > SeverityError {
			t.Errorf("rule %q is missing an ID, summary, fix, doc or severity: %+v", r.ID, r)
		}
		if strings.Contains(r.Summary, "\n") || strings.Contains(r.Fix, "\n") {
			t.Errorf("rule %s: summary and fix must be one line", r.ID)
		}
	}
}

func TestHadolintAliases(t *testing.T) {
	for code, want := range map[string]string{"DL3008": "AptUnpinned", "dl3002": "LastUserRoot", "DL4003": "MultipleInstructionsDisallowed", "DL3025": "JSONArgsRecommended", "DL3026": "UntrustedBaseImage"} {
		r, ok := Lookup(code)
		if !ok || r.ID != want {
			t.Errorf("Lookup(%s) = %v, want %s", code, r, want)
		}
	}
	if _, ok := Lookup("DL9999"); ok {
		t.Error("Lookup(DL9999) found a rule")
	}
}
