package logs

import (
	"errors"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
)

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		opts    map[string]string
		want    Options
		wantErr string
		class   error
	}{
		{opts: nil, want: Options{MaxSize: 20 << 20, MaxFile: 5}},
		{opts: map[string]string{"max-size": "10m", "max-file": "3"}, want: Options{MaxSize: 10 << 20, MaxFile: 3}},
		{opts: map[string]string{"max-size": "512k"}, want: Options{MaxSize: 512 << 10, MaxFile: 5}},
		{opts: map[string]string{"max-size": "1g", "max-file": "1"}, want: Options{MaxSize: 1 << 30, MaxFile: 1}},
		{opts: map[string]string{"max-size": "1000"}, want: Options{MaxSize: 1000, MaxFile: 5}},
		{opts: map[string]string{"max-size": "-1"}, want: Options{MaxSize: -1, MaxFile: 5}},
		{opts: map[string]string{"compress": "false"}, want: Options{MaxSize: 20 << 20, MaxFile: 5}},
		{opts: map[string]string{"x": "1"}, wantErr: "unknown log opt 'x' for json-file log driver", class: errdefs.ErrInvalidArgument},
		{opts: map[string]string{"max-size": "ten"}, wantErr: `parse log opt max-size="ten": invalid size: 'ten'`, class: errdefs.ErrInvalidArgument},
		{opts: map[string]string{"max-size": "0"}, wantErr: "max-size must be a positive number", class: errdefs.ErrInvalidArgument},
		{opts: map[string]string{"max-file": "0"}, wantErr: "max-file cannot be less than 1", class: errdefs.ErrInvalidArgument},
		{opts: map[string]string{"max-file": "two"}, wantErr: `parse log opt max-file="two": strconv.Atoi: parsing "two": invalid syntax`, class: errdefs.ErrInvalidArgument},
		{opts: map[string]string{"max-size": "-1", "max-file": "3"}, wantErr: "max-file cannot be set when max-size is not set", class: errdefs.ErrInvalidArgument},
		{opts: map[string]string{"compress": "true"}, wantErr: "log opt compress=true is not supported by hako's json-file log driver", class: errdefs.ErrNotImplemented},
	} {
		got, err := ParseOptions(tc.opts)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.class) {
				t.Errorf("ParseOptions(%v) = %v, want error %q (%v)", tc.opts, err, tc.wantErr, tc.class)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseOptions(%v) = %+v, %v, want %+v", tc.opts, got, err, tc.want)
		}
	}
}
