package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/executor"
)

// logFlags are the logging flags of the long-running commands (head,
// node): --log-format text|json, --log-level debug|info|warn|error, and
// -v for debug.
type logFlags struct {
	format, level string
	verbose       bool
}

func (l *logFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&l.format, "log-format", "text", "log format: text (key=value) or json (one object per line, for log collectors); executors started here log in the same format")
	cmd.Flags().StringVar(&l.level, "log-level", "info", "least severe messages logged: debug, info, warn or error")
	cmd.Flags().BoolVarP(&l.verbose, "verbose", "v", false, "log debug messages (--log-level debug)")
}

// logger returns the logger the flags describe, writing to w, and makes
// the processes this one starts (executors) log in the same format.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", l.level)
	}
	if l.verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.format) {
	case "text":
		os.Setenv(executor.EnvLogFormat, "text")
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		os.Setenv(executor.EnvLogFormat, "json")
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", l.format)
}
