package engine

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerInspect is Docker's JSON shape of `docker container inspect`.
type ContainerInspect struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           container.State
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      HostConfig
	GraphDriver     struct {
		Data map[string]string
		Name string
	}
	SizeRw          *int64 `json:",omitempty"`
	SizeRootFs      *int64 `json:",omitempty"`
	Mounts          []MountPoint
	Config          ContainerConfigInspect
	NetworkSettings NetworkSettings
}

// HostConfig is the "HostConfig" object: the run options that are not the image's.
type HostConfig struct {
	Binds           []string
	ContainerIDFile string
	LogConfig       struct {
		Type   string
		Config map[string]string
	}
	NetworkMode   string
	PortBindings  map[string]any
	RestartPolicy struct {
		Name              string
		MaximumRetryCount int
	}
	AutoRemove      bool
	VolumeDriver    string
	VolumesFrom     []string
	CapAdd          []string
	CapDrop         []string
	CgroupnsMode    string
	Dns             []string
	DnsOptions      []string
	DnsSearch       []string
	ExtraHosts      []string
	GroupAdd        []string
	IpcMode         string
	Cgroup          string
	Links           []string
	OomScoreAdj     int
	PidMode         string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	Tmpfs           map[string]string `json:",omitempty"`
	UTSMode         string
	UsernsMode      string
	// IDMappings are the --uidmap and --gidmap of a container in a user namespace, in podman's
	// shape ("UidMap": ["0:100000:65536"]); Docker has no such field.
	IDMappings    *IDMappings `json:",omitempty"`
	ShmSize       int64
	Runtime       string
	Isolation     string
	CpuShares     int64
	Memory        int64
	NanoCpus      int64
	CgroupParent  string
	MemorySwap    int64
	PidsLimit     *int64
	Ulimits       []Ulimit
	Init          *bool `json:",omitempty"`
	MaskedPaths   []string
	ReadonlyPaths []string
}

// IDMappings are a user namespace's mappings, CONTAINER_ID:HOST_ID:SIZE each.
type IDMappings struct {
	UidMap []string
	GidMap []string
}

// Ulimit is one --ulimit as Docker shows it.
type Ulimit struct {
	Name       string
	Soft, Hard uint64
}

// MountPoint is one entry of "Mounts".
type MountPoint struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// ContainerConfigInspect is the container's "Config": the image's config with the run options
// applied.
type ContainerConfigInspect struct {
	DockerContainerConfig
	StopTimeout *int `json:",omitempty"`
}

// NetworkSettings is a minimal "NetworkSettings": hako has no bridge networking yet.
type NetworkSettings struct {
	Bridge      string
	SandboxID   string
	HairpinMode bool
	Ports       map[string]any
	SandboxKey  string
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
	Networks    map[string]EndpointSettings
}

// EndpointSettings is one network of a container.
type EndpointSettings struct {
	NetworkID, EndpointID, Gateway, IPAddress string
	IPPrefixLen                               int
	MacAddress                                string
}

