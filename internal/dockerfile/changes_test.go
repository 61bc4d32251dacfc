package dockerfile

import (
	"errors"
	"reflect"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
)

func TestApplyChanges(t *testing.T) {
	c := image.ContainerConfig{}
	c.Shell = []string{"/bin/bash", "-c"}
	err := ApplyChanges(&c, []string{"CMD echo hi", `ENTRYPOINT ["/init"]`, "ENV A=1 B=2", "EXPOSE 80 53/udp", "LABEL k=v", "VOLUME /data", "USER app", "WORKDIR /w", "STOPSIGNAL SIGINT", "ONBUILD RUN make", "  "})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/bash", "-c", "echo hi"}; !reflect.DeepEqual(c.Cmd, want) {
		t.Errorf("Cmd %q, want %q (the config's SHELL)", c.Cmd, want)
	}
	if want := []string{"/init"}; !reflect.DeepEqual(c.Entrypoint, want) {
		t.Errorf("Entrypoint %q", c.Entrypoint)
	}
	if want := []string{"A=1", "B=2"}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("Env %q", c.Env)
	}
	if _, ok := c.ExposedPorts["80/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("ExposedPorts %v", c.ExposedPorts)
	}
	if c.Labels["k"] != "v" || len(c.Volumes) != 1 || c.User != "app" || c.WorkingDir != "/w" || c.StopSignal != "SIGINT" || len(c.OnBuild) != 1 || c.OnBuild[0] != "RUN make" {
		t.Errorf("config %+v", c)
	}
}

func TestApplyChangesRefused(t *testing.T) {
	for in, want := range map[string]string{
		"RUN true":    `--change "RUN true": RUN is not supported here (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`,
		"COPY a /b":   `--change "COPY a /b": COPY is not supported here (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`,
		"FROM alpine": `--change "FROM alpine": FROM is not supported here (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`,
		"from alpine": `--change "from alpine": FROM is not supported here (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`,
	} {
		err := ApplyChanges(&image.ContainerConfig{}, []string{in})
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", in, err, want)
		}
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v is not an invalid-argument error", in, err)
		}
	}
}
