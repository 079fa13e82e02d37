package kubernetes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigFromSettings(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(tmpl, []byte("spec:\n  nodeSelector: {pool: batch}\n  containers: [{name: shoal-node, image: img:2}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{SettingNamespace: "ml", SettingHeadAddress: "shoal-head:7380", SettingTokenSecret: "shoal-token", SettingImage: "img:1"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		settings map[string]string
		want     string // error text; "" for success
		check    func(t *testing.T, cfg Config, kubeconfig string)
	}{
		{name: "defaults", settings: with(), check: func(t *testing.T, cfg Config, kubeconfig string) {
			if cfg.Namespace != "ml" || cfg.Cluster != DefaultCluster || cfg.HeadAddress != "shoal-head:7380" || cfg.TokenSecret != "shoal-token" || cfg.Image != "img:1" || kubeconfig != "" {
				t.Errorf("config %+v kubeconfig %q", cfg, kubeconfig)
			}
		}},
		{name: "everything", settings: with(SettingCluster, "prod", SettingTokenSecretKey, "k", SettingTLSCASecret, "ca",
			SettingCommand, "/bin/shoal --verbose", SettingGPUResource, "amd.com/gpu", SettingKubeconfig, "/home/me/.kube/config",
			SettingPodTemplate, tmpl, SettingPodTemplate+".gpu", tmpl),
			check: func(t *testing.T, cfg Config, kubeconfig string) {
				if cfg.Cluster != "prod" || cfg.TokenSecretKey != "k" || cfg.TLSCASecret != "ca" || strings.Join(cfg.Command, "|") != "/bin/shoal|--verbose" ||
					cfg.GPUResource != "amd.com/gpu" || kubeconfig != "/home/me/.kube/config" {
					t.Errorf("config %+v kubeconfig %q", cfg, kubeconfig)
				}
				if cfg.PodTemplate == nil || cfg.PodTemplate.Spec.NodeSelector["pool"] != "batch" || cfg.TypeTemplates["gpu"] == nil {
					t.Errorf("templates %+v %+v", cfg.PodTemplate, cfg.TypeTemplates)
				}
			}},
		{name: "misspelt key", settings: with("head_adress", "x:1"), want: `unknown setting "head_adress"`},
		{name: "missing template file", settings: with(SettingPodTemplate, filepath.Join(dir, "nope.yaml")), want: "nope.yaml"},
		{name: "bad template", settings: with(SettingPodTemplate+".gpu", filepath.Join(dir)), want: "pod_template.gpu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, kubeconfig, err := ConfigFromSettings(tc.settings)
			if tc.want != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want ErrInvalid mentioning %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg, kubeconfig)
		})
	}
}
