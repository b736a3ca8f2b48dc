package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gofaults/faults"
	"go.yaml.in/yaml/v3"
)

// proxyConfig is a proxy as the API's create, update and populate bodies
// and the config file describe it: Toxiproxy's fields (name, listen,
// upstream, enabled) and the daemon's own, which Toxiproxy's clients never
// send. Absent fields are nil. Capture is the native config's only: the
// API cannot make the daemon write a file.
type proxyConfig struct {
	Name        string    `json:"name" yaml:"name"`
	Listen      *string   `json:"listen" yaml:"listen"`
	Upstream    *string   `json:"upstream" yaml:"upstream"`
	Enabled     *bool     `json:"enabled" yaml:"enabled"`
	Protocol    *string   `json:"protocol" yaml:"protocol"`
	Seed        *int64    `json:"seed" yaml:"seed"`
	DialTimeout *duration `json:"dial_timeout" yaml:"dial_timeout"`
	Behaviors   *[]string `json:"behaviors" yaml:"behaviors"`
	Capture     *string   `json:"-" yaml:"capture"`
}

// nativeConfig is the native YAML config file.
type nativeConfig struct {
	Proxies []proxyConfig `yaml:"proxies"`
}

// duration is a time.Duration written as Go writes one: "2s", "150ms".
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"2s\": %w", err)
	}
	return d.parse(s)
}

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 2s", n.Line)
	}
	if err := d.parse(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (d *duration) parse(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// parseConfig reads a config file's contents: Toxiproxy's (a JSON array,
// the /populate format) or the native YAML (an object with "proxies",
// whose entries may carry a protocol, a seed, a dial timeout, behaviors
// and a capture file, none when absent). Every proxy is checked, behaviors
// parsed included, before any is returned.
func parseConfig(data []byte) ([]spec, error) {
	var pcs []proxyConfig
	if trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &pcs); err != nil {
			return nil, fmt.Errorf("toxiproxy JSON config: %w", err)
		}
	} else {
		var nc nativeConfig
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&nc); err != nil {
			return nil, fmt.Errorf("YAML config: %w", err)
		}
		pcs = nc.Proxies
		for i := range pcs {
			pcs[i].Capture = cmp.Or(pcs[i].Capture, new(""))
		}
	}
	return specsOf(pcs)
}

// specsOf checks pcs as one /populate body or config file: each must have
// a name and an upstream (Toxiproxy's "missing required field: name at
// proxy 2"), names must be unique, and every field must be valid.
func specsOf(pcs []proxyConfig) ([]spec, error) {
	specs := make([]spec, 0, len(pcs))
	seen := make(map[string]bool)
	for i, pc := range pcs {
		switch {
		case pc.Name == "":
			return nil, errorf(http.StatusBadRequest, "missing required field: name at proxy %d", i+1)
		case pc.Upstream == nil || *pc.Upstream == "":
			return nil, errorf(http.StatusBadRequest, "missing required field: upstream at proxy %d", i+1)
		case seen[pc.Name]:
			return nil, errorf(http.StatusBadRequest, "duplicate name %q at proxy %d", pc.Name, i+1)
		}
		seen[pc.Name] = true
		s, err := pc.over(spec{name: pc.Name})
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "%v at proxy %d", err, i+1)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// over returns base with the fields pc gives applied; name is base's.
func (pc *proxyConfig) over(base spec) (spec, error) {
	s := base
	if pc.Listen != nil {
		s.listen = *pc.Listen
	}
	if pc.Upstream != nil {
		s.upstream = *pc.Upstream
	}
	s.enabled = pc.Enabled
	if pc.Protocol != nil || s.protocol == nil {
		var name string
		if pc.Protocol != nil {
			name = *pc.Protocol
		}
		proto, err := protocolNamed(name)
		if err != nil {
			return spec{}, err
		}
		s.protocol = proto
	}
	if pc.Seed != nil {
		s.seed = pc.Seed
	}
	if pc.DialTimeout != nil {
		if *pc.DialTimeout < 0 {
			return spec{}, errorf(http.StatusBadRequest, "dial_timeout %v: must not be negative", time.Duration(*pc.DialTimeout))
		}
		s.dialTimeout = time.Duration(*pc.DialTimeout)
	}
	if pc.Capture != nil {
		s.capture, s.hasCapture = *pc.Capture, true
	}
	if pc.Behaviors != nil {
		bs, err := parseBehaviors(*pc.Behaviors)
		if err != nil {
			return spec{}, err
		}
		s.behaviors, s.hasBehaviors = bs, true
	}
	return s, nil
}

// parseBehaviors parses behavior expressions, such as
// `Latency(100ms).Downstream()`, in the syntax of faults.Behavior.String.
// The error names the expression and where in it the problem is.
func parseBehaviors(exprs []string) ([]faults.Behavior, error) {
	bs := make([]faults.Behavior, 0, len(exprs))
	for i, e := range exprs {
		b, err := faults.ParseBehavior(e)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "behavior %d: %v", i+1, err)
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// loadConfig reads and parses the config file at path.
func loadConfig(path string) ([]spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	specs, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return specs, nil
}
