package node

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/testwait"
	"github.com/shoal-dev/shoal/internal/transfer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "pull-test-token-0123"

// A reader told of a new copy (the old one's node went silent) pulls it at
// once; it does not join a pull under way that is stuck on the silent
// node (whose timeouts are set to a minute here).
func TestPullFromNewCopyDoesNotWaitForAStuckPull(t *testing.T) {
	silent := silentListener(t)
	peer := objstore.New(0)
	id := ids.Random()
	if _, err := peer.Put(id, []byte("the object")); err != nil {
		t.Fatal(err)
	}
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &transfer.Server{Token: testToken, Store: peer}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(peerLn) }()
	t.Cleanup(func() { srv.Close(); <-served })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := transfer.NewClient(testToken, nil)
	peers.DialTimeout, peers.ReadTimeout = time.Minute, time.Minute
	defer peers.Close()
	n := &Node{id: ids.Random(), ln: ln, store: objstore.New(0), peers: peers, pulls: map[ids.ID]*pull{}}

	stuckCtx, stopStuck := context.WithCancel(context.Background())
	stuck := make(chan error, 1)
	go func() {
		_, _, err := n.pull(stuckCtx, id, []transfer.Location{{Node: ids.Random(), Addr: silent}})
		stuck <- err
	}()
	testwait.For(t, "the first pull to start", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.pulls[id] != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, release, err := n.pull(ctx, id, []transfer.Location{{Node: ids.Random(), Addr: peerLn.Addr().String()}})
	if err != nil {
		t.Fatalf("pulling the new copy while a pull of the old one is stuck: %v", err)
	}
	if string(data) != "the object" {
		t.Fatalf("pulled %q", data)
	}
	release()
	stopStuck()
	<-stuck
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { lis.Close(); wg.Wait() })
	return lis.Addr().String()
}
