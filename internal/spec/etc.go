package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
)

// EtcFiles describes the /etc/hostname, /etc/hosts and /etc/resolv.conf that a container gets.
type EtcFiles struct {
	Hostname   string
	IP         string   // the container's address, added to /etc/hosts for Hostname; "" for none
	ExtraHosts []string // --add-host NAME:IP
	DNS        []string // --dns; default: the host's non-loopback name servers, else 8.8.8.8/8.8.4.4
	DNSSearch  []string // --dns-search
	DNSOptions []string // --dns-option
	// HostNetwork starts /etc/hosts from the host's and keeps loopback name servers, which
	// --network host can reach.
	HostNetwork bool
	ReadOnly    bool // bind them read-only (--read-only)
	// HostResolvConf and HostHosts are the host files to start from; default /etc/resolv.conf
	// and /etc/hosts. Tests point them elsewhere.
	HostResolvConf, HostHosts string
}

// WriteEtcFiles writes hostname, hosts and resolv.conf into dir (the container's own directory
// in the engine's state) and returns the bind mounts that put them on /etc in the container,
// for Options.Mounts. Like Docker, the files live outside the image, so the container can change
// them without its writable layer recording it.
func WriteEtcFiles(dir string, f EtcFiles) ([]specs.Mount, error) {
	if f.Hostname == "" {
		return nil, errdefs.Invalidf("write etc files: host name is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write etc files: %w", err)
	}
	hosts, err := hostsFile(f)
	if err != nil {
		return nil, err
	}
	resolv, err := resolvConf(f)
	if err != nil {
		return nil, err
	}
	files := []struct {
		name, dest string
		data       []byte
	}{
		{"hostname", "/etc/hostname", []byte(f.Hostname + "\n")},
		{"hosts", "/etc/hosts", hosts},
		{"resolv.conf", "/etc/resolv.conf", resolv},
	}
	var mounts []specs.Mount
	for _, file := range files {
		p := filepath.Join(dir, file.name)
		if err := writeEtcFile(p, file.data); err != nil {
			return nil, fmt.Errorf("write etc files: %w", err)
		}
		opts := []string{"rbind", "rprivate"}
		if f.ReadOnly {
			opts = append(opts, "ro")
		}
		mounts = append(mounts, specs.Mount{Destination: file.dest, Type: "bind", Source: p, Options: opts})
	}
	return mounts, nil
}

// writeEtcFile writes an etc file of a container. The first time (a new container: no file
// there, so no reader of it) it is made in place, which saves a temporary file's rename for
// each of the three on every run's path; a restart's replaces the old one whole (a reader may
// have it open, `cp` say). A first write that a kill interrupts leaves a partial file of a
// container that never ran, which its next start replaces.
func writeEtcFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) // Go opens close-on-exec
	if errors.Is(err, fs.ErrExist) {
		return atomicfile.Replace(path, data, 0o644)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644) // whatever the umask made of it, as Replace's
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func hostsFile(f EtcFiles) ([]byte, error) {
	var b bytes.Buffer
	if f.HostNetwork {
		host := f.HostHosts
		if host == "" {
			host = "/etc/hosts"
		}
		data, err := os.ReadFile(host)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("write etc files: %w", err)
		}
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n" +
			"::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\n" +
			"ff00::0\tip6-mcastprefix\n" +
			"ff02::1\tip6-allnodes\n" +
			"ff02::2\tip6-allrouters\n")
	}
	for _, h := range f.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" {
			return nil, errdefs.Invalidf("invalid add-host %q: want NAME:IP", h)
		}
		if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
			return nil, errdefs.Invalidf("invalid IP address in add-host: %q", ip)
		}
		fmt.Fprintf(&b, "%s\t%s\n", strings.Trim(ip, "[]"), name)
	}
	if f.IP != "" {
		fmt.Fprintf(&b, "%s\t%s\n", f.IP, f.Hostname)
	}
	return b.Bytes(), nil
}

func resolvConf(f EtcFiles) ([]byte, error) {
	host := f.HostResolvConf
	if host == "" {
		host = "/etc/resolv.conf"
	}
	data, err := os.ReadFile(host)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("write etc files: %w", err)
	}
	var servers, search, options []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			addr, err := netip.ParseAddr(fields[1])
			// A loopback server on the host is unreachable from the container's own network.
			if err != nil || (addr.IsLoopback() && !f.HostNetwork) {
				continue
			}
			servers = append(servers, fields[1])
		case "search", "domain":
			search = fields[1:]
		case "options":
			options = append(options, fields[1:]...)
		}
	}
	for _, s := range f.DNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return nil, errdefs.Invalidf("%s is not an ip address", s)
		}
	}
	if len(f.DNS) > 0 {
		servers = f.DNS
	}
	if len(servers) == 0 {
		servers = []string{"8.8.8.8", "8.8.4.4"}
	}
	if len(f.DNSSearch) > 0 {
		search = f.DNSSearch
	}
	if len(f.DNSOptions) > 0 {
		options = f.DNSOptions
	}
	var b bytes.Buffer
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes(), nil
}
