package cli

import (
	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/pflag"
)

// registerOpsRunFlags adds run and create's --restart and --health-* flags.
func registerOpsRunFlags(fl *pflag.FlagSet) {
	fl.String("restart", "no", "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)")
	fl.String("health-cmd", "", "Command to run to check health")
	fl.Duration("health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fl.Duration("health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fl.Int("health-retries", 0, "Consecutive failures needed to report unhealthy")
	fl.Duration("health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fl.Duration("health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fl.Bool("no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
}

// opsRunConfig reads them into the container's config.
func opsRunConfig(fl *pflag.FlagSet, c *container.Config) error {
	r, _ := fl.GetString("restart")
	p, err := container.ParseRestartPolicy(r)
	if err != nil {
		return err
	}
	if p.Name != "no" && c.AutoRemove {
		return errdefs.Invalidf("conflicting options: cannot specify both --restart and --rm")
	}
	c.RestartPolicy = p
	hc, err := healthFlags(fl)
	if err != nil {
		return err
	}
	c.Healthcheck = hc
	return nil
}

// healthFlags reads --health-* and --no-healthcheck; nil means the image's HEALTHCHECK.
func healthFlags(fl *pflag.FlagSet) (*container.HealthConfig, error) {
	no, _ := fl.GetBool("no-healthcheck")
	set := false
	for _, n := range []string{"health-cmd", "health-interval", "health-timeout", "health-retries", "health-start-period", "health-start-interval"} {
		set = set || fl.Changed(n)
	}
	if no {
		if set {
			return nil, errdefs.Invalidf("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	h := &container.HealthConfig{}
	if cmd, _ := fl.GetString("health-cmd"); cmd != "" {
		h.Test = []string{"CMD-SHELL", cmd}
	}
	h.Interval, _ = fl.GetDuration("health-interval")
	h.Timeout, _ = fl.GetDuration("health-timeout")
	h.StartPeriod, _ = fl.GetDuration("health-start-period")
	h.StartInterval, _ = fl.GetDuration("health-start-interval")
	h.Retries, _ = fl.GetInt("health-retries")
	for n, d := range map[string]int64{"--health-interval": int64(h.Interval), "--health-timeout": int64(h.Timeout), "--health-start-period": int64(h.StartPeriod), "--health-start-interval": int64(h.StartInterval)} {
		if d < 0 {
			return nil, errdefs.Invalidf("%s cannot be negative", n)
		}
	}
	if h.Retries < 0 {
		return nil, errdefs.Invalidf("--health-retries cannot be negative")
	}
	return h, nil
}
