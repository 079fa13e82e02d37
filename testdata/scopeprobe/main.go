// Command scopeprobe is a job for the test of job credentials
// (scoped_test.go). Submitted with -serve, it keeps a named actor alive
// until it is stopped (job B). Submitted with -other-job, -other-package
// and -node (job A), it tries with its own $SHOAL_TOKEN what another job
// must not be able to do, then does its own work across the cluster's
// nodes, printing a line per finding for the test to read.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/executor"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/node"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/runtimeenv"
)

type counter struct{ n int }

const blobSize = 4 << 20 // (stored on a node, not inline)

var (
	counterClass = shoal.Actor0("scopeprobe.Counter", func(context.Context) (*counter, error) { return &counter{}, nil })
	add          = shoal.Method1(counterClass, "Add", func(_ context.Context, c *counter, d int) (int, error) {
		c.n += d
		return c.n, nil
	})
	// environ reports the credential an executor holds.
	environ = shoal.Func1("scopeprobe.environ", func(ctx context.Context, _ int) (string, error) {
		return fmt.Sprintf("executor-env node=%s token=%s tokenfile=%q", shoal.NodeID(ctx), os.Getenv(rpc.TokenEnv), os.Getenv(rpc.TokenFileEnv)), nil
	})
	blob = shoal.Func1("scopeprobe.blob", func(_ context.Context, seed byte) ([]byte, error) {
		return bytes.Repeat([]byte{seed}, blobSize), nil
	})
	sum = shoal.Func1("scopeprobe.sum", func(ctx context.Context, b []byte) (string, error) {
		s := 0
		for _, v := range b {
			s += int(v)
		}
		return fmt.Sprintf("node=%s len=%d sum=%d", shoal.NodeID(ctx), len(b), s), nil
	})
	// callFromTask calls the actor from an executor: direct calls
	// between two of the job's processes (once the executor knows where
	// the actor lives).
	callFromTask = shoal.Func1("scopeprobe.callFromTask", func(ctx context.Context, h *shoal.ActorHandle[counter]) (string, error) {
		n := 0
		for range 10 {
			var err error
			if n, err = add.Remote(ctx, h, 1).Get(ctx); err != nil {
				return "", err
			}
		}
		c, _ := client.FromContext(ctx)
		return fmt.Sprintf("task-call n=%d direct=%d", n, c.DirectCallsSent()), nil
	})
)

func main() {
	serve := flag.String("serve", "", "keep a named actor of this name alive until stopped")
	otherJob := flag.String("other-job", "", "the job to try to stop")
	otherPackage := flag.String("other-package", "", "the package to try to download")
	nodeID := flag.String("node", "", "the node to try to drain")
	otherActor := flag.String("other-actor", "", "another job's named actor to call")
	flag.Parse()
	ctx, err := shoal.Init(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	token := os.Getenv(rpc.TokenEnv)
	fmt.Printf("driver-env job=%s token=%s tokenfile=%q\n", os.Getenv(executor.EnvJobID), token, os.Getenv(rpc.TokenFileEnv))
	if *serve != "" {
		h, err := counterClass.New(ctx, nil, shoal.WithActorName(*serve))
		if err != nil {
			log.Fatal(err)
		}
		if err := h.Ready(ctx); err != nil {
			log.Fatal(err)
		}
		fmt.Println("serving")
		stop, cancel := signal.NotifyContext(ctx, syscall.SIGTERM)
		defer cancel()
		<-stop.Done()
		return
	}
	trespass(ctx, token, *otherJob, *otherPackage, *nodeID)
	ownWork(ctx)
	if *otherActor != "" {
		h, err := shoal.GetActor[counter](ctx, *otherActor)
		if err != nil {
			log.Fatalf("finding job B's actor: %v", err)
		}
		c, _ := client.FromContext(ctx)
		before := c.DirectCallsSent()
		n, err := add.Remote(ctx, h, 5).Get(ctx)
		if err != nil {
			log.Fatalf("calling job B's actor: %v", err)
		}
		fmt.Printf("other-actor n=%d direct=%d\n", n, c.DirectCallsSent()-before)
	}
	fmt.Println("done")
}

// trespass tries, with the job's own credential, to stop another job,
// drain a node and download another job's package.
func trespass(ctx context.Context, token, otherJob, otherPackage, nodeID string) {
	conn, err := rpc.Dial(ctx, os.Getenv(node.EnvAddress), token, 0, rpc.TLSConfig{CAFile: os.Getenv(executor.EnvTLSCA)}, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	head := pb.NewHeadClient(conn)
	report := func(what string, err error) {
		fmt.Printf("%s: %s: %s\n", what, status.Code(err), strings.ReplaceAll(fmt.Sprint(err), "\n", " "))
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, err := ids.Parse(otherJob)
	if err != nil {
		log.Fatal(err)
	}
	_, err = head.StopJob(cctx, &pb.GetJobRequest{JobId: job.Bytes()})
	report("stop-other", err)
	n, err := ids.Parse(nodeID)
	if err != nil {
		log.Fatal(err)
	}
	_, err = head.Drain(cctx, &pb.DrainRequest{NodeId: n.Bytes(), DeadlineMs: 1000})
	report("drain", err)
	var got bytes.Buffer
	_, err = runtimeenv.Download(cctx, conn, otherPackage, 0, &got, nil)
	report(fmt.Sprintf("download-other bytes=%d", got.Len()), err)
}

// ownWork runs the job's own work on every node: tasks (each says what
// credential its executor holds), an object made on one node and read on
// the other, and an actor called directly from the driver and from a task.
func ownWork(ctx context.Context) {
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var nodes []string
	for _, n := range st.Nodes {
		if n.Alive {
			nodes = append(nodes, n.ID)
		}
	}
	if len(nodes) < 2 {
		log.Fatalf("%d live nodes, want 2", len(nodes))
	}
	on := func(n string) shoal.CallOption { return shoal.WithNodeAffinity(n, false) }
	for _, n := range nodes {
		line, err := environ.With(on(n)).Remote(ctx, 0).Get(ctx)
		if err != nil {
			log.Fatalf("on node %s: %v", n, err)
		}
		fmt.Println(line)
	}
	// Made on the first node, read on the second and by the driver.
	b := blob.With(on(nodes[0])).Remote(ctx, byte(3))
	line, err := sum.With(on(nodes[1])).Remote(ctx, b).Get(ctx)
	if err != nil {
		log.Fatalf("reading node %s's object on node %s: %v", nodes[0], nodes[1], err)
	}
	fmt.Println("object-across-nodes made="+nodes[0], line)
	whole, err := b.Get(ctx)
	if err != nil {
		log.Fatalf("reading node %s's object in the driver: %v", nodes[0], err)
	}
	fmt.Printf("object-in-driver len=%d\n", len(whole))

	h, err := counterClass.New(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	c, _ := client.FromContext(ctx)
	before := c.DirectCallsSent()
	total := 0
	for range 20 {
		if total, err = add.Remote(ctx, h, 1).Get(ctx); err != nil {
			log.Fatalf("calling the job's actor: %v", err)
		}
	}
	fmt.Printf("driver-calls n=%d direct=%d\n", total, c.DirectCallsSent()-before)
	line, err = callFromTask.With(on(nodes[1])).Remote(ctx, h).Get(ctx)
	if err != nil {
		log.Fatalf("calling the job's actor from a task: %v", err)
	}
	fmt.Println(line)
}