// InspectContainer builds Docker's inspect document of a container; with size, it measures the
// writable layer (SizeRw) and the whole filesystem (SizeRootFs), which walks the upper dir.
func (e *Engine) InspectContainer(ctx context.Context, ref string, size bool) (ContainerInspect, error) {
	cs := e.Containers()
	c, err := cs.Get(ref)
	if err != nil {
		return ContainerInspect{}, err
	}
	var out ContainerInspect
	// The image may be gone from the index (rmi -f untags but keeps it): the record still says
	// what it ran.
	_, cfg, _ := e.ResolveImage(ctx, c.Config.ImageID.String())
	dir := cs.Dir(c.ID)
	out.ID = c.ID
	out.Created = c.Created.UTC().Format(time.RFC3339Nano)
	proc := effectiveProcess(c, cfg.Config)
	out.Path, out.Args = c.Path, c.Args
	if out.Path == "" && len(proc.argv) > 0 {
		out.Path, out.Args = proc.argv[0], proc.argv[1:]
	}
	if out.Args == nil {
		out.Args = []string{}
	}
	out.State = c.State
	out.Image = c.Config.ImageID.String()
	out.ResolvConfPath = filepath.Join(dir, "etc", "resolv.conf")
	out.HostnamePath = filepath.Join(dir, "etc", "hostname")
	out.HostsPath = filepath.Join(dir, "etc", "hosts")
	out.LogPath = e.LogPath(c.ID)
	out.Name = "/" + c.Name
	out.RestartCount = c.RestartCount
	out.Driver = e.Snapshotter
	out.Platform = "linux"
	out.HostConfig, out.Mounts = hostConfig(c)
	binds, mps := configMountPoints(c, e.Volumes())
	out.HostConfig.Binds = append(out.HostConfig.Binds, binds...)
	for _, mp := range mps {
		out.Mounts = append(out.Mounts, MountPoint(mp))
	}
	out.GraphDriver.Name = e.Snapshotter
	out.GraphDriver.Data = e.containerGraphData(ctx, c)
	if size {
		if rw, err := e.containerSize(ctx, c); err == nil {
			root := rw + e.imageSize(ctx, cfg)
			out.SizeRw, out.SizeRootFs = &rw, &root
		}
	}
	o := c.Config.Options
	hostname := o.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
	}
	out.Config = ContainerConfigInspect{
		DockerContainerConfig: DockerContainerConfig{
			Hostname: hostname, User: firstNonEmpty(o.User, cfg.Config.User),
			AttachStdin: c.Config.OpenStdin, AttachStdout: true, AttachStderr: true,
			ExposedPorts: cfg.Config.ExposedPorts, Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin,
			Env: proc.env, Cmd: proc.cmd, Image: c.Config.Image, Volumes: cfg.Config.Volumes,
			WorkingDir: firstNonEmpty(o.WorkingDir, cfg.Config.WorkingDir), Entrypoint: proc.entrypoint,
			OnBuild: cfg.Config.OnBuild, Labels: mergeLabels(cfg.Config.Labels, c.Config.Labels),
			StopSignal: firstNonEmpty(c.Config.StopSignal, cfg.Config.StopSignal),
		},
		StopTimeout: c.Config.StopTimeout,
	}
	if out.Config.Labels == nil {
		out.Config.Labels = map[string]string{}
	}
	mode := o.NetworkMode
	if mode == "" {
		mode = "none"
	}
	out.NetworkSettings = NetworkSettings{Ports: map[string]any{}, Networks: map[string]EndpointSettings{mode: {}}}
	return out, nil
}

// process is what a container runs: Docker's ENTRYPOINT/CMD rules over the image's config.
type process struct {
	entrypoint, cmd, argv, env []string
}

func effectiveProcess(c *container.Container, img image.ContainerConfig) process {
	o := c.Config.Options
	var p process
	p.entrypoint, p.cmd = img.Entrypoint, img.Cmd
	if o.Entrypoint != nil {
		// --entrypoint also drops the image's CMD, as Docker does.
		p.entrypoint, p.cmd = *o.Entrypoint, nil
	}
	if len(o.Cmd) > 0 {
		p.cmd = o.Cmd
	}
	p.argv = append(append([]string{}, p.entrypoint...), p.cmd...)
	p.env = append([]string{}, img.Env...)
	for _, kv := range o.Env {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range p.env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				p.env[i], replaced = kv, true
			}
		}
		if !replaced {
			p.env = append(p.env, kv)
		}
	}
	return p
}

