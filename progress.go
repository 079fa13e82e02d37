package shoal

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress waits until every future is ready (or failed) and, on a
// terminal, shows a progress bar on standard error meanwhile, as Dask's
// progress(): how many are done, how many failed, for how long. Piped or
// redirected, it only waits. It returns ctx's error if ctx ends first;
// the futures' own errors are theirs to report (Get, Err).
func Progress[F interface {
	Awaitable
	Err() error
}](ctx context.Context, futures []F) error {
	var out io.Writer
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		out = os.Stderr
	}
	return progress(ctx, futures, out, 200*time.Millisecond)
}

// progress is Progress writing to out (nil: nowhere), redrawn at most
// every tick.
func progress[F interface {
	Awaitable
	Err() error
}](ctx context.Context, futures []F, out io.Writer, tick time.Duration) error {
	start := time.Now()
	pending := append([]F(nil), futures...)
	failed := 0
	draw := func(final bool) {
		if out == nil {
			return
		}
		done := len(futures) - len(pending)
		const width = 30
		filled := width
		if len(futures) > 0 {
			filled = width * done / len(futures)
		}
		line := fmt.Sprintf("\r[%s%s] %d/%d done", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, len(futures))
		if failed > 0 {
			line += fmt.Sprintf(", %d failed", failed)
		}
		line += fmt.Sprintf(", %s", time.Since(start).Round(100*time.Millisecond))
		if final {
			line += "\n"
		}
		io.WriteString(out, line)
	}
	for len(pending) > 0 {
		draw(false)
		ready, rest, err := Wait(ctx, pending, 1, tick)
		if err != nil {
			draw(true)
			return err
		}
		if len(ready) == 0 {
			continue
		}
		// Everything ready by now counts, not only the first.
		ready2, rest2, err := Wait(ctx, rest, len(rest), 0)
		if err == nil {
			ready, rest = append(ready, ready2...), rest2
		}
		for _, f := range ready {
			if f.Err() != nil {
				failed++
			}
		}
		pending = rest
	}
	draw(true)
	return nil
}
