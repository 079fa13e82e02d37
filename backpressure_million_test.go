package shoal_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

var bpTiny = shoal.Func1("test.bp_tiny", func(_ context.Context, i int) (int, error) { return i, nil })

// TestMillionTasksHeadMemory submits 1,000,000 tiny tasks from one driver
// to a multi-process cluster whose first node joins only once submission
// stopped (at the bound) or ended (with none), the worst case of a cluster
// slower than its driver, and checks that the head process's peak resident
// memory (VmHWM) stays under 500 MB. SHOAL_MILLION=held keeps every future
// until the end (the head then keeps every finished result for its owner
// too); SHOAL_MILLION=dropped releases each future at once (fire and
// forget). It takes a minute or more: off unless SHOAL_MILLION is set.
func TestMillionTasksHeadMemory(t *testing.T) {
	mode := os.Getenv("SHOAL_MILLION")
	if testing.Short() || mode == "" {
		t.Skip("set SHOAL_MILLION=held or SHOAL_MILLION=dropped to submit 1,000,000 tasks")
	}
	n := 1_000_000
	if s := os.Getenv("SHOAL_MILLION_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	c := startCluster(t, 0)
	ctx := within(t, connect(t, c), 20*time.Minute)
	pid := c.Head.Pid()
	idle := procStatusKB(t, pid, "VmRSS")
	start := time.Now()
	var submitted atomic.Int64
	futs := make(chan []*shoal.Future[int], 1)
	go func() {
		var held []*shoal.Future[int]
		for i := range n {
			f := bpTiny.Remote(ctx, i)
			if mode == "held" {
				held = append(held, f)
			} else {
				f.Release()
			}
			submitted.Add(1)
		}
		futs <- held
	}()
	// The node joins once submission ended or made no progress for 2 s.
	for last, since := int64(-1), time.Now(); submitted.Load() < int64(n); time.Sleep(100 * time.Millisecond) {
		if s := submitted.Load(); s != last {
			last, since = s, time.Now()
		} else if time.Since(since) > 2*time.Second {
			break
		}
	}
	t.Logf("%d of %d submitted in %v with no node; head VmRSS %d MB", submitted.Load(), n, time.Since(start).Round(time.Millisecond),
		procStatusKB(t, pid, "VmRSS")>>10)
	if _, err := c.AddNode(ctx, "--cpus", "2"); err != nil {
		t.Fatal(err)
	}
	held := <-futs
	submittedIn := time.Since(start)
	if mode == "held" {
		sum := 0
		for i, f := range held {
			v, err := f.Get(ctx)
			if err != nil {
				t.Fatalf("task %d: %v", i, err)
			}
			sum += v
			held[i] = nil
			f.Release()
		}
		if want := n * (n - 1) / 2; sum != want {
			t.Fatalf("sum of results %d, want %d", sum, want)
		}
	} else if err := c.WaitFor(ctx, 15*time.Minute, func(st *pb.StatusReply) bool {
		return st.TasksFinished >= int64(n)
	}, fmt.Sprint(n, " tasks finished")); err != nil {
		t.Fatal(err)
	}
	hwm := procStatusKB(t, pid, "VmHWM")
	t.Logf("%s: %d tasks submitted in %v, all finished in %v; head VmRSS idle %d MB, peak (VmHWM) %d MB",
		mode, n, submittedIn.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), idle>>10, hwm>>10)
	if hwm > 500<<10 {
		t.Fatalf("the head's peak resident memory was %d MB, want < 500 MB", hwm>>10)
	}
}

// procStatusKB reads a field (in kB) of /proc/pid/status.
func procStatusKB(t testing.TB, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
