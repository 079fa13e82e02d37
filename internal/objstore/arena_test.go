package objstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/arena"
	"github.com/shoal-dev/shoal/internal/ids"
)

// openArenaTest opens a spilling store whose memory copies live in an
// arena, and checks at the end that every span went back to it.
func openArenaTest(t testing.TB, cfg Config) (*Store, *arena.Arena) {
	t.Helper()
	cfg.SharedMemory = true
	s, _ := openTest(t, cfg)
	a := s.Arena()
	if a == nil {
		t.Fatal("a store with SharedMemory has no arena")
	}
	t.Cleanup(func() {
		s.Close() // (Close again later is a no-op)
		if st := a.Stats(); st.Live != 0 {
			t.Errorf("after Close, %d spans (%d bytes) are still allocated in the arena", st.Live, st.Used)
		}
	})
	return s, a
}

// inArena reports whether b lies in a's memory.
func inArena(a *arena.Arena, b []byte) bool {
	_, ok := a.Offset(b)
	return ok
}

func TestArenaReserveSealAcquire(t *testing.T) {
	s, a := openArenaTest(t, Config{MemoryBytes: 4 * mib, DiskBytes: 64 * mib})
	g := ids.NewGenerator()
	id := g.Next()
	r, err := s.Reserve(id, mib)
	if err != nil {
		t.Fatal(err)
	}
	if !inArena(a, r.Data) {
		t.Fatal("a reservation that fits is not in the arena")
	}
	copy(r.Data, payload(1, mib))
	if added, err := r.Seal(); !added || err != nil {
		t.Fatalf("Seal: %v %v", added, err)
	}
	if again, err := s.Reserve(id, mib); err != nil || !again.Exists() || again.Data != nil {
		t.Fatalf("Reserve of a stored object: %+v %v", again, err)
	}
	data, release, err := s.Acquire(id)
	if err != nil || !bytes.Equal(data, payload(1, mib)) || !inArena(a, data) {
		t.Fatalf("Acquire: %d bytes, in arena %v, %v", len(data), inArena(a, data), err)
	}
	// Deleted while pinned: the span stays until the reader lets go.
	before := a.Stats().Live
	s.Delete(id)
	if a.Stats().Live != before {
		t.Fatal("a pinned object's span went back to the arena on Delete")
	}
	if !bytes.Equal(data, payload(1, mib)) {
		t.Fatal("a pinned object's bytes changed after Delete")
	}
	release()
	release() // (once only)
	if a.Stats().Live != before-1 {
		t.Fatalf("after the release, %d spans live, want %d", a.Stats().Live, before-1)
	}
	// An aborted reservation gives its memory back, and counts no more.
	r, err = s.Reserve(g.Next(), 2*mib)
	if err != nil {
		t.Fatal(err)
	}
	r.Abort()
	if u := s.Usage(); u.MemoryBytes != 0 || a.Stats().Live != 0 {
		t.Fatalf("after Abort: memory %d bytes, %d spans", u.MemoryBytes, a.Stats().Live)
	}
	// Put copies into the arena; Get hands out a copy.
	id2 := g.Next()
	src := payload(2, 3*mib)
	if _, err := s.Put(id2, src); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get(id2)
	if !ok || !bytes.Equal(got, src) || inArena(a, got) {
		t.Fatalf("Get: %v, equal %v, in arena %v", ok, bytes.Equal(got, src), inArena(a, got))
	}
}

