package shoal

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeFuture struct {
	done chan struct{}
	err  error
}

func (f *fakeFuture) Done() <-chan struct{} { return f.done }
func (f *fakeFuture) Err() error            { return f.err }

// Progress draws how many futures are done and failed, ends its line when
// all are, and returns ctx's error when ctx ends first.
func TestProgress(t *testing.T) {
	futs := make([]*fakeFuture, 10)
	for i := range futs {
		futs[i] = &fakeFuture{done: make(chan struct{})}
		if i%4 == 0 {
			futs[i].err = errors.New("boom")
		}
	}
	go func() {
		for _, f := range futs {
			time.Sleep(2 * time.Millisecond)
			close(f.done)
		}
	}()
	var out bytes.Buffer
	if err := progress(context.Background(), futs, &out, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\r")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "[##############################] 10/10 done, 3 failed, ") || !strings.HasSuffix(last, "\n") {
		t.Fatalf("last line %q", last)
	}
	if len(lines) < 3 {
		t.Errorf("drawn %d times for 10 futures ready one by one", len(lines)-1)
	}

	stuck := []*fakeFuture{{done: make(chan struct{})}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	out.Reset()
	if err := progress(ctx, stuck, &out, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	if !strings.Contains(out.String(), "0/1 done") {
		t.Errorf("output %q", out.String())
	}
	if err := progress(context.Background(), []*fakeFuture{}, nil, time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
