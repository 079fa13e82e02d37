package kubernetes

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestNewValidatesConfig(t *testing.T) {
	withImage := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: ContainerName, Image: testImage}}}}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" for a valid configuration
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "image from the template", mutate: func(c *Config) { c.Image, c.PodTemplate = "", withImage }},
		{name: "image from every type's template", mutate: func(c *Config) {
			c.Image, c.TypeTemplates = "", map[string]*corev1.PodTemplateSpec{"cpu": withImage}
		}},
		{name: "no namespace", mutate: func(c *Config) { c.Namespace = "" }, want: "Config.Namespace (--namespace) is empty"},
		{name: "bad namespace", mutate: func(c *Config) { c.Namespace = "Shoal_NS" }, want: `namespace "Shoal_NS" is not a valid namespace name`},
		{name: "no cluster", mutate: func(c *Config) { c.Cluster = "" }, want: "Config.Cluster (--cluster) is empty"},
		{name: "cluster not a label value", mutate: func(c *Config) { c.Cluster = "my cluster" }, want: `cluster name "my cluster" is not a valid label value`},
		{name: "no head address", mutate: func(c *Config) { c.HeadAddress = "" }, want: "--head-address"},
		{name: "head address without port", mutate: func(c *Config) { c.HeadAddress = "shoal-head" }, want: `head address "shoal-head" is not host:port`},
		{name: "no token Secret", mutate: func(c *Config) { c.TokenSecret = "" }, want: "--token-secret"},
		{name: "bad token Secret name", mutate: func(c *Config) { c.TokenSecret = "Token!" }, want: `token Secret name "Token!" is not valid`},
		{name: "no image anywhere", mutate: func(c *Config) { c.Image = "" }, want: "no image"},
		{name: "a type's template without image", mutate: func(c *Config) {
			c.Image, c.PodTemplate = "", withImage
			c.TypeTemplates = map[string]*corev1.PodTemplateSpec{"gpu": {}}
		}, want: `no image for node type "gpu"`},
		{name: "nil type template", mutate: func(c *Config) { c.TypeTemplates = map[string]*corev1.PodTemplateSpec{"gpu": nil} }, want: `TypeTemplates["gpu"] is nil`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, &sleepRecorder{})
			tc.mutate(&cfg)
			p, err := New(fake.NewClientset(), cfg)
			if tc.want == "" {
				if err != nil || p == nil || p.Name() != "kubernetes" {
					t.Fatalf("New = %v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil, testConfig(t, &sleepRecorder{})); !errors.Is(err, ErrInvalid) {
		t.Errorf("New(nil client) = %v, want ErrInvalid", err)
	}
}
