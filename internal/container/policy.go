package container

import (
	"strconv"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
)

// RestartPolicy is Docker's HostConfig.RestartPolicy.
type RestartPolicy struct {
	Name              string // "no", "always", "unless-stopped", "on-failure"
	MaximumRetryCount int    // on-failure:N; 0 is unlimited
}

// ParseRestartPolicy reads --restart: no, always, unless-stopped, on-failure[:N].
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no", "always", "unless-stopped":
		if hasN {
			return p, errdefs.Invalidf("invalid restart policy %q: maximum retry count can only be used with 'on-failure'", s)
		}
		if name == "" {
			p.Name = "no"
		}
	case "on-failure":
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, errdefs.Invalidf("invalid restart policy %q: maximum retry count must be a non-negative number", s)
			}
			p.MaximumRetryCount = v
		}
	default:
		return p, errdefs.Invalidf("invalid restart policy %q (no, always, unless-stopped, on-failure[:max-retries])", s)
	}
	return p, nil
}

// String is the policy as --restart takes it.
func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaximumRetryCount > 0 {
		return p.Name + ":" + strconv.Itoa(p.MaximumRetryCount)
	}
	return p.Name
}

// HealthConfig is a health check: the image's HEALTHCHECK or the --health-* flags.
type HealthConfig struct {
	Test          []string      `json:",omitempty"` // ["CMD", args...], ["CMD-SHELL", cmd] or ["NONE"]
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Health states, as Docker names them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is Docker's State.Health.
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one probe.
type HealthResult struct {
	Start    time.Time
	End      time.Time
	ExitCode int
	Output   string
}

// suffix is what ps adds to "Up 3 seconds".
func (h *Health) suffix() string {
	switch {
	case h == nil:
		return ""
	case h.Status == HealthStarting:
		return " (health: starting)"
	}
	return " (" + h.Status + ")"
}
