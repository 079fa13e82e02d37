package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/peerauth/peerauthtest"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve accepts one connection on a fresh loopback listener and runs
// handle on it after the handshake.
func serve(t *testing.T, token string, handle func(net.Conn)) (string, <-chan error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		defer lis.Close()
		nc, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		if nc, err = Accept(nc, token, nil, 5*time.Second); err != nil {
			errc <- err
			return
		}
		handle(nc)
		nc.Close()
		errc <- nil
	}()
	return lis.Addr().String(), errc
}

func TestHandshake(t *testing.T) {
	const cluster = "secret"
	jobA := ids.Random()
	credA, credB := credential.ForJob(cluster, jobA), credential.ForJob(cluster, ids.Random())
	tests := []struct {
		name, server, client string
		wantErr              error // (nil: accepted)
	}{
		{"same token", cluster, cluster, nil},
		{"wrong token", cluster, "guess", ErrUnauthenticated},
		{"empty token", cluster, "", ErrUnauthenticated},
		// An executor holds its job's credential: its own job's processes
		// (and the cluster, as the job) are served, others refused.
		{"the job's process", credA, credA, nil},
		{"the cluster as the job", credA, credential.ForJob(cluster, jobA), nil},
		{"another job's process", credA, credB, peerauth.ErrScope},
		{"the cluster as itself", credA, cluster, peerauth.ErrScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, errc := serve(t, tc.server, func(net.Conn) {})
			nc, err := Dial(context.Background(), addr, "", tc.client, nil, 5*time.Second)
			if nc != nil {
				nc.Close()
			}
			serr := <-errc
			if tc.wantErr != nil {
				// (the client finds the server's proof wrong, has no
				// token to prove, or is told the scope is not served, and
				// leaves before it proves anything)
				if !errors.Is(err, tc.wantErr) || serr == nil {
					t.Fatalf("client %v, server %v; want both refused, the client with %v", err, serr, tc.wantErr)
				}
				return
			}
			if err != nil || serr != nil {
				t.Fatalf("client %v, server %v", err, serr)
			}
		})
	}
}

func TestMalformedHandshakeRefused(t *testing.T) {
	addr, errc := serve(t, "secret", func(net.Conn) {})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if err := <-errc; err == nil {
		t.Fatal("an HTTP request passed the handshake")
	}
	nc.Close()
}

// Frames written by many goroutines arrive whole, each item once, and a
// busy batcher puts many items in a frame.
func TestBatcherDeliversEveryItemInFewerFrames(t *testing.T) {
	const writers, each = 8, 2000
	got := make(chan *pb.DirectRequest, writers*each)
	addr, errc := serve(t, "tok", func(nc net.Conn) {
		r := NewReader(nc)
		for {
			m := &pb.DirectRequest{}
			if err := r.Read(m); err != nil {
				close(got)
				return
			}
			got <- m
		}
	})
	nc, err := Dial(context.Background(), addr, "", "tok", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(nil, 1<<20, func() *pb.DirectRequest { return &pb.DirectRequest{} }, addCancel)
	done := make(chan struct{})
	go b.RunFlusher(done)
	// Items queued before the connection is set wait for it.
	b.Queue(8, []byte("early"))
	b.SetWriter(nc)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := []byte{byte(w), byte(i >> 8), byte(i)}
				if i%2 == 0 {
					b.Queue(8, id)
					b.Flush()
				} else {
					b.Queue(8, id)
					b.FlushSoon()
				}
			}
		}()
	}
	wg.Wait()
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	// Flush returns at once while another goroutine writes: that writer
	// writes what was queued. Read until every item came (or time out).
	seen := map[string]int{}
	frames, items := 0, 0
	timeout := time.After(10 * time.Second)
	for items < writers*each+1 {
		select {
		case m := <-got:
			frames++
			for _, id := range m.Cancel {
				seen[string(id)]++
				items++
			}
		case <-timeout:
			t.Fatalf("%d of %d items arrived within 10s", items, writers*each+1)
		}
	}
	nc.Close()
	for range got { // the reader ends with the connection
	}
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(seen) != writers*each+1 || seen["early"] != 1 {
		t.Fatalf("%d distinct items arrived, want %d", len(seen), writers*each+1)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("item %x arrived %d times", id, n)
		}
	}
	if frames >= writers*each {
		t.Fatalf("%d frames for %d items: no batching", frames, writers*each)
	}
}

