package logs

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/docker/go-units"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Options bound the size of a container's log.
type Options struct {
	// MaxSize is the size in bytes at which the current file is rotated. Zero or less means
	// never rotate (Docker's default, not hako's).
	MaxSize int64
	// MaxFile is the number of files kept, the current one included; at least 1. With 1 the
	// current file is replaced by an empty one when it is full.
	MaxFile int
}

// DefaultOptions are used when no --log-opt is given: at most 5 files of 20 MB.
func DefaultOptions() Options {
	return Options{MaxSize: 20 * 1024 * 1024, MaxFile: 5}
}

// ParseOptions reads Docker's --log-opt keys for the json-file driver on top of DefaultOptions:
// max-size (a size with Docker's k, m, g units) and max-file. compress is accepted only as
// false: hako does not compress rotated files.
func ParseOptions(opts map[string]string) (Options, error) {
	o := DefaultOptions()
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error for the same input
	for _, k := range keys {
		v := opts[k]
		switch k {
		case "max-size":
			if v == "-1" {
				o.MaxSize = -1
				continue
			}
			n, err := units.RAMInBytes(v)
			if err != nil {
				return Options{}, errdefs.Invalidf("parse log opt max-size=%q: %v", v, err)
			}
			if n <= 0 {
				return Options{}, errdefs.Invalidf("max-size must be a positive number")
			}
			o.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Options{}, errdefs.Invalidf("parse log opt max-file=%q: %v", v, err)
			}
			if n < 1 {
				return Options{}, errdefs.Invalidf("max-file cannot be less than 1")
			}
			o.MaxFile = n
		case "compress":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Options{}, errdefs.Invalidf("parse log opt compress=%q: %v", v, err)
			}
			if b {
				return Options{}, errdefs.NotImplemented(fmt.Errorf("log opt compress=true is not supported by hako's json-file log driver"))
			}
		default:
			return Options{}, errdefs.Invalidf("unknown log opt '%s' for json-file log driver", k)
		}
	}
	if _, ok := opts["max-file"]; ok && o.MaxSize <= 0 {
		return Options{}, errdefs.Invalidf("max-file cannot be set when max-size is not set")
	}
	return o, nil
}

func (o Options) validate() error {
	if o.MaxFile < 1 {
		return errdefs.Invalidf("max-file cannot be less than 1")
	}
	return nil
}
