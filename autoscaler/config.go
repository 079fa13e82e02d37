package autoscaler

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// File is the autoscaler's configuration file (JSON), as `shoal head
// --autoscale FILE` reads it:
//
//	{
//	  "provider": "local",
//	  "idle_timeout": "60s",
//	  "interval": "1s",
//	  "upscaling_speed": 1,
//	  "max_nodes": 8,
//	  "node_types": [
//	    {"name": "cpu2", "resources": {"CPU": 2}, "min": 0, "max": 4},
//	    {"name": "gpu", "resources": {"CPU": 8, "GPU": 1}, "max": 2}
//	  ],
//	  "kubernetes": {"namespace": "shoal", "image": "shoal:latest"}
//	}
type File struct {
	Provider       string            `json:"provider"`
	IdleTimeout    string            `json:"idle_timeout"`
	Interval       string            `json:"interval"`
	DrainDeadline  string            `json:"drain_deadline"`
	UpscalingSpeed float64           `json:"upscaling_speed"`
	MinNodes       int               `json:"min_nodes"`
	MaxNodes       int               `json:"max_nodes"`
	Types          []NodeType        `json:"node_types"`
	Kubernetes     map[string]string `json:"kubernetes,omitempty"`
}

// Settings are a File's values, parsed.
type Settings struct {
	Provider      string
	Config        Config
	Interval      time.Duration
	DrainDeadline time.Duration
	Kubernetes    map[string]string
}

// LoadFile reads and checks an autoscaler configuration file.
func LoadFile(path string) (*Settings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the autoscaler configuration: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("autoscaler configuration %s: %w", path, err)
	}
	s := &Settings{Provider: f.Provider, Kubernetes: f.Kubernetes, Config: Config{Types: f.Types, MinNodes: f.MinNodes, MaxNodes: f.MaxNodes, UpscalingSpeed: f.UpscalingSpeed}}
	if s.Provider == "" {
		s.Provider = "local"
	}
	for _, d := range []struct {
		name, value string
		def         time.Duration
		out         *time.Duration
	}{
		{"idle_timeout", f.IdleTimeout, time.Minute, &s.Config.IdleTimeout},
		{"interval", f.Interval, time.Second, &s.Interval},
		{"drain_deadline", f.DrainDeadline, 30 * time.Second, &s.DrainDeadline},
	} {
		*d.out = d.def
		if d.value != "" {
			v, err := time.ParseDuration(d.value)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("autoscaler configuration %s: %s %q is not a positive duration like \"30s\"", path, d.name, d.value)
			}
			*d.out = v
		}
	}
	if len(f.Types) == 0 {
		return nil, fmt.Errorf("autoscaler configuration %s: no node_types: name at least one, e.g. {\"name\": \"cpu2\", \"resources\": {\"CPU\": 2}, \"max\": 4}", path)
	}
	seen := map[string]bool{}
	for _, t := range f.Types {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("autoscaler configuration %s: a node type has no name", path)
		case seen[t.Name]:
			return nil, fmt.Errorf("autoscaler configuration %s: node type %q is defined twice", path, t.Name)
		case t.Resources["CPU"] <= 0:
			return nil, fmt.Errorf("autoscaler configuration %s: node type %q offers no CPU (resources {\"CPU\": n} with n > 0)", path, t.Name)
		case t.Max > 0 && t.Min > t.Max:
			return nil, fmt.Errorf("autoscaler configuration %s: node type %q has min %d above max %d", path, t.Name, t.Min, t.Max)
		}
		seen[t.Name] = true
	}
	return s, nil
}
