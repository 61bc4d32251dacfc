package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"golang.org/x/sys/unix"
)

// RemoteSource is an ADD source fetched by the builder on the host (as BuildKit does, not from
// inside a RUN container): an http(s) URL, or a git repository.
type RemoteSource struct {
	URL string // as written
	Git *GitRef
}

// GitRef is a git source: `REMOTE[#REF[:SUBDIR]]`.
type GitRef struct {
	Remote string
	Ref    string // a branch, a tag or a commit; "" for the remote's HEAD
	Subdir string // "" for the whole tree
}

// parseRemote recognises a remote ADD source. Git sources are git://, ssh:// and git@host:
// addresses, and http(s) URLs whose path ends in .git (BuildKit's rule); other http(s) URLs are
// files.
func parseRemote(p string) (RemoteSource, bool, error) {
	lower := strings.ToLower(p)
	isGit := strings.HasPrefix(lower, "git://") || strings.HasPrefix(lower, "ssh://") || strings.HasPrefix(lower, "git@")
	isHTTP := strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")
	if !isGit && !isHTTP {
		return RemoteSource{}, false, nil
	}
	if isHTTP {
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			return RemoteSource{}, true, errdefs.Invalidf("ADD %s: not a valid URL", p)
		}
		if !strings.HasSuffix(u.Path, ".git") && !strings.HasSuffix(u.Path, ".git/") {
			return RemoteSource{URL: p}, true, nil
		}
	}
	remote, frag, _ := strings.Cut(p, "#")
	ref, sub, _ := strings.Cut(frag, ":")
	if strings.HasPrefix(remote, "-") || strings.HasPrefix(ref, "-") {
		return RemoteSource{}, true, errdefs.Invalidf("ADD %s: not a valid git address", p)
	}
	sub = strings.Trim(path.Clean("/"+sub), "/")
	return RemoteSource{URL: p, Git: &GitRef{Remote: remote, Ref: ref, Subdir: sub}}, true, nil
}

// FetchOptions say where fetched sources go.
type FetchOptions struct {
	// Dir is the step's scratch directory: git checkouts go there.
	Dir string
	// CacheDir keeps downloaded files with their ETag and Last-Modified between builds, for
	// conditional requests.
	CacheDir string
	Client   *http.Client // nil for http.DefaultClient
	// Log receives a line per source fetched.
	Log io.Writer
}

// Fetch fetches the step's remote sources and returns them as matches to copy, each with its
// own source tree. A --checksum that the content (or, for git, the commit) does not have fails
// the step naming the URL and both digests.
func (c *CopySpec) Fetch(ctx context.Context, opts FetchOptions) ([]Match, error) {
	var out []Match
	for i, r := range c.Remote {
		var m Match
		var err error
		if r.Git != nil {
			m, err = c.fetchGit(ctx, r, filepath.Join(opts.Dir, fmt.Sprintf("git-%d", i)), opts)
		} else {
			m, err = c.fetchHTTP(ctx, r, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.Instruction, r.URL, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// httpEntry is what the download cache keeps of a URL.
type httpEntry struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	Digest       string    `json:"digest"`
	Name         string    `json:"name"`
	Fetched      time.Time `json:"fetched"`
}

// fetchHTTP downloads a URL, or, when the cache has it, asks the server whether it changed
// (If-None-Match, If-Modified-Since) and reuses the cached copy on 304 Not Modified.
func (c *CopySpec) fetchHTTP(ctx context.Context, r RemoteSource, opts FetchOptions) (Match, error) {
	if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
		return Match{}, err
	}
	key := digestString(r.URL)
	metaPath := filepath.Join(opts.CacheDir, key+".json")
	dataPath := filepath.Join(opts.CacheDir, key+".data")
	var cached *httpEntry
	if b, err := os.ReadFile(metaPath); err == nil {
		var e httpEntry
		if json.Unmarshal(b, &e) == nil && e.URL == r.URL {
			if _, err := os.Stat(dataPath); err == nil {
				cached = &e
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return Match{}, err
	}
	if cached != nil {
		if cached.ETag != "" {
			req.Header.Set("If-None-Match", cached.ETag)
		}
		if cached.LastModified != "" {
			req.Header.Set("If-Modified-Since", cached.LastModified)
		}
	}
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Match{}, err
	}
	defer resp.Body.Close()
	var entry httpEntry
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		entry = *cached
		logf(opts.Log, "%s: not modified, using the cached copy\n", r.URL)
	case resp.StatusCode == http.StatusOK:
		tmp, err := os.CreateTemp(opts.CacheDir, key+".tmp-")
		if err != nil {
			return Match{}, err
		}
		defer os.Remove(tmp.Name())
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Match{}, fmt.Errorf("download: %w", err)
		}
		entry = httpEntry{URL: r.URL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
			Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Name: remoteName(r.URL), Fetched: time.Now().UTC()}
		if err := os.Chmod(tmp.Name(), 0o600); err != nil {
			return Match{}, err
		}
		if t, err := http.ParseTime(entry.LastModified); err == nil {
			setTimes(tmp.Name(), t)
		}
		if err := os.Rename(tmp.Name(), dataPath); err != nil {
			return Match{}, err
		}
		b, _ := json.Marshal(entry)
		if err := atomicfile.WriteFile(metaPath, b, 0o600); err != nil {
			return Match{}, err
		}
		logf(opts.Log, "%s: %d bytes, %s\n", r.URL, n, entry.Digest)
	default:
		return Match{}, fmt.Errorf("GET: %s", resp.Status)
	}
	if c.Checksum != "" && c.Checksum != entry.Digest {
		return Match{}, errdefs.Invalidf("checksum mismatch: --checksum=%s, the content is %s", c.Checksum, entry.Digest)
	}
	fi, err := os.Lstat(dataPath)
	if err != nil {
		return Match{}, err
	}
	src := &Source{Root: opts.CacheDir, Name: r.URL}
	// The file's name, content and time (Last-Modified) are what the layer gets.
	id := fmt.Sprintf("url %q %s %q %q", r.URL, entry.Digest, entry.Name, entry.LastModified)
	return Match{Rel: entry.Name, Path: dataPath, Info: fi, Named: true, from: src, remote: true, identity: id}, nil
}

// remoteName is the file name a URL's content gets: the last element of its path, as BuildKit.
func remoteName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "__unnamed__"
	}
	base := path.Base(u.Path)
	if base == "/" || base == "." || base == "" {
		return "__unnamed__"
	}
	return base
}

