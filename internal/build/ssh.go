package build

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/hako-dev/hako/internal/errdefs"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSH is one `--ssh`: an agent socket, or private key files that an agent in this process
// serves.
type SSH struct {
	ID    string
	Paths []string
}

// ParseSSH reads a --ssh value as buildx does: `default`, `ID`, or `ID=PATH[,PATH...]`. Without
// paths the agent is the caller's, $SSH_AUTH_SOCK.
func ParseSSH(v string, lookupEnv func(string) (string, bool)) (SSH, error) {
	id, rest, hasPaths := strings.Cut(v, "=")
	if id == "" {
		return SSH{}, errdefs.Invalidf("invalid --ssh %q: an id is required (default, or ID=PATH)", v)
	}
	s := SSH{ID: id}
	if hasPaths {
		for _, p := range strings.Split(rest, ",") {
			if p != "" {
				s.Paths = append(s.Paths, p)
			}
		}
	}
	if len(s.Paths) == 0 {
		sock, ok := lookupEnv("SSH_AUTH_SOCK")
		if !ok || sock == "" {
			return SSH{}, errdefs.Invalidf("--ssh %s: SSH_AUTH_SOCK is not set: start an agent or give a socket or key file (--ssh %s=PATH)", v, id)
		}
		s.Paths = []string{sock}
	}
	for _, p := range s.Paths {
		if _, err := os.Stat(p); err != nil {
			return SSH{}, errdefs.Invalidf("--ssh %s: %v", id, err)
		}
	}
	return s, nil
}

// SSHAgent is what an ssh mount's socket answers: the caller's agent, forwarded, or a keyring
// of the key files.
type SSHAgent struct {
	ID      string
	socket  string
	keyring agent.Agent
}

// NewSSHAgent checks s: one path that is a socket is an agent to forward; otherwise every path
// must be an unencrypted private key file.
func NewSSHAgent(s SSH) (*SSHAgent, error) {
	a := &SSHAgent{ID: s.ID}
	if len(s.Paths) == 1 {
		if fi, err := os.Stat(s.Paths[0]); err == nil && fi.Mode().Type() == os.ModeSocket {
			a.socket = s.Paths[0]
			return a, nil
		}
	}
	kr := agent.NewKeyring()
	for _, p := range s.Paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", s.ID, err)
		}
		if fi.Mode().Type() == os.ModeSocket {
			return nil, errdefs.Invalidf("--ssh %s: %s is a socket: give one agent socket, or key files", s.ID, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", s.ID, err)
		}
		key, err := ssh.ParseRawPrivateKey(b)
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, errdefs.Invalidf("--ssh %s: %s is encrypted: add it to an agent and give the agent's socket", s.ID, p)
		}
		if err != nil {
			return nil, errdefs.Invalidf("--ssh %s: %s: %v", s.ID, p, err)
		}
		if err := kr.Add(agent.AddedKey{PrivateKey: key}); err != nil {
			return nil, fmt.Errorf("--ssh %s: %s: %w", s.ID, p, err)
		}
	}
	a.keyring = kr
	return a, nil
}

// Serve listens on a new unix socket at sockPath (owned by uid:gid, with mode) and answers
// every connection with the agent until stop. The socket exists only between the two: one RUN.
func (a *SSHAgent) Serve(sockPath string, uid, gid int, mode os.FileMode) (stop func(), err error) {
	l, err := net.Listen("unix", sockPath)
	if err != nil {
		return nil, fmt.Errorf("ssh agent %s: %w", a.ID, err)
	}
	if err := os.Chown(sockPath, uid, gid); err == nil {
		err = os.Chmod(sockPath, mode)
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("ssh agent %s: %w", a.ID, err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer track(c, false)
				defer c.Close()
				a.serveConn(c)
			}()
		}
	}()
	return func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
		os.Remove(sockPath)
	}, nil
}

func (a *SSHAgent) serveConn(c net.Conn) {
	if a.keyring != nil {
		agent.ServeAgent(a.keyring, c)
		return
	}
	up, err := net.Dial("unix", a.socket)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}
