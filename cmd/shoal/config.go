package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoal-dev/shoal/internal/node"
	"github.com/shoal-dev/shoal/internal/rpc"
)

// Where the commands that talk to a head (status, drain, timeline, job,
// node) find it, first found wins:
//
//  1. the flag (--address; --head for node);
//  2. $SHOAL_ADDRESS (which a submitted job's driver also finds set);
//  3. the config file: $XDG_CONFIG_HOME/shoal/config, else
//     ~/.config/shoal/config;
//  4. 127.0.0.1:7380, where `shoal head` listens by default.
//
// The config file holds "key = value" lines ('#' starts a comment) with the
// keys address, token-file and tls-ca; the token file and CA given there
// come after their flags and environment variables too.
const (
	defaultHeadAddr = "127.0.0.1:7380"
	envAddress      = node.EnvAddress
)

// cliConfig is what the config file says.
type cliConfig struct {
	path      string // "" when there is no file
	address   string
	tokenFile string
	tlsCA     string
}

// configPath is where the config file is looked for.
func configPath() string {
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, "shoal", "config")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "shoal", "config")
}

// loadConfig reads the config file; a missing file is an empty config.
func loadConfig() (cliConfig, error) {
	path := configPath()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) || path == "" {
		return cliConfig{}, nil
	}
	if err != nil {
		return cliConfig{}, err
	}
	defer f.Close()
	cfg := cliConfig{path: path}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		if strings.TrimSpace(text) == "" {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || value == "" {
			return cliConfig{}, fmt.Errorf("%s:%d: want key = value, got %q", path, line, sc.Text())
		}
		switch key {
		case "address":
			cfg.address = value
		case "token-file":
			cfg.tokenFile = expandHome(value)
		case "tls-ca":
			cfg.tlsCA = expandHome(value)
		default:
			return cliConfig{}, fmt.Errorf("%s:%d: unknown key %q (known: address, token-file, tls-ca)", path, line, key)
		}
	}
	if err := sc.Err(); err != nil {
		return cliConfig{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return cfg, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// headTarget is the head a command talks to, and where its address came
// from (for messages).
type headTarget struct {
	addr, from string
	tokenFile  string
	tlsCA      string
}

// resolveHead applies the order above to the flags' values (flagAddr ""
// when the flag was not given; flagName names it in messages).
func resolveHead(flagName, flagAddr string, tf tokenFlags) (headTarget, error) {
	cfg, err := loadConfig()
	if err != nil {
		return headTarget{}, err
	}
	t := headTarget{tokenFile: tf.tokenFile, tlsCA: tf.tlsCA}
	switch {
	case flagAddr != "":
		t.addr, t.from = flagAddr, flagName
	case os.Getenv(envAddress) != "":
		t.addr, t.from = os.Getenv(envAddress), "$"+envAddress
	case cfg.address != "":
		t.addr, t.from = cfg.address, cfg.path
	default:
		t.addr, t.from = defaultHeadAddr, "the default address"
	}
	if t.tokenFile == "" && os.Getenv(rpc.TokenFileEnv) == "" {
		t.tokenFile = cfg.tokenFile
	}
	if t.tlsCA == "" {
		t.tlsCA = cfg.tlsCA
	}
	return t, nil
}
