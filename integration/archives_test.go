package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// entry is one tar entry for the layers and archives tests make by hand.
type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
}

func file(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: 0o644}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hardlink(name, target string) entry { return entry{name: name, typ: tar.TypeLink, link: target} }

func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: e.name, PAXRecords: map[string]string{"comment": "global"}, Format: tar.FormatPAX}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// dockerArchive makes a docker-archive (the layout of `docker save` before Docker 25) of one
// image with the given uncompressed layers. tweak may change the files before they are written.
func dockerArchive(t *testing.T, tag string, layers [][]byte, tweak func(files map[string][]byte, order *[]string)) []byte {
	t.Helper()
	files := map[string][]byte{}
	var order []string
	var diffIDs, layerNames []string
	var history []map[string]any
	for i, l := range layers {
		name := fmt.Sprintf("layer%d/layer.tar", i)
		files[name] = l
		order = append(order, name)
		layerNames = append(layerNames, name)
		diffIDs = append(diffIDs, sha(l))
		history = append(history, map[string]any{"created": "2024-01-01T00:00:00Z", "created_by": fmt.Sprintf("step %d", i)})
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
		"config": map[string]any{"Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "history": history,
	})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	files[cfgName] = cfg
	order = append(order, cfgName)
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": layerNames}})
	files["manifest.json"] = m
	order = append(order, "manifest.json")
	if tweak != nil {
		tweak(files, &order)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range order {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(1700000000, 0)})
		tw.Write(files[n])
	}
	tw.Close()
	return buf.Bytes()
}

// configID is the image ID the archive's config has.
func configID(files map[string][]byte) string {
	for n, b := range files {
		if len(n) == 69 && n[64:] == ".json" {
			return sha(b)
		}
	}
	return ""
}
