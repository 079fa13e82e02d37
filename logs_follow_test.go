package shoal_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
)

// say prints a line on its executor's standard output and returns its
// job's ID (as the executor knows it).
var say = shoal.Func1("test.say", func(_ context.Context, line string) (string, error) {
	fmt.Println(line)
	return os.Getenv("SHOAL_JOB_ID"), nil
})

// `shoal logs -f` prints what a job's executors write after it started,
// on every node, as they write it, and ends by itself once the job's
// driver is gone (after its last output).
func TestLogsFollowPrintsNewOutputUntilTheJobEnds(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "1")
	dctx, err := shoal.Init(context.Background(), shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	ended := false
	defer func() {
		if !ended {
			shoal.Shutdown(dctx)
		}
	}()
	ctx := within(t, dctx, 2*time.Minute)
	job, err := say.Remote(ctx, "before the follower").Get(ctx)
	if err != nil || job == "" {
		t.Fatalf("job %q, %v", job, err)
	}

	cmd := exec.CommandContext(ctx, mustBinary(t), "logs", "--address", c.HeadAddr, "--token-file", c.TokenFile, "-f", job[:10])
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var printed strings.Builder
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			printed.WriteString(sc.Text() + "\n")
			mu.Unlock()
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					mu.Lock()
					defer mu.Unlock()
					t.Fatalf("the follower ended before printing %q: %s\n%s", want, printed.String(), stderr.String())
				}
				if strings.Contains(l, want) {
					return
				}
			case <-ctx.Done():
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("the follower did not print %q:\n%s\n%s", want, printed.String(), stderr.String())
			}
		}
	}
	waitLine("before the follower") // (the tail it starts with)
	// Output written while it follows, on both nodes (a task at a time per
	// node: the second waits for a CPU or runs on the other node).
	for round := range 3 {
		var futs []*shoal.Future[string]
		for i := range 4 {
			futs = append(futs, say.Remote(ctx, fmt.Sprintf("followed %d.%d", round, i)))
		}
		if _, err := shoal.GetAll(ctx, futs); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			waitLine(fmt.Sprintf("followed %d.%d", round, i))
		}
	}
	// The driver goes: the follower prints what is left and ends.
	if _, err := say.Remote(ctx, "the last words").Get(ctx); err != nil {
		t.Fatal(err)
	}
	ended = true
	shoal.Shutdown(dctx)
	waitLine("the last words")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the follower: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the follower did not end after the job's driver went:\n%s", printed.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(printed.String(), "before the follower"); n != 1 {
		t.Fatalf("the first line printed %d times:\n%s", n, printed.String())
	}
	for round := range 3 {
		for i := range 4 {
			if n := strings.Count(printed.String(), fmt.Sprintf("followed %d.%d\n", round, i)); n != 1 {
				t.Fatalf("line %d.%d printed %d times:\n%s", round, i, n, printed.String())
			}
		}
	}
}