// hostConfig rebuilds Docker's HostConfig and Mounts from the recorded run options.
func hostConfig(c *container.Container) (HostConfig, []MountPoint) {
	o := c.Config.Options
	var h HostConfig
	h.Binds = []string{}
	h.LogConfig.Type = "json-file"
	h.LogConfig.Config = map[string]string{}
	for k, v := range c.Config.LogOptions {
		h.LogConfig.Config[k] = v
	}
	h.NetworkMode = firstNonEmpty(o.NetworkMode, "none")
	h.PortBindings = map[string]any{}
	h.RestartPolicy.Name = "no"
	if p := c.Config.RestartPolicy; p.Name != "" {
		h.RestartPolicy.Name, h.RestartPolicy.MaximumRetryCount = p.Name, p.MaximumRetryCount
	}
	h.AutoRemove = c.Config.AutoRemove
	h.CapAdd, h.CapDrop = o.CapAdd, o.CapDrop
	h.CgroupnsMode = "host"
	h.Dns, h.DnsOptions, h.DnsSearch = []string{}, []string{}, []string{}
	h.IpcMode = "private"
	h.Privileged = o.Privileged
	h.ReadonlyRootfs = o.ReadOnly
	if o.NoNewPrivileges {
		h.SecurityOpt = append(h.SecurityOpt, "no-new-privileges")
	}
	if o.Seccomp != "" {
		h.SecurityOpt = append(h.SecurityOpt, "seccomp="+o.Seccomp)
	}
	h.UsernsMode = c.Config.UsernsMode // "host" when --userns=host was given, "" by default, as Docker's
	if o.UserNS {
		h.UsernsMode = "private" // podman's word for --uidmap
		h.IDMappings = &IDMappings{UidMap: spec.FormatIDMappings(o.UIDMappings), GidMap: spec.FormatIDMappings(o.GIDMappings)}
	}
	h.ShmSize = 64 << 20
	h.Runtime = "hako"
	h.Memory = o.Memory
	h.MemorySwap = o.MemorySwap
	if o.Memory > 0 && o.MemorySwap == 0 {
		h.MemorySwap = 2 * o.Memory
	}
	h.NanoCpus = o.NanoCPUs
	h.CgroupParent = o.CgroupParent
	if o.PidsLimit != 0 {
		n := o.PidsLimit
		h.PidsLimit = &n
	}
	for _, u := range o.Ulimits {
		h.Ulimits = append(h.Ulimits, Ulimit{Name: strings.ToLower(strings.TrimPrefix(u.Type, "RLIMIT_")), Soft: u.Soft, Hard: u.Hard})
	}
	if h.Ulimits == nil {
		h.Ulimits = []Ulimit{}
	}
	if o.Init {
		t := true
		h.Init = &t
	}
	mounts := []MountPoint{}
	for _, m := range o.Mounts {
		switch m.Type {
		case "bind":
			ro := hasOpt(m, "ro")
			bind := m.Source + ":" + m.Destination
			mode := ""
			if ro {
				bind, mode = bind+":ro", "ro"
			}
			h.Binds = append(h.Binds, bind)
			mounts = append(mounts, MountPoint{Type: "bind", Source: m.Source, Destination: m.Destination, Mode: mode, RW: !ro, Propagation: "rprivate"})
		case "tmpfs":
			if h.Tmpfs == nil {
				h.Tmpfs = map[string]string{}
			}
			opts := m.Options
			// The CLI puts Docker's tmpfs defaults first; show what the user asked for.
			if len(opts) >= 3 && opts[0] == "nosuid" && opts[1] == "nodev" && opts[2] == "noexec" {
				opts = opts[3:]
			}
			h.Tmpfs[m.Destination] = strings.Join(opts, ",")
		}
	}
	return h, mounts
}

func hasOpt(m specs.Mount, opt string) bool {
	for _, o := range m.Options {
		if o == opt {
			return true
		}
	}
	return false
}

// containerGraphData names the container's layer directories as Docker's overlay2 does.
func (e *Engine) containerGraphData(ctx context.Context, c *container.Container) map[string]string {
	data := map[string]string{"MergedDir": filepath.Join(e.Containers().Dir(c.ID), "rootfs")}
	ms, err := e.Snapshots.Mounts(ctx, c.ID)
	if err != nil || len(ms) == 0 {
		return data
	}
	if ms[0].Type != "overlay" {
		data["UpperDir"] = ms[0].Source
		return data
	}
	for _, o := range ms[0].Options {
		if k, v, ok := cutOpt(o); ok {
			switch k {
			case "lowerdir":
				data["LowerDir"] = v
			case "upperdir":
				data["UpperDir"] = v
			case "workdir":
				data["WorkDir"] = v
			}
		}
	}
	return data
}

func mergeLabels(img, ctr map[string]string) map[string]string {
	if len(img) == 0 && len(ctr) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range img {
		out[k] = v
	}
	for k, v := range ctr {
		out[k] = v
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
