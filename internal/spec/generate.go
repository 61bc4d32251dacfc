package spec

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

// DefaultPathEnv is the PATH a container gets when its image sets none (Docker's value).
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// RootfsPath is the bundle-relative path of the root filesystem in every generated spec.
const RootfsPath = "rootfs"

// InitPath is where the --init binary is bind-mounted inside the container (Docker's path).
const InitPath = "/sbin/docker-init"

// Options are the `hako run` flags that shape the spec. The zero value, with an ID, is
// `docker run IMAGE`.
type Options struct {
	ID       string
	Hostname string // default: the first 12 characters of ID

	// Entrypoint replaces the image's ENTRYPOINT when not nil; an empty slice means none.
	// Setting it also drops the image's CMD, as `docker run --entrypoint` does.
	Entrypoint *[]string
	Cmd        []string // replaces the image's CMD when not empty
	Env        []string // -e KEY=VALUE, applied over the image's ENV
	User       string   // replaces the image's USER when not empty
	WorkingDir string   // replaces the image's WORKDIR when not empty; must be absolute

	// Rootfs is the host path of the prepared root filesystem. Generate reads the container's
	// /etc/passwd and /etc/group there (see ResolveUser) to resolve a USER given by name. When
	// empty, USER must be numeric (uid or uid:gid).
	Rootfs string

	Tty       bool
	OpenStdin bool

	// Init runs InitBinary (tini or docker-init, a host path) as PID 1 in front of the command.
	Init       bool
	InitBinary string

	CapAdd, CapDrop []string // "NET_ADMIN", "CAP_NET_ADMIN" or "ALL"
	Privileged      bool
	NoNewPrivileges bool
	ReadOnly        bool
	Seccomp         string // "" for Docker's default profile, "unconfined", or a JSON profile file

	Memory     int64 // bytes; 0 is unlimited
	MemorySwap int64 // memory+swap in bytes; 0 is twice Memory (Docker's default), -1 unlimited
	NanoCPUs   int64 // 1e9 is one CPU
	PidsLimit  int64 // 0 or less is unlimited
	Ulimits    []specs.POSIXRlimit

	// NetworkMode is "none" (the default: a network namespace with only loopback) or "host".
	NetworkMode string
	// NetNSPath joins an existing network namespace (made by the network package for a bridge)
	// instead of creating one; it wins over NetworkMode.
	NetNSPath string

	// UserNS runs the container in a new user namespace with these mappings, which are then
	// required (see CheckIDMappings). The rootfs must show the mapped IDs: the engine mounts
	// the image's layers idmapped (mount.IDMapOptions); a plain rootfs must be owned by them.
	UserNS      bool
	UIDMappings []specs.LinuxIDMapping
	GIDMappings []specs.LinuxIDMapping

	// Mounts are binds, tmpfs and volumes already resolved by the engine, including the ones
	// from WriteEtcFiles. A mount on a default destination (/dev/shm, say) replaces the default.
	Mounts []specs.Mount

	CgroupParent string // default "/hako"
}

// Generate returns the spec Docker would give a container of this image and these options.
// Errors are errdefs.ErrInvalidArgument for bad options.
func Generate(img ocispec.ImageConfig, opts Options) (*specs.Spec, error) {
	if opts.ID == "" {
		return nil, errdefs.Invalidf("generate spec: container ID is empty")
	}
	args, err := resolveArgs(img, opts)
	if err != nil {
		return nil, err
	}
	if opts.Init {
		if opts.InitBinary == "" {
			return nil, errdefs.Invalidf("generate spec: --init needs an init binary (tini or docker-init) on the host")
		}
		args = append([]string{InitPath, "--"}, args...)
	}
	cwd := opts.WorkingDir
	if cwd == "" {
		cwd = img.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, errdefs.Invalidf("the working directory '%s' is invalid, it needs to be an absolute path", cwd)
	}
	hostname, err := hostname(opts)
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: RootfsPath, Readonly: opts.ReadOnly},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal:        opts.Tty,
			Args:            args,
			Env:             env(img, opts, hostname),
			Cwd:             path.Clean(cwd),
			NoNewPrivileges: opts.NoNewPrivileges,
			Rlimits:         slices.Clone(opts.Ulimits),
		},
		Mounts: defaultMounts(opts),
		Linux: &specs.Linux{
			CgroupsPath: CgroupsPath(opts),
			Resources:   resources(opts),
		},
	}
	if s.Process.User, err = processUser(img, opts); err != nil {
		return nil, err
	}

	caps, err := tweakCapabilities(defaultCapabilities(), opts.CapAdd, opts.CapDrop, opts.Privileged)
	if err != nil {
		return nil, err
	}
	s.Process.Capabilities = capabilitySets(caps)

	if err := namespaces(s, opts); err != nil {
		return nil, err
	}
	if opts.Privileged {
		devs, err := hostDevices()
		if err != nil {
			return nil, fmt.Errorf("generate spec: list host devices for --privileged: %w", err)
		}
		s.Linux.Devices = devs
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		s.Linux.MaskedPaths = slices.Clone(maskedPaths)
		s.Linux.ReadonlyPaths = slices.Clone(readonlyPaths)
	}
	if s.Linux.Seccomp, err = seccompProfile(s, opts); err != nil {
		return nil, err
	}

	user := slices.Clone(opts.Mounts)
	if opts.Init {
		user = append(user, specs.Mount{
			Destination: InitPath, Type: "bind", Source: opts.InitBinary,
			Options: []string{"bind", "ro"},
		})
	}
	s.Mounts = mergeMounts(s.Mounts, user)
	return s, nil
}

