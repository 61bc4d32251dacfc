package engine

import (
	"context"
	"time"

	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/reference"
)

// ImageInspect is Docker's JSON shape of `docker image inspect`.
type ImageInspect struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        DockerContainerConfig
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	GraphDriver   struct {
		Data map[string]string
		Name string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
	Metadata struct{ LastTagTime string }
}

// DockerContainerConfig is the "Config" object of Docker's image inspect.
type DockerContainerConfig struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *image.HealthConfig `json:",omitempty"`
	ArgsEscaped  bool                `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string   `json:",omitempty"`
	Shell        []string `json:",omitempty"`
}

// InspectImage builds Docker's inspect document for ref.
func (e *Engine) InspectImage(ctx context.Context, ref string) (ImageInspect, error) {
	img, cfg, err := e.ResolveImage(ctx, ref)
	if err != nil {
		return ImageInspect{}, err
	}
	var out ImageInspect
	out.ID = img.ID.String()
	out.RepoTags = []string{}
	out.RepoDigests = []string{}
	for _, n := range img.Names {
		if n.Tag != "" {
			out.RepoTags = append(out.RepoTags, n.Familiar())
		}
	}
	if img.Parent != "" {
		out.Parent = img.Parent.String()
	}
	out.Comment = cfg.Comment
	if cfg.Comment == "" && len(cfg.History) > 0 {
		out.Comment = cfg.History[len(cfg.History)-1].Comment
	}
	out.Created = created(cfg).UTC().Format(time.RFC3339Nano)
	out.DockerVersion = cfg.DockerVersion
	out.Author = cfg.Author
	c := cfg.Config
	out.Config = DockerContainerConfig{User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Cmd: c.Cmd, Healthcheck: c.Healthcheck,
		ArgsEscaped: c.ArgsEscaped, Volumes: c.Volumes, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, OnBuild: c.OnBuild,
		Labels: c.Labels, StopSignal: c.StopSignal, Shell: c.Shell}
	out.Architecture = cfg.Architecture
	out.Variant = cfg.Variant
	out.Os = cfg.OS
	out.Size = e.imageSize(ctx, cfg)
	out.GraphDriver.Name = e.Snapshotter
	out.GraphDriver.Data = map[string]string{}
	chain := layer.ChainIDs(cfg.RootFS.DiffIDs)
	if len(chain) > 0 {
		if ms, err := e.Snapshots.View(ctx, "tmp-inspect-"+reference.ShortID(img.ID.String()), chain[len(chain)-1].String()); err == nil {
			for _, o := range ms[0].Options {
				if k, v, ok := cutOpt(o); ok && (k == "lowerdir" || k == "upperdir" || k == "workdir") {
					out.GraphDriver.Data[k] = v
				}
			}
			if ms[0].Type != "overlay" {
				out.GraphDriver.Data["dir"] = ms[0].Source
			}
			e.Snapshots.Remove(ctx, "tmp-inspect-"+reference.ShortID(img.ID.String()))
		}
	}
	out.RootFS.Type = "layers"
	out.RootFS.Layers = []string{}
	for _, d := range cfg.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	if !img.Created.IsZero() && len(img.Names) > 0 {
		out.Metadata.LastTagTime = img.Created.UTC().Format(time.RFC3339Nano)
	} else {
		out.Metadata.LastTagTime = "0001-01-01T00:00:00Z"
	}
	return out, nil
}

func cutOpt(o string) (string, string, bool) {
	for i := 0; i < len(o); i++ {
		if o[i] == '=' {
			return o[:i], o[i+1:], true
		}
	}
	return "", "", false
}

// DiskUsage is `system df`.
type DiskUsage struct {
	Images, ActiveImages int
	ImagesSize           int64
	ReclaimableImages    int64
	Containers           int
	ActiveContainers     int
	ContainersSize       int64
	Volumes              int
	VolumesSize          int64
	BuildCache           int
	BuildCacheSize       int64
}

// DiskUsage sums what the store holds.
func (e *Engine) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var du DiskUsage
	imgs, err := e.Images.List(ctx)
	if err != nil {
		return du, err
	}
	users := e.imageUsers(ctx)
	seenLayer := map[string]bool{}
	for _, img := range imgs {
		if img.Intermediate {
			continue
		}
		du.Images++
		cfg, _, err := e.Images.Config(ctx, img)
		if err != nil {
			continue
		}
		var own int64
		for _, c := range layer.ChainIDs(cfg.RootFS.DiffIDs) {
			if seenLayer[c.String()] {
				continue
			}
			seenLayer[c.String()] = true
			if n := layer.Size(ctx, e.Snapshots, c.String()); n > 0 {
				own += n
			}
		}
		du.ImagesSize += own
		if len(users[img.ID]) > 0 {
			du.ActiveImages++
		} else {
			du.ReclaimableImages += own
		}
	}
	return du, nil
}