// fetchGit checks a git source out with the host's git binary (as BuildKit does): a shallow
// fetch of the ref, or of everything when the server will not serve a commit by its hash.
// Every file gets the commit's time, so a checkout is the same whenever it is made; .git goes
// unless --keep-git-dir.
func (c *CopySpec) fetchGit(ctx context.Context, r RemoteSource, dir string, opts FetchOptions) (Match, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return Match{}, errdefs.NotImplemented(errors.New("git sources need the git binary, and it is not installed"))
	}
	g := r.Git
	home := dir + ".home"
	if err := os.MkdirAll(home, 0o700); err != nil {
		return Match{}, err
	}
	defer os.RemoveAll(home)
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+home,
			"GIT_ALLOW_PROTOCOL=file:git:http:https:ssh", "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			msg := strings.TrimSpace(stderr.String())
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			return "", fmt.Errorf("git %s: %v: %s", args[0], err, msg)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Match{}, err
	}
	if _, err := run("init", "-q"); err != nil {
		return Match{}, err
	}
	ref := g.Ref
	if ref == "" {
		ref = "HEAD"
	}
	if _, err := run("fetch", "-q", "--depth=1", "--no-tags", "--", g.Remote, ref); err != nil {
		if !isCommitish(ref) {
			return Match{}, err
		}
		// Servers serve a bare commit hash only when configured to: fetch everything instead.
		if _, err := run("fetch", "-q", "--no-tags", "--", g.Remote, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err != nil {
			return Match{}, err
		}
		if _, err := run("checkout", "-q", ref); err != nil {
			return Match{}, err
		}
	} else if _, err := run("checkout", "-q", "FETCH_HEAD"); err != nil {
		return Match{}, err
	}
	commit, err := run("rev-parse", "HEAD")
	if err != nil {
		return Match{}, err
	}
	if c.Checksum != "" {
		want := strings.TrimPrefix(c.Checksum, "sha1:")
		if len(want) < 7 || !strings.HasPrefix(commit, strings.ToLower(want)) {
			return Match{}, errdefs.Invalidf("checksum mismatch: --checksum=%s, the commit is %s", c.Checksum, commit)
		}
	}
	ct, err := run("log", "-1", "--format=%ct")
	if err != nil {
		return Match{}, err
	}
	sec, _ := strconv.ParseInt(ct, 10, 64)
	if !c.KeepGitDir {
		if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
			return Match{}, err
		}
	}
	if err := setTreeTimes(dir, time.Unix(sec, 0)); err != nil {
		return Match{}, err
	}
	root := dir
	if g.Subdir != "" {
		if root, err = securejoin.SecureJoin(dir, g.Subdir); err != nil {
			return Match{}, err
		}
	}
	fi, err := os.Lstat(root)
	if err != nil || !fi.IsDir() {
		return Match{}, errdefs.NotFoundf("%q is not a directory in commit %s", g.Subdir, commit)
	}
	logf(opts.Log, "%s: commit %s\n", r.URL, commit)
	id := fmt.Sprintf("git %q commit %s subdir %q keep-git-dir=%v", g.Remote, commit, g.Subdir, c.KeepGitDir)
	return Match{Rel: ".", Path: root, Info: fi, Named: true, from: &Source{Root: root, Name: r.URL}, remote: true, identity: id}, nil
}

func isCommitish(ref string) bool {
	if len(ref) < 7 || len(ref) > 64 {
		return false
	}
	_, err := hex.DecodeString(ref[:len(ref)&^1])
	return err == nil
}

// setTreeTimes gives every entry under dir the time t, without following symlinks.
func setTreeTimes(dir string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
