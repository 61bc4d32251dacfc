package lint

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type entry struct {
	name string
	mode int64
	typ  byte
	data string
}

func layerTar(t *testing.T, es ...entry) func() (io.ReadCloser, error) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: typ, Size: int64(len(e.data))}
		if typ == tar.TypeDir {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.data))
		}
	}
	tw.Close()
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.Bytes())), nil }
}

func TestCheckImageBad(t *testing.T) {
	img := Image{Name: "bad:1"}
	img.Config.Config.Env = []string{"PATH=/usr/bin", "DB_PASSWORD=hunter2", "NOTE=AKIAABCDEFGHIJKLMNOP"}
	img.Config.Config.Labels = map[string]string{"api.token": "abc", "org.opencontainers.image.title": "x"}
	img.Config.History = []ocispec.History{{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in /"}, {CreatedBy: "|1 GITHUB_TOKEN=ghp_x /bin/sh -c make"}}
	img.Layers = []func() (io.ReadCloser, error){
		layerTar(t,
			entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "etc/passwd", mode: 0o644, data: "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"},
			entry{name: "etc/shadow", mode: 0o600, data: "root:!:19000::::::\napp::19000::::::\n"},
			entry{name: "etc/ssl/certs/ca.pem", mode: 0o644, data: "-----BEGIN CERTIFICATE-----\n"},
			entry{name: "usr/bin/passwd", mode: 0o4755, data: "elf"},
			entry{name: "data/", typ: tar.TypeDir, mode: 0o777},
			entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
			entry{name: "root/.ssh/id_rsa", mode: 0o600, data: "-----BEGIN OPENSSH PRIVATE KEY-----\n"},
			entry{name: "src/big.o", mode: 0o644, data: strings.Repeat("x", 4096)},
		),
		layerTar(t,
			entry{name: "root/.ssh/.wh.id_rsa"},
			entry{name: "src/.wh..wh..opq"},
			entry{name: "app/tls.key", mode: 0o600, data: "-----BEGIN RSA PRIVATE KEY-----\n"},
		),
	}
	res, err := CheckImage(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := render(res.Findings)
	golden(t, "image/bad.golden", got)
	for _, want := range []string{"ImageRunsAsRoot", "ImageSecretInConfig warning: ENV DB_PASSWORD", "ENV NOTE", "label api.token",
		"ImageSecretInHistory", "ImageSetuidFile", "/root/.ssh/id_rsa (layer 1, deleted later", "/app/tls.key (layer 2)",
		"ImageWastedBytes", "4.0 KiB", "/data is world-writable", "user app has an empty password", "UID 0 is shared by root, toor", "ImageNoHealthcheck"} {
		want = strings.Replace(want, "warning", "error", 1)
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, not := range []string{"ca.pem", "/tmp is world", "user root has"} {
		if strings.Contains(got, not) {
			t.Errorf("unexpected %q in:\n%s", not, got)
		}
	}
}

func TestCheckImageGood(t *testing.T) {
	img := Image{Name: "good:1", Healthcheck: []string{"CMD", "/app", "-health"}}
	img.Config.Config.User = "app"
	img.Config.Config.Env = []string{"PATH=/usr/bin", "GPG_KEY_FILE=/k"}
	img.Config.History = []ocispec.History{{CreatedBy: "RUN |1 VERSION=1.2 /bin/sh -c make"}}
	img.Layers = []func() (io.ReadCloser, error){layerTar(t,
		entry{name: "etc/passwd", mode: 0o644, data: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"},
		entry{name: "etc/shadow", mode: 0o600, data: "root:*:19000::::::\napp:!:19000::::::\n"},
		entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "app", mode: 0o755, data: "elf"},
	)}
	res, err := CheckImage(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings on a clean image:\n%s", render(res.Findings))
	}
}
