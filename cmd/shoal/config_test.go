package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/rpc"
)

// writeConfig writes a config file under a fresh $XDG_CONFIG_HOME.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if text == "" {
		return ""
	}
	path := filepath.Join(dir, "shoal", "config")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHeadAddressPrecedence(t *testing.T) {
	const config = "# my cluster\naddress = 10.0.0.3:7380  # the file's\ntoken-file = /etc/shoal/token\ntls-ca = ~/ca.pem\n"
	tests := []struct {
		name, config, env, flag string
		want, from              string
	}{
		{name: "nothing set", want: defaultHeadAddr, from: "the default address"},
		{name: "file", config: config, want: "10.0.0.3:7380", from: "config"},
		{name: "env over file", config: config, env: "10.0.0.2:7380", want: "10.0.0.2:7380", from: "$SHOAL_ADDRESS"},
		{name: "flag over env and file", config: config, env: "10.0.0.2:7380", flag: "10.0.0.1:7380", want: "10.0.0.1:7380", from: "--address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.config)
			t.Setenv(envAddress, tc.env)
			t.Setenv(rpc.TokenFileEnv, "")
			got, err := resolveHead("--address", tc.flag, tokenFlags{})
			if err != nil {
				t.Fatal(err)
			}
			from := tc.from
			if from == "config" {
				from = path
			}
			if got.addr != tc.want || got.from != from {
				t.Fatalf("address %s from %s; want %s from %s", got.addr, got.from, tc.want, from)
			}
			if tc.config != "" && (got.tokenFile != "/etc/shoal/token" || !strings.HasSuffix(got.tlsCA, "/ca.pem") || strings.HasPrefix(got.tlsCA, "~")) {
				t.Fatalf("token file %q, TLS CA %q: the file's were not taken", got.tokenFile, got.tlsCA)
			}
		})
	}
	// Flags and $SHOAL_TOKEN_FILE come before the file's token file and CA.
	writeConfig(t, config)
	t.Setenv(rpc.TokenFileEnv, "/run/token")
	got, err := resolveHead("--address", "", tokenFlags{tlsCA: "/flag/ca.pem"})
	if err != nil || got.tokenFile != "" || got.tlsCA != "/flag/ca.pem" {
		t.Fatalf("got %+v, %v; want no token file (rpc.ResolveToken reads $SHOAL_TOKEN_FILE) and the flag's CA", got, err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for text, want := range map[string]string{
		"adress = 10.0.0.1:7380\n": `unknown key "adress"`,
		"address 10.0.0.1:7380\n":  "want key = value",
		"address =\n":              "want key = value",
	} {
		path := writeConfig(t, text)
		_, err := resolveHead("--address", "", tokenFlags{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path+":1") {
			t.Errorf("config %q: got %v; want an error at %s:1 saying %q", text, err, path, want)
		}
	}
}

func TestErrorLineHasOnePrefix(t *testing.T) {
	for _, err := range []error{errors.New("shoal: head unreachable: x"), errors.New("joining: x")} {
		if line := errorLine(err); strings.Count(line, "shoal: ") != 1 || !strings.HasPrefix(line, "shoal: ") {
			t.Errorf("errorLine(%q) = %q", err, line)
		}
	}
}