// Readers holding objects while writers force spills, evictions and
// deletes never see their bytes change: pinned memory is not reused.
func TestArenaReadersAcrossSpillEvictDelete(t *testing.T) {
	s, a := openArenaTest(t, Config{MemoryBytes: 2 * mib, DiskBytes: 256 * mib, SegmentBytes: mib})
	type object struct {
		id   ids.ID
		seed uint64
		size int
	}
	const writers, readers, perWriter = 3, 4, 300
	var (
		mu      sync.Mutex
		stored  []object
		deleted = map[ids.ID]bool{}
	)
	pick := func(r *rand.Rand) (object, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(stored) == 0 {
			return object{}, false
		}
		o := stored[r.IntN(len(stored))]
		return o, !deleted[o.id]
	}
	errc := make(chan error, writers+readers)
	var wg, writing sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		writing.Add(1)
		go func() {
			defer wg.Done()
			defer writing.Done()
			g := ids.NewGenerator()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range perWriter {
				o := object{id: g.Next(), seed: r.Uint64(), size: 4*kib + r.IntN(256*kib)}
				var err error
				if i%2 == 0 {
					_, err = s.Put(o.id, payload(o.seed, o.size))
				} else {
					var res *Reservation
					if res, err = s.Reserve(o.id, int64(o.size)); err == nil {
						copy(res.Data, payload(o.seed, o.size))
						_, err = res.Seal()
					}
				}
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				stored = append(stored, o)
				mu.Unlock()
				if v, ok := pick(r); ok && i%3 == 0 {
					mu.Lock()
					deleted[v.id] = true
					mu.Unlock()
					s.Delete(v.id)
				}
			}
		}()
	}
	stop := make(chan struct{})
	for rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 5))
			for {
				select {
				case <-stop:
					return
				default:
				}
				o, live := pick(r)
				if !live {
					continue
				}
				data, release, err := s.Acquire(o.id)
				if errors.Is(err, ErrNotFound) {
					continue // deleted after pick
				}
				if err != nil {
					errc <- err
					return
				}
				want := payload(o.seed, o.size)
				ok := bytes.Equal(data, want)
				time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond) // others spill, evict, delete meanwhile
				ok = ok && bytes.Equal(data, want)
				release()
				if !ok {
					errc <- fmt.Errorf("object %s changed under its reader", o.id.Short())
					return
				}
			}
		}()
	}
	writing.Wait()
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	u := s.Usage()
	if u.SpilledObjects == 0 {
		t.Fatal("nothing spilled: the test did not exercise spilling")
	}
	if st := a.Stats(); int(st.Live) > u.MemoryObjects {
		t.Fatalf("%d spans live for %d objects in memory: pins leaked", st.Live, u.MemoryObjects)
	}
}

// AcquireShared hands out only arena memory: a spilled object is restored
// into the arena when there is room, and otherwise not read at all (no
// buffer on the Go heap for a reader that could not use it).
func TestAcquireSharedDoesNotReadWhatItCannotShare(t *testing.T) {
	s, a := openArenaTest(t, Config{MemoryBytes: 4 * mib, DiskBytes: 64 * mib})
	spilled, held := object{id: ids.Random(), seed: 1, size: 3 * mib}, object{id: ids.Random(), seed: 2, size: 3 * mib}
	mustPut(t, s, spilled)
	mustPut(t, s, held) // (makes room by writing the first out)
	// The second, in memory only, pinned: no room to restore the first.
	_, release, ok, err := s.AcquireShared(held.id)
	if !ok || err != nil {
		t.Fatalf("AcquireShared of an object in memory: %v %v", ok, err)
	}
	before := s.Usage()
	if before.SpilledObjects != 1 || before.MemoryObjects != 1 {
		t.Fatalf("want one object spilled and one in memory: %+v", before)
	}
	if _, _, ok, err := s.AcquireShared(spilled.id); ok || err != nil {
		t.Fatalf("AcquireShared of a spilled object with no room: ok %v, %v; want not ok, no error", ok, err)
	}
	if after := s.Usage(); after.Restores != before.Restores || after.RangeReads != before.RangeReads || after.ReadFailures != before.ReadFailures {
		t.Fatalf("AcquireShared with no room read the object: restores %d -> %d", before.Restores, after.Restores)
	}
	if _, _, ok, err := s.AcquireShared(ids.Random()); ok || err != nil {
		t.Fatalf("AcquireShared of a missing object: ok %v, %v", ok, err)
	}
	release()
	s.Delete(held.id)
	data, release, ok, err := s.AcquireShared(spilled.id)
	if !ok || err != nil || !inArena(a, data) || !bytes.Equal(data, payload(spilled.seed, spilled.size)) {
		t.Fatalf("AcquireShared with room: ok %v, %v, in the arena %v", ok, err, inArena(a, data))
	}
	release()
}