// resolveArgs applies Docker's ENTRYPOINT/CMD rules. Shell forms are already
// ["/bin/sh", "-c", "..."] in an image config.
func resolveArgs(img ocispec.ImageConfig, opts Options) ([]string, error) {
	var entrypoint, cmd []string
	if opts.Entrypoint != nil {
		entrypoint = *opts.Entrypoint
		cmd = opts.Cmd
	} else {
		entrypoint = img.Entrypoint
		cmd = img.Cmd
		if len(opts.Cmd) > 0 {
			cmd = opts.Cmd
		}
	}
	args := append(slices.Clone(entrypoint), cmd...)
	if len(args) == 0 || args[0] == "" {
		return nil, errdefs.Invalidf("no command specified")
	}
	return args, nil
}

func hostname(opts Options) (string, error) {
	if opts.Hostname != "" {
		return opts.Hostname, nil
	}
	if opts.NetworkMode == "host" && opts.NetNSPath == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("generate spec: host name for --network host: %w", err)
		}
		return h, nil
	}
	if len(opts.ID) > 12 {
		return opts.ID[:12], nil
	}
	return opts.ID, nil
}

// env builds the environment in Docker's order: PATH, HOSTNAME, TERM, then the image's ENV and
// -e values, each later KEY replacing an earlier one in place.
func env(img ocispec.ImageConfig, opts Options, hostname string) []string {
	out := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if opts.Tty {
		out = append(out, "TERM=xterm")
	}
	index := map[string]int{"PATH": 0, "HOSTNAME": 1}
	if opts.Tty {
		index["TERM"] = 2
	}
	for _, kv := range slices.Concat(img.Env, opts.Env) {
		key, _, _ := strings.Cut(kv, "=")
		if i, ok := index[key]; ok {
			out[i] = kv
			continue
		}
		index[key] = len(out)
		out = append(out, kv)
	}
	return out
}

func processUser(img ocispec.ImageConfig, opts Options) (specs.User, error) {
	u := opts.User
	if u == "" {
		u = img.User
	}
	if opts.Rootfs != "" {
		return ResolveUser(opts.Rootfs, u)
	}
	return resolveUser(u, nil, nil)
}

// CgroupsPath is the spec's cgroups path for opts: /hako/ID, or under opts.CgroupParent.
func CgroupsPath(opts Options) string {
	parent := opts.CgroupParent
	if parent == "" {
		parent = "/hako"
	}
	return path.Join("/", parent, opts.ID)
}

// NewNetworkNamespace tells whether the container gets a network namespace made for it, with
// only its loopback: network "none" (the default), not one joined by path.
func (o Options) NewNetworkNamespace() bool {
	return o.NetNSPath == "" && (o.NetworkMode == "" || o.NetworkMode == "none")
}

func namespaces(s *specs.Spec, opts Options) error {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	switch {
	case opts.NetNSPath != "":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: opts.NetNSPath})
	case opts.NewNetworkNamespace():
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	case opts.NetworkMode == "host":
	default:
		return errdefs.NotImplemented(fmt.Errorf("generate spec: network mode %q", opts.NetworkMode))
	}
	ns = append(ns,
		specs.LinuxNamespace{Type: specs.UTSNamespace},
		specs.LinuxNamespace{Type: specs.PIDNamespace},
		specs.LinuxNamespace{Type: specs.IPCNamespace},
	)
	if opts.NetworkMode != "host" || opts.NetNSPath != "" {
		// Docker 20.10+ lets unprivileged users of a container's own network bind low ports
		// and ping.
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_unprivileged_port_start": "0",
			"net.ipv4.ping_group_range":           "0 2147483647",
		}
	}
	if opts.UserNS {
		if len(opts.UIDMappings) == 0 || len(opts.GIDMappings) == 0 {
			return errdefs.Invalidf("generate spec: a user namespace needs uid and gid mappings")
		}
		if err := CheckIDMappings("uid mappings", opts.UIDMappings); err != nil {
			return err
		}
		if err := CheckIDMappings("gid mappings", opts.GIDMappings); err != nil {
			return err
		}
		ns = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = slices.Clone(opts.UIDMappings)
		s.Linux.GIDMappings = slices.Clone(opts.GIDMappings)
		if s.Linux.Sysctl != nil {
			// The kernel takes only gids mapped in the namespace's user namespace.
			var top uint32
			for _, m := range opts.GIDMappings {
				top = max(top, m.ContainerID+m.Size-1)
			}
			s.Linux.Sysctl["net.ipv4.ping_group_range"] = fmt.Sprintf("0 %d", top)
		}
	}
	s.Linux.Namespaces = ns
	return nil
}

func resources(opts Options) *specs.LinuxResources {
	r := &specs.LinuxResources{Devices: defaultDeviceRules()}
	if opts.Memory > 0 {
		mem := &specs.LinuxMemory{Limit: &opts.Memory}
		switch swap := opts.MemorySwap; {
		case swap == 0:
			swap = 2 * opts.Memory
			mem.Swap = &swap
		case swap > 0 || swap == -1:
			mem.Swap = &swap
		}
		r.Memory = mem
	}
	if opts.NanoCPUs > 0 {
		period := uint64(100000)
		quota := opts.NanoCPUs * int64(period) / 1e9
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if opts.PidsLimit > 0 {
		limit := opts.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return r
}

// mergeMounts appends the user's mounts to the defaults, dropping a default whose destination
// a user mount takes (Docker lets --tmpfs /dev/shm or -v x:/dev/shm replace the default).
func mergeMounts(defaults, user []specs.Mount) []specs.Mount {
	taken := make(map[string]bool, len(user))
	for _, m := range user {
		taken[path.Clean(m.Destination)] = true
	}
	out := make([]specs.Mount, 0, len(defaults)+len(user))
	for _, m := range defaults {
		if !taken[m.Destination] {
			out = append(out, m)
		}
	}
	return append(out, user...)
}