func TestBatcherReportsBrokenConnection(t *testing.T) {
	addr, errc := serve(t, "tok", func(nc net.Conn) {})
	nc, err := Dial(context.Background(), addr, "", "tok", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	<-errc
	b := NewBatcher(nc, 1<<20, func() *pb.DirectRequest { return &pb.DirectRequest{} }, addCancel)
	nc.Close()
	b.Queue(8, []byte("x"))
	if err := b.Flush(); err == nil {
		t.Fatal("a write on a closed connection succeeded")
	}
	if err := b.Queue(8, nil); err == nil {
		t.Fatal("the batcher took an item after its connection failed")
	}
}

func TestReaderRefusesOversizedFrame(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go a.Write([]byte{0xff, 0xff, 0xff, 0xff})
	if err := NewReader(b).Read(&pb.DirectRequest{}); err == nil {
		t.Fatal("a 4 GiB frame was accepted")
	}
}

func addCancel(m *pb.DirectRequest, id []byte) { m.Cancel = append(m.Cancel, id) }

// A local address is tried first and reaches a peer on this machine; one
// nobody listens on falls back to the TCP address.
func TestDialPrefersLocal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("local sockets are Linux's abstract Unix sockets")
	}
	ll, err := ListenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	accepted := make(chan string, 1)
	go func() {
		nc, err := ll.Accept()
		if err != nil {
			accepted <- err.Error()
			return
		}
		defer nc.Close()
		if nc, err = Accept(nc, "tok", nil, 5*time.Second); err != nil {
			accepted <- err.Error()
			return
		}
		accepted <- nc.LocalAddr().Network()
	}()
	// The TCP address is nobody's: only the local socket can answer.
	nc, err := Dial(context.Background(), "127.0.0.1:1", ll.Addr().String(), "tok", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing the local address: %v", err)
	}
	nc.Close()
	if got := <-accepted; got != "unix" {
		t.Fatalf("accepted on %q, want unix", got)
	}
	addr, errc := serve(t, "tok", func(net.Conn) {})
	nc, err = Dial(context.Background(), addr, "@shoal-nobody-listens", "tok", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("falling back to TCP: %v", err)
	}
	nc.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A burst of refused connections makes one log line, then one per period
// with the count of those in between.
func TestRefusalsAreRateLimited(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var r Refusals
	for range 1000 {
		r.Log(log, "refused a connection", "from", "127.0.0.1:1")
	}
	if n := strings.Count(buf.String(), "refused a connection"); n != 1 {
		t.Fatalf("%d log lines for 1,000 refusals in a burst", n)
	}
	r.mu.Lock()
	r.last = r.last.Add(-refusalLogEvery) // (as if the period had passed)
	r.mu.Unlock()
	r.Log(log, "refused a connection")
	if !strings.Contains(buf.String(), "refused_since_last_report=999") {
		t.Fatalf("the second line does not count the others: %s", buf.String())
	}
}

// With TLS, frames cross in TLS and a plaintext dialer is refused.
func TestTLSHandshake(t *testing.T) {
	ca := peerauthtest.CA(t)
	server, client := peerauthtest.Enroll(t, ca), peerauthtest.Enroll(t, ca)
	ctx := context.Background()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	got := make(chan error, 2)
	go func() {
		for range 2 {
			nc, err := lis.Accept()
			if err != nil {
				got <- err
				return
			}
			nc, err = Accept(nc, "tok", server.ServerConfig(), 5*time.Second)
			if err != nil {
				got <- err
				continue
			}
			m := &pb.DirectRequest{}
			err = NewReader(nc).Read(m)
			if err == nil && len(m.Cancel) != 1 {
				err = errors.New("the frame came back different")
			}
			nc.Close()
			got <- err
		}
	}()
	if _, err := Dial(ctx, lis.Addr().String(), "", "tok", nil, 5*time.Second); err == nil {
		t.Fatal("a plaintext dialer got through")
	}
	if err := <-got; err == nil {
		t.Fatal("the server accepted a plaintext dialer")
	}
	nc, err := Dial(ctx, lis.Addr().String(), "", "tok", client.ClientConfig(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b := NewBatcher(nc, 1<<20, func() *pb.DirectRequest { return &pb.DirectRequest{} },
		func(m *pb.DirectRequest, id []byte) { m.Cancel = append(m.Cancel, id) })
	b.Queue(16, []byte("call"))
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A frame that declares the largest size and sends a few bytes costs the
// reader a step of its buffer, not the declared size.
func TestReaderGrowsAsBytesArrive(t *testing.T) {
	hostile := binary.BigEndian.AppendUint32(nil, MaxFrame)
	hostile = append(hostile, "a few bytes"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := NewReader(bytes.NewReader(hostile)).Read(&pb.DirectRequest{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a truncated frame was read")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Fatalf("reading %d bytes that declare %d allocated %d bytes", len(hostile), MaxFrame, grew)
	}
	// A large frame that does arrive is read whole.
	m := &pb.DirectRequest{Cancel: [][]byte{bytes.Repeat([]byte{7}, 5<<20)}}
	frame, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got pb.DirectRequest
	if err := NewReader(bytes.NewReader(append(binary.BigEndian.AppendUint32(nil, uint32(len(frame))), frame...))).Read(&got); err != nil || !proto.Equal(&got, m) {
		t.Fatalf("a 5 MiB frame: %v", err)
	}
}

// FuzzReader feeds arbitrary bytes to a frame reader: it returns frames or
// an error, never panics, and allocates as the bytes arrive.
func FuzzReader(f *testing.F) {
	for _, m := range []*pb.DirectRequest{
		{Cancel: [][]byte{[]byte("id")}},
		{Calls: []*pb.ActorCall{{}}, Tasks: []*pb.TaskSpec{{Function: "f", Args: []*pb.Arg{{Value: []byte{1}}}}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
	}
	f.Add(binary.BigEndian.AppendUint32(nil, MaxFrame+1))
	f.Add(binary.BigEndian.AppendUint32(nil, MaxFrame))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for range 64 {
			if err := r.Read(&pb.DirectRequest{}); err != nil {
				return
			}
		}
	})
}
