package main

import (
	"context"
	"io"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// cliBar is the CLI's progress bar for long work (a job's upload, the
// TPC-H queries; `tpch gen` draws one per table with the same library,
// mpb): drawn on a terminal, nothing when w is piped or redirected. A nil
// *cliBar is a bar that draws nothing.
type cliBar struct {
	p   *mpb.Progress
	bar *mpb.Bar
}

// newCLIBar starts a bar of total units named label on w, or returns nil
// when w is not a terminal. bytes counts the units as bytes.
func newCLIBar(ctx context.Context, w io.Writer, label string, total int64, bytes bool) *cliBar {
	if !genIsTerminal(w) {
		return nil
	}
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	counter := decor.CountersNoUnit("%d / %d", decor.WC{W: 14})
	if bytes {
		counter = decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WC{W: 22})
	}
	bar := p.AddBar(total,
		mpb.PrependDecorators(decor.Name(label, decor.WC{W: len(label) + 1, C: decor.DindentRight}), counter),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Elapsed(decor.ET_STYLE_GO, decor.WC{W: 8})),
	)
	return &cliBar{p: p, bar: bar}
}

// set moves the bar to done units.
func (b *cliBar) set(done int64) {
	if b != nil {
		b.bar.SetCurrent(done)
	}
}

// finish completes the bar (ok) or takes it off the screen, and waits
// until it is drawn.
func (b *cliBar) finish(ok bool) {
	if b == nil {
		return
	}
	if ok {
		b.bar.SetTotal(-1, true)
		b.p.Wait()
		return
	}
	b.bar.Abort(true)
	b.p.Wait()
}
