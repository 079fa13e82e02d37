package kubernetes

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the "kubernetes" object in the autoscaler's configuration file
// (autoscaler.File.Kubernetes), read by ConfigFromSettings.
const (
	SettingNamespace      = "namespace"        // default: the head pod's namespace
	SettingCluster        = "cluster"          // default: "shoal"
	SettingHeadAddress    = "head_address"     // required, e.g. "shoal-head:7380"
	SettingTokenSecret    = "token_secret"     // required
	SettingTokenSecretKey = "token_secret_key" // default: "token"
	SettingTLSCASecret    = "tls_ca_secret"    // optional
	SettingImage          = "image"            // required unless the template names one
	SettingCommand        = "command"          // default: "shoal" (split on spaces)
	SettingPodTemplate    = "pod_template"     // a file: PodTemplate, Pod or PodTemplateSpec (YAML or JSON)
	SettingGPUResource    = "gpu_resource"     // default: "nvidia.com/gpu"
	SettingKubeconfig     = "kubeconfig"       // default: in-cluster credentials
	// SettingPodTemplate + "." + a node type's name: that type's template.
)

// DefaultCluster is the cluster name when the settings give none (the local
// provider's too).
const DefaultCluster = "shoal"

// ConfigFromSettings turns the "kubernetes" object of the autoscaler's
// configuration file into a Config (pod templates read from their files)
// and the kubeconfig path to connect with ("" in a pod). An unknown key is
// an error, so a misspelt setting is not silently ignored.
func ConfigFromSettings(settings map[string]string) (Config, string, error) {
	known := []string{SettingNamespace, SettingCluster, SettingHeadAddress, SettingTokenSecret, SettingTokenSecretKey,
		SettingTLSCASecret, SettingImage, SettingCommand, SettingPodTemplate, SettingGPUResource, SettingKubeconfig}
	cfg := Config{
		Namespace:      settings[SettingNamespace],
		Cluster:        settings[SettingCluster],
		HeadAddress:    settings[SettingHeadAddress],
		TokenSecret:    settings[SettingTokenSecret],
		TokenSecretKey: settings[SettingTokenSecretKey],
		TLSCASecret:    settings[SettingTLSCASecret],
		Image:          settings[SettingImage],
		Command:        strings.Fields(settings[SettingCommand]),
		GPUResource:    corev1.ResourceName(settings[SettingGPUResource]),
	}
	bad := func(format string, args ...any) error {
		return invalidConfig("reading the autoscaler's kubernetes settings", cfg.Namespace, "", format, args...)
	}
	for key, value := range settings {
		if typ, ok := strings.CutPrefix(key, SettingPodTemplate+"."); ok && typ != "" {
			tmpl, err := readPodTemplate(value)
			if err != nil {
				return Config{}, "", bad("%s: %v", key, err)
			}
			if cfg.TypeTemplates == nil {
				cfg.TypeTemplates = map[string]*corev1.PodTemplateSpec{}
			}
			cfg.TypeTemplates[typ] = tmpl
			continue
		}
		if !slices.Contains(known, key) {
			slices.Sort(known)
			return Config{}, "", bad("unknown setting %q (known: %s, and %s.<node type>)", key, strings.Join(known, ", "), SettingPodTemplate)
		}
	}
	if path := settings[SettingPodTemplate]; path != "" {
		tmpl, err := readPodTemplate(path)
		if err != nil {
			return Config{}, "", bad("%s: %v", SettingPodTemplate, err)
		}
		cfg.PodTemplate = tmpl
	}
	if cfg.Namespace == "" {
		cfg.Namespace = InClusterNamespace()
		if cfg.Namespace == "" {
			return Config{}, "", bad("no %q setting and not running in a pod: name the namespace for the worker pods", SettingNamespace)
		}
	}
	if cfg.Cluster == "" {
		cfg.Cluster = DefaultCluster
	}
	return cfg, settings[SettingKubeconfig], nil
}

// NewFromSettings is ConfigFromSettings, NewClient and New in one: the
// provider `shoal head --autoscale FILE` runs for "provider": "kubernetes".
func NewFromSettings(settings map[string]string, logger *slog.Logger) (*Provider, error) {
	cfg, kubeconfig, err := ConfigFromSettings(settings)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	client, err := NewClient(kubeconfig)
	if err != nil {
		return nil, err
	}
	return New(client, cfg)
}

func readPodTemplate(path string) (*corev1.PodTemplateSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the pod template: %w", err)
	}
	tmpl, err := ParsePodTemplate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tmpl, nil
}
