package rpc

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/errs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// batch is a message of the outbox tests: the items it carries.
type batch struct{ items []int }

// runOutbox runs o's sender until ctx ends, handing each message to sent
// after send (which may block or fail), and returns a wait for its end.
func runOutbox(ctx context.Context, o *Outbox[batch], send func(*batch) error) func() error {
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, send) }()
	return func() error { return <-done }
}

func TestOutboxKeepsOrderAndBatchesWhileBusy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := NewOutbox(1<<20, func() *batch { return &batch{} })
	release := make(chan struct{})
	sent := make(chan *batch, 128)
	wait := runOutbox(ctx, o, func(b *batch) error {
		sent <- b
		if len(b.items) > 0 && b.items[0] == 0 {
			<-release // the first send is slow: what comes meanwhile is batched
		}
		return nil
	})
	add := func(i int) {
		if err := o.Add(8, func(b *batch) { b.items = append(b.items, i) }); err != nil {
			t.Fatal(err)
		}
	}
	add(0)
	first := <-sent
	for i := 1; i <= 100; i++ {
		add(i)
	}
	close(release)
	got := []*batch{first}
	timeout := time.After(10 * time.Second)
	for n := len(first.items); n < 101; {
		select {
		case b := <-sent:
			got = append(got, b)
			n += len(b.items)
		case <-timeout:
			t.Fatalf("only %d of 101 items sent", n)
		}
	}
	cancel()
	if err := wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	var all []int
	for _, b := range got {
		all = append(all, b.items...)
	}
	for i, v := range all {
		if v != i {
			t.Fatalf("item %d is %d: order lost (%v)", i, v, all)
		}
	}
	if len(got) != 2 || len(got[1].items) != 100 {
		t.Fatalf("items added during a send were not batched into one message: %d messages", len(got))
	}
}

func TestOutboxSplitsAtMaxBytes(t *testing.T) {
	tests := []struct {
		name             string
		maxBytes, size   int
		items, wantBatch int
	}{
		{"each fits four", 40, 10, 12, 3},
		{"one per message", 10, 10, 5, 5},
		{"oversized items still go, one each", 10, 25, 3, 3},
		{"all in one", 1000, 10, 50, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOutbox(tt.maxBytes, func() *batch { return &batch{} })
			for i := range tt.items {
				o.Add(tt.size, func(b *batch) { b.items = append(b.items, i) })
			}
			ctx, cancel := context.WithCancel(context.Background())
			var got []*batch
			sent := 0
			wait := runOutbox(ctx, o, func(b *batch) error {
				got = append(got, b)
				if sent += len(b.items); sent == tt.items {
					cancel()
				}
				return nil
			})
			wait()
			if len(got) != tt.wantBatch {
				t.Fatalf("%d messages, want %d", len(got), tt.wantBatch)
			}
			next := 0
			for _, b := range got {
				if len(b.items)*tt.size > tt.maxBytes && len(b.items) > 1 {
					t.Fatalf("a message of %d items of %d bytes exceeds %d", len(b.items), tt.size, tt.maxBytes)
				}
				for _, v := range b.items {
					if v != next {
						t.Fatalf("item %d out of order", v)
					}
					next++
				}
			}
		})
	}
}

func TestOutboxStopsOnSendError(t *testing.T) {
	o := NewOutbox(100, func() *batch { return &batch{} })
	boom := errors.New("stream broke")
	o.Add(1, func(b *batch) { b.items = append(b.items, 1) })
	wait := runOutbox(context.Background(), o, func(*batch) error { return boom })
	if err := wait(); !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want the send's error", err)
	}
	if err := o.Add(1, func(*batch) { t.Fatal("fill called after the outbox stopped") }); !errors.Is(err, boom) {
		t.Fatalf("Add after a failed send returned %v, want the send's error", err)
	}
	o.Stop(errors.New("later")) // the first error stays
	if err := o.Add(1, func(*batch) {}); !errors.Is(err, boom) {
		t.Fatalf("Add returned %v after a second Stop, want the first error", err)
	}
}

func TestOutboxConcurrentAdders(t *testing.T) {
	const adders, each = 8, 500
	o := NewOutbox(256, func() *batch { return &batch{} })
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(map[int]int)
	last := make([]int, adders) // per adder, the last item sent
	for a := range last {
		last[a] = -1
	}
	total := 0
	wait := runOutbox(ctx, o, func(b *batch) error {
		for _, v := range b.items {
			seen[v]++
			if a := v / each; v <= last[a] {
				t.Errorf("item %d of adder %d sent after %d", v, a, last[a])
			} else {
				last[a] = v
			}
		}
		if total += len(b.items); total == adders*each {
			cancel()
		}
		return nil
	})
	var wg sync.WaitGroup
	for a := range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v := a*each + i
				o.Add(16, func(b *batch) { b.items = append(b.items, v) })
			}
		}()
	}
	wg.Wait()
	wait()
	if len(seen) != adders*each {
		t.Fatalf("%d distinct items sent, want %d", len(seen), adders*each)
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("item %d sent %d times", v, n)
		}
	}
}

func TestPipe(t *testing.T) {
	p := NewPipe[string, int](context.Background())
	cli, srv := p.Client(), p.Server()
	for _, s := range []string{"a", "b", "c"} {
		if err := cli.Send(&s); err != nil {
			t.Fatal(err)
		}
	}
	cli.CloseSend()
	var got []string
	for {
		m, err := srv.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *m)
	}
	if strings.Join(got, "") != "abc" {
		t.Fatalf("server received %v", got)
	}
	if err := cli.Send(new(string)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Send after CloseSend: %v", err)
	}
	v := 7
	if err := srv.Send(&v); err != nil {
		t.Fatal(err)
	}
	handlerErr := errors.New("handler failed")
	p.Finish(handlerErr)
	if m, err := cli.Recv(); err != nil || *m != 7 {
		t.Fatalf("client lost a reply sent before Finish: %v %v", m, err)
	}
	if _, err := cli.Recv(); !errors.Is(err, handlerErr) {
		t.Fatalf("client Recv after Finish: %v, want the handler's error", err)
	}
	if err := p.ctx.Err(); err == nil {
		t.Fatal("the pipe's context is still live after Finish")
	}
}

func TestPipeCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := NewPipe[int, int](ctx)
	done := make(chan error, 1)
	go func() {
		_, err := p.Server().Recv()
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a blocked Recv returned %v when the context ended", err)
	}
}

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sub", "token")
	tok := NewToken()
	if len(tok) != 64 || tok == NewToken() {
		t.Fatalf("NewToken gave %q (want 64 hex digits, fresh each time)", tok)
	}
	if err := WriteTokenFile(file, tok); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv(TokenEnv, "")
	tests := []struct {
		name, explicit, env, file string
		want, wantErr             string
	}{
		{"explicit wins", "x", "y", file, "x", ""},
		{"environment next", "", "y", file, "y", ""},
		{"then the file", "", "", file, tok, ""},
		{"missing file says what to do", "", "", filepath.Join(dir, "none"), "", "no token given and no token file"},
		{"empty file", "", "", empty, "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(TokenEnv, tt.env)
			got, err := ResolveToken(tt.explicit, tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errs.ErrUnauthenticated) {
					t.Fatalf("ResolveToken: %q, %v; want an unauthenticated error saying %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
