package objstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	kib = 1 << 10
	mib = 1 << 20
)

// openTest opens a spilling store under a fresh directory and closes it at
// the end of the test, checking that Close removed the spill directory.
func openTest(t testing.TB, cfg Config) (*Store, string) {
	t.Helper()
	if cfg.SpillDir == "" {
		cfg.SpillDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if n, _ := diskUse(t, cfg.SpillDir); n != 0 {
			t.Errorf("after Close, %d spill files remain under %s", n, cfg.SpillDir)
		}
		if ents, _ := os.ReadDir(cfg.SpillDir); len(ents) != 0 {
			t.Errorf("after Close, %s still holds %d entries (want the spill directory removed)", cfg.SpillDir, len(ents))
		}
	})
	return s, cfg.SpillDir
}

// diskUse counts the regular files under dir and their bytes, as the file
// system sees them.
func diskUse(t testing.TB, dir string) (files int, bytes int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			bytes += fi.Size()
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return files, bytes
}

// payload returns size bytes determined by seed, so objects can be checked
// without keeping a copy: a random block of a prime length repeated, with
// the offset stamped every 4 KiB (so a shifted or misplaced read shows).
func payload(seed uint64, size int) []byte {
	const block = 4099
	b := make([]byte, size)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rand.NewChaCha8(key).Read(b[:min(block, size)])
	for n := block; n < size; n *= 2 {
		copy(b[n:], b[:n])
	}
	for off := 0; off+8 <= size; off += 4096 {
		binary.LittleEndian.PutUint64(b[off:], uint64(off)^seed)
	}
	return b
}

type object struct {
	id   ids.ID
	seed uint64
	size int
}

func (o object) check(t testing.TB, s *Store) {
	t.Helper()
	got, err := s.Read(o.id)
	if err != nil {
		t.Fatalf("reading object %s (%d bytes): %v", o.id.Short(), o.size, err)
	}
	if !bytes.Equal(got, payload(o.seed, o.size)) {
		t.Fatalf("object %s (%d bytes) came back different", o.id.Short(), o.size)
	}
}

func mustPut(t testing.TB, s *Store, o object) {
	t.Helper()
	added, err := s.Put(o.id, payload(o.seed, o.size))
	if err != nil {
		t.Fatalf("putting object %s (%d bytes): %v", o.id.Short(), o.size, err)
	}
	if !added {
		t.Fatalf("putting object %s: not added", o.id.Short())
	}
}

// mixedObjects returns objects totalling at least total bytes: mostly small
// ones of 1-64 KiB, and every twentieth one of 1 MiB up to big.
func mixedObjects(g *ids.Generator, r *rand.Rand, total int64, big int) []object {
	var objs []object
	var sum int64
	for i := 0; sum < total; i++ {
		size := kib + r.IntN(63*kib+1)
		if i%20 == 19 {
			size = mib + r.IntN(big-mib+1)
		}
		objs = append(objs, object{id: g.Next(), seed: r.Uint64(), size: size})
		sum += int64(size)
	}
	return objs
}

// TestSpillRestore stores three times the memory budget in live objects,
// reads every one back and checks that disk use returns to zero once they
// are deleted.
func TestSpillRestore(t *testing.T) {
	cases := []struct {
		name    string
		memory  int64
		segment int64
		big     int  // largest object
		churn   bool // delete every other object while writing
	}{
		{name: "default segments", memory: 4 * mib, big: 6 * mib},
		{name: "1 MiB segments", memory: 4 * mib, segment: mib, big: 3 * mib},
		{name: "objects larger than memory", memory: 2 * mib, segment: mib, big: 3 * mib},
		{name: "deletes while spilling", memory: 4 * mib, segment: mib, big: 2 * mib, churn: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := openTest(t, Config{MemoryBytes: tc.memory, DiskBytes: 256 * mib, SegmentBytes: tc.segment})
			r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			objs := mixedObjects(ids.NewGenerator(), r, 3*tc.memory, tc.big)
			var live []object
			for i, o := range objs {
				mustPut(t, s, o)
				live = append(live, o)
				if u := s.Usage(); u.MemoryBytes > tc.memory {
					t.Fatalf("after %d puts memory holds %d bytes, over the budget of %d", i+1, u.MemoryBytes, tc.memory)
				}
				if tc.churn && i%2 == 1 {
					victim := live[len(live)/2]
					if !s.Delete(victim.id) {
						t.Fatalf("delete %s: not found", victim.id.Short())
					}
					live = append(live[:len(live)/2], live[len(live)/2+1:]...)
				}
			}
			u := s.Usage()
			if u.Spills == 0 || u.SpilledObjects == 0 {
				t.Fatalf("nothing spilled: %+v", u)
			}
			if files, b := diskUse(t, dir); files == 0 || b == 0 {
				t.Fatalf("no spill files under %s after spilling %d objects", dir, u.Spills)
			} else if files != u.SpillFiles || b != u.SpillFileBytes {
				t.Fatalf("disk holds %d files of %d bytes, store counts %d of %d", files, b, u.SpillFiles, u.SpillFileBytes)
			}
			// Twice in a random order: the second pass reads objects that
			// the first pass restored and evicted again.
			for pass := range 2 {
				for _, i := range r.Perm(len(live)) {
					live[i].check(t, s)
				}
				if u := s.Usage(); u.MemoryBytes > tc.memory {
					t.Fatalf("pass %d: memory holds %d bytes, over the budget of %d", pass, u.MemoryBytes, tc.memory)
				}
			}
			if u := s.Usage(); u.Restores == 0 {
				t.Fatalf("no restores after reading every object: %+v", u)
			}
			for _, o := range live {
				if !s.Delete(o.id) {
					t.Fatalf("delete %s: not found", o.id.Short())
				}
			}
			s.compactors.Wait()
			if files, b := diskUse(t, dir); files != 0 || b != 0 {
				t.Fatalf("after deleting every object %d spill files of %d bytes remain", files, b)
			}
			if u := s.Usage(); u.Objects != 0 || u.Bytes != 0 || u.MemoryBytes != 0 || u.SpilledBytes != 0 ||
				u.SpillFiles != 0 || u.SpillFileBytes != 0 || u.SpillingBytes != 0 {
				t.Fatalf("after deleting every object: %+v", u)
			}
		})
	}
}

// TestFull fills both tiers and checks that Put fails at once with an
// error that says what is held and what to change, and that the store
// works again after deletes.
func TestFull(t *testing.T) {
	const size = 128 * kib // 8 fit in memory, 16 in two fused 1 MiB segments on disk
	s, dir := openTest(t, Config{MemoryBytes: mib, DiskBytes: 2 * mib, SegmentBytes: mib})
	g := ids.NewGenerator()
	var objs []object
	put := func(o object) error {
		done := make(chan error, 1)
		go func() {
			_, err := s.Put(o.id, payload(o.seed, o.size))
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatalf("Put of object %s did not return", o.id.Short())
			return nil
		}
	}
	var full error
	for i := range 100 {
		o := object{id: g.Next(), seed: uint64(i), size: size}
		if full = put(o); full != nil {
			break
		}
		objs = append(objs, o)
	}
	if !errors.Is(full, ErrFull) {
		t.Fatalf("filling the store: got %v, want ErrFull", full)
	}
	if len(objs) != 24 {
		t.Fatalf("stored %d objects of 128 KiB in 1 MiB of memory and 2 MiB of disk, want 24", len(objs))
	}
	spillDir := s.Usage().SpillDir
	for _, want := range []string{
		"object store full: object ", " needs 128.0 KiB",
		"memory holds 8 objects in 1.0 of 1.0 MiB",
		"disk holds 16 objects in 2.0 of 2.0 MiB (2 spill files) at " + spillDir,
		"--object-store-memory", "--object-store-disk", "Future.Release",
	} {
		if !strings.Contains(full.Error(), want) {
			t.Errorf("ErrFull message lacks %q:\n%s", want, full)
		}
	}
	if !strings.HasPrefix(spillDir, dir) {
		t.Errorf("spill directory %q is not under %q", spillDir, dir)
	}

	// An object larger than both tiers fails the same way.
	if err := put(object{id: g.Next(), size: 3 * mib}); !errors.Is(err, ErrFull) {
		t.Fatalf("object larger than memory and disk: got %v, want ErrFull", err)
	}
	// A deleted object inside a segment that is still mostly live holds
	// its disk space until the segment is reclaimed; the message says so.
	s.Delete(objs[0].id)
	err := put(object{id: g.Next(), size: size})
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "disk holds 15 objects in 2.0 of 2.0 MiB (2 spill files, 128.0 KiB of them deleted objects not yet reclaimed)") {
		t.Fatalf("after one delete: got %v, want ErrFull naming the dead bytes", err)
	}
	// Releasing the oldest half empties the first segment: there is room
	// again, and everything left reads back.
	for _, o := range objs[1:12] {
		if !s.Delete(o.id) {
			t.Fatalf("delete %s: not found", o.id.Short())
		}
	}
	objs = objs[12:]
	for i := range 8 {
		o := object{id: g.Next(), seed: uint64(1000 + i), size: size}
		if err := put(o); err != nil {
			t.Fatalf("after deletes, put %d: %v", i, err)
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		o.check(t, s)
	}
}

func TestFullMessages(t *testing.T) {
	cases := []struct {
		name  string
		store func(t *testing.T) *Store
		size  int
		want  []string
	}{
		{
			name:  "memory only",
			store: func(*testing.T) *Store { return New(100) },
			size:  200,
			want:  []string{"needs 200 B", "memory holds 0 objects in 0 of 100 B", "spilling to disk is off", "--object-store-memory"},
		},
		{
			name: "larger than memory, disk full",
			store: func(t *testing.T) *Store {
				s, _ := openTest(t, Config{MemoryBytes: mib, DiskBytes: mib})
				return s
			},
			size: 2 * mib,
			want: []string{"needs 2.0 MiB", "memory holds 0 objects in 0.0 of 1.0 MiB", "disk holds 0 objects in 0.0 of 1.0 MiB (0 spill files)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.store(t)
			_, err := s.Put(ids.Random(), make([]byte, tc.size))
			if !errors.Is(err, ErrFull) {
				t.Fatalf("got %v, want ErrFull", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
}

// TestLargeObjectStraightToDisk stores an object larger than the memory
// budget: it goes to a file of its own and reads back.
func TestLargeObjectStraightToDisk(t *testing.T) {
	s, dir := openTest(t, Config{MemoryBytes: mib, DiskBytes: 16 * mib, SegmentBytes: 4 * mib})
	small := object{id: ids.Random(), seed: 1, size: 100 * kib}
	big := object{id: ids.Random(), seed: 2, size: 3 * mib}
	mustPut(t, s, small)
	mustPut(t, s, big)
	u := s.Usage()
	if u.MemoryObjects != 1 || u.SpilledObjects != 1 || u.SpillFiles != 1 || u.SpillFileBytes != 3*mib {
		t.Fatalf("want the small object in memory and the large one alone on disk: %+v", u)
	}
	big.check(t, s) // too large to cache: read from disk each time
	big.check(t, s)
	if u := s.Usage(); u.Restores != 2 || u.MemoryObjects != 1 {
		t.Fatalf("after two reads of the large object: %+v", u)
	}
	s.Delete(big.id)
	if files, _ := diskUse(t, dir); files != 0 {
		t.Fatalf("%d spill files remain after deleting the large object", files)
	}
}

// TestFusing checks that many small objects make few spill files, and that
// large objects get files of their own.
func TestFusing(t *testing.T) {
	cases := []struct {
		name      string
		segment   int64
		n, size   int
		wantFiles int // at most
	}{
		{name: "default 64 MiB segments", n: 1000, size: 4 * kib, wantFiles: 1},
		{name: "1 MiB segments", segment: mib, n: 1000, size: 4 * kib, wantFiles: 4},
		{name: "objects of a quarter segment", segment: mib, n: 12, size: 256 * kib, wantFiles: 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := openTest(t, Config{MemoryBytes: 256 * kib, DiskBytes: 64 * mib, SegmentBytes: tc.segment})
			g := ids.NewGenerator()
			for i := range tc.n {
				mustPut(t, s, object{id: g.Next(), seed: uint64(i), size: tc.size})
			}
			u := s.Usage()
			files, b := diskUse(t, dir)
			if u.Spills == 0 || files == 0 {
				t.Fatalf("nothing spilled: %d files, %+v", files, u)
			}
			if files > tc.wantFiles || files != u.SpillFiles {
				t.Fatalf("%d objects spilled into %d files (store counts %d), want at most %d", u.Spills, files, u.SpillFiles, tc.wantFiles)
			}
			if b != u.SpilledBytes {
				t.Fatalf("spill files hold %d bytes, spilled objects %d", b, u.SpilledBytes)
			}
			t.Logf("%d objects of %d bytes spilled into %d files", u.Spills, tc.size, files)
		})
	}
}

// TestGetWhileSpilling reads objects while the Put that spills them is
// between reserving and writing, deletes one of them then, and checks the
// bytes and the accounting afterwards.
func TestGetWhileSpilling(t *testing.T) {
	s, dir := openTest(t, Config{MemoryBytes: mib, DiskBytes: 16 * mib, SegmentBytes: 4 * mib})
	g := ids.NewGenerator()
	var objs []object
	for i := range 4 {
		o := object{id: g.Next(), seed: uint64(i), size: 256 * kib}
		mustPut(t, s, o)
		objs = append(objs, o)
	}
	reserved, proceed := make(chan struct{}), make(chan struct{})
	s.beforeSpillWrite = func() {
		close(reserved)
		<-proceed
	}
	newer := object{id: g.Next(), seed: 99, size: 512 * kib}
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(newer.id, payload(newer.seed, newer.size))
		done <- err
	}()
	<-reserved
	// 512 KiB must go, and a little more (spilling ahead): the three
	// coldest objects.
	if u := s.Usage(); u.SpillingObjects != 3 || u.SpillingBytes != 768*kib || u.MemoryObjects != 2 {
		t.Fatalf("while spilling the three coldest objects: %+v", u)
	}
	for _, o := range append(objs, newer) {
		o.check(t, s)
	}
	if !s.Delete(objs[1].id) {
		t.Fatal("delete of an object being spilled: not found")
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatalf("Put that spills: %v", err)
	}
	s.beforeSpillWrite = nil
	u := s.Usage()
	if u.SpilledObjects != 2 || u.SpillingObjects != 0 || u.MemoryObjects != 2 {
		t.Fatalf("after the spill: %+v", u)
	}
	for _, o := range []object{objs[0], objs[2], objs[3], newer} {
		o.check(t, s)
	}
	for _, o := range []object{objs[0], objs[2], objs[3], newer} {
		s.Delete(o.id)
	}
	if files, _ := diskUse(t, dir); files != 0 {
		t.Fatalf("%d spill files remain after deleting every object", files)
	}
}

// TestConcurrent runs writers, readers and deleters together (run it with
// -race) and checks every object that was not deleted at the end.
func TestConcurrent(t *testing.T) {
	s, dir := openTest(t, Config{MemoryBytes: 2 * mib, DiskBytes: 128 * mib, SegmentBytes: mib})
	const writers, readers, perWriter = 4, 4, 100
	var (
		mu      sync.Mutex
		stored  []object
		deleted = make(map[ids.ID]bool)
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
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWriter {
				o := object{id: g.Next(), seed: r.Uint64(), size: kib + r.IntN(64*kib)}
				if _, err := s.Put(o.id, payload(o.seed, o.size)); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				stored = append(stored, o)
				mu.Unlock()
				if i%3 == 0 { // delete a random earlier object
					if v, ok := pick(r); ok {
						mu.Lock()
						deleted[v.id] = true
						mu.Unlock()
						s.Delete(v.id)
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	for rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 11))
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
				got, err := s.Read(o.id)
				if errors.Is(err, ErrNotFound) {
					continue // deleted after pick
				}
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(got, payload(o.seed, o.size)) {
					errc <- fmt.Errorf("object %s came back different", o.id.Short())
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
	if u.Spills == 0 {
		t.Fatalf("nothing spilled: %+v", u)
	}
	t.Logf("%+v", u)
	for _, o := range stored {
		if deleted[o.id] {
			if s.Has(o.id) {
				t.Fatalf("deleted object %s is still stored", o.id.Short())
			}
			continue
		}
		o.check(t, s)
		s.Delete(o.id)
	}
	s.compactors.Wait()
	if files, b := diskUse(t, dir); files != 0 {
		t.Fatalf("%d spill files of %d bytes remain after deleting every object", files, b)
	}
}

// TestCompaction deletes most objects of full segments and checks that the
// segments are compacted, their live objects still read back, and the disk
// use shrinks to about the live bytes.
func TestCompaction(t *testing.T) {
	// Deleting 3 MiB makes the dead bytes more than a quarter of the disk
	// budget, so compaction starts.
	s, dir := openTest(t, Config{MemoryBytes: 128 * kib, DiskBytes: 8 * mib, SegmentBytes: mib})
	g := ids.NewGenerator()
	var objs []object
	for i := range 256 { // 4 MiB of 16 KiB objects: four full segments
		o := object{id: g.Next(), seed: uint64(i), size: 16 * kib}
		mustPut(t, s, o)
		objs = append(objs, o)
	}
	before := s.Usage()
	var keep []object
	for i, o := range objs {
		if i%4 == 0 {
			keep = append(keep, o)
			continue
		}
		s.Delete(o.id)
	}
	s.compactors.Wait()
	u := s.Usage()
	if u.Compactions == 0 {
		t.Fatalf("no compaction after deleting 3/4 of the objects: before %+v, after %+v", before, u)
	}
	files, b := diskUse(t, dir)
	if b != u.SpillFileBytes || files != u.SpillFiles {
		t.Fatalf("disk holds %d files of %d bytes, store counts %d of %d", files, b, u.SpillFiles, u.SpillFileBytes)
	}
	if b > 2*u.SpilledBytes {
		t.Fatalf("after compaction the spill files hold %d bytes for %d live bytes (before: %d in %d files)", b, u.SpilledBytes, before.SpillFileBytes, before.SpillFiles)
	}
	for _, o := range keep {
		o.check(t, s)
	}
	for _, o := range keep {
		s.Delete(o.id)
	}
	s.compactors.Wait()
	if files, _ := diskUse(t, dir); files != 0 {
		t.Fatalf("%d spill files remain after deleting every object", files)
	}
}

func TestClearAndClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{MemoryBytes: 256 * kib, DiskBytes: 16 * mib, SpillDir: dir, SegmentBytes: mib, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := ids.NewGenerator()
	fill := func() []object {
		var objs []object
		for i := range 64 {
			o := object{id: g.Next(), seed: uint64(i), size: 32 * kib}
			mustPut(t, s, o)
			objs = append(objs, o)
		}
		return objs
	}
	objs := fill()
	if files, _ := diskUse(t, dir); files == 0 {
		t.Fatal("nothing spilled")
	}
	s.Clear()
	if files, _ := diskUse(t, dir); files != 0 {
		t.Fatalf("%d spill files remain after Clear", files)
	}
	if u := s.Usage(); u.Objects != 0 || u.SpillFileBytes != 0 || u.MemoryBytes != 0 {
		t.Fatalf("after Clear: %+v", u)
	}
	if s.Has(objs[0].id) {
		t.Fatal("object still there after Clear")
	}
	objs = fill() // spills again into the same directory
	objs[0].check(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("Close left %d entries in %s", len(ents), dir)
	}
	if _, err := s.Put(g.Next(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: got %v, want ErrClosed", err)
	}
	if _, err := s.Read(objs[1].id); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: got %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCorruptSpillFile changes a spill file behind the store's back: the
// read fails with a checksum error instead of returning wrong bytes.
func TestCorruptSpillFile(t *testing.T) {
	s, _ := openTest(t, Config{MemoryBytes: 64 * kib, DiskBytes: 16 * mib})
	a := object{id: ids.Random(), seed: 1, size: 64 * kib}
	b := object{id: ids.Random(), seed: 2, size: 64 * kib}
	mustPut(t, s, a)
	mustPut(t, s, b) // spills a
	u := s.Usage()
	if u.SpilledObjects != 1 {
		t.Fatalf("want a spilled: %+v", u)
	}
	seg := filepath.Join(u.SpillDir, "seg-000001.spill")
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0xfe}, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := s.Read(a.id); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("reading a corrupted object: got %v, want a checksum error", err)
	}
	if _, ok := s.Get(a.id); ok {
		t.Fatal("Get of a corrupted object reported it present")
	}
}

func TestOpenValidates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative memory", Config{MemoryBytes: -5, DiskBytes: NoSpill}, "memory must be positive"},
		{"negative disk", Config{MemoryBytes: mib, DiskBytes: -5}, "disk must be positive"},
		{"spill dir is a file", Config{MemoryBytes: mib, SpillDir: file}, "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			_, err := Open(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := func(totalKB, availKB int64) string {
		return fmt.Sprintf("MemTotal:       %d kB\nMemFree:         1000 kB\nMemAvailable:   %d kB\n", totalKB, availKB)
	}
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name string
		src  memorySources
		want int64
	}{
		{"30% of available", memorySources{meminfo: write("m1", meminfo(16<<20, 10<<20)), cgroupV2Max: missing, cgroupV1Limit: missing},
			pct30(10 << 30)},
		{"cgroup v2 limit", memorySources{meminfo: write("m2", meminfo(16<<20, 10<<20)), cgroupV2Max: write("c2", "2147483648\n"), cgroupV1Limit: missing},
			pct30(2 << 30)},
		{"cgroup v2 max", memorySources{meminfo: write("m3", meminfo(16<<20, 10<<20)), cgroupV2Max: write("c3", "max\n"), cgroupV1Limit: missing},
			pct30(10 << 30)},
		{"cgroup v1 unlimited", memorySources{meminfo: write("m4", meminfo(16<<20, 10<<20)), cgroupV2Max: missing, cgroupV1Limit: write("c4", "9223372036854771712\n")},
			pct30(10 << 30)},
		{"tiny machine", memorySources{meminfo: write("m5", meminfo(100<<10, 50<<10)), cgroupV2Max: missing, cgroupV1Limit: missing}, minDefaultMemory},
		{"huge machine", memorySources{meminfo: write("m6", meminfo(4<<30, 4<<30)), cgroupV2Max: missing, cgroupV1Limit: missing}, maxDefaultMemory},
		{"no MemAvailable", memorySources{meminfo: write("m7", "MemTotal: 1048576 kB\n"), cgroupV2Max: missing, cgroupV1Limit: missing},
			pct30(1 << 30)},
		{"no meminfo", memorySources{meminfo: missing, cgroupV2Max: missing, cgroupV1Limit: missing}, fallbackMemory},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, how := defaultMemoryBytes(tc.src)
			if got != tc.want {
				t.Fatalf("got %d (%s), want %d", got, how, tc.want)
			}
		})
	}
	t.Run("disk", func(t *testing.T) {
		b, how, err := defaultDiskBytes(filepath.Join(dir, "not", "yet"))
		if err != nil {
			t.Fatal(err)
		}
		if b < 0 {
			t.Fatalf("negative disk default %d (%s)", b, how)
		}
		t.Logf("disk default %s: %s", bytesize.Format(b), how)
	})
	t.Run("open", func(t *testing.T) {
		s, _ := openTest(t, Config{})
		u := s.Usage()
		if u.MemoryLimit < minDefaultMemory || u.DiskLimit < 0 {
			t.Fatalf("defaults: %+v", u)
		}
	})
}

func TestPlural(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{plural(1, "spill file"), "1 spill file"},
		{plural(2, "object"), "2 objects"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func pct30(b int64) int64 { return int64(float64(b) * defaultMemoryFraction) }

// TestSpillFailure removes the spill directory under the store: the Put
// whose spill cannot create a file fails with the reason, nothing is lost,
// and memory stays within its budget.
func TestSpillFailure(t *testing.T) {
	const memory = 256 * kib
	s, _ := openTest(t, Config{MemoryBytes: memory, DiskBytes: 16 * mib, SegmentBytes: 256 * kib})
	g := ids.NewGenerator()
	var objs []object
	for i := range 32 {
		o := object{id: g.Next(), seed: uint64(i), size: 16 * kib}
		mustPut(t, s, o)
		objs = append(objs, o)
	}
	if err := os.RemoveAll(s.Usage().SpillDir); err != nil {
		t.Fatal(err)
	}
	var failed error
	var failedID ids.ID
	for i := range 100 {
		o := object{id: g.Next(), seed: uint64(100 + i), size: 16 * kib}
		if _, failed = s.Put(o.id, payload(o.seed, o.size)); failed != nil {
			failedID = o.id
			break
		}
		objs = append(objs, o)
	}
	if failed == nil {
		t.Fatal("no Put failed after the spill directory was removed")
	}
	if errors.Is(failed, ErrFull) || !strings.Contains(failed.Error(), "creating spill file") || !strings.Contains(failed.Error(), failedID.Short()) {
		t.Fatalf("Put error: %v; want one naming the object and the spill file that could not be created", failed)
	}
	u := s.Usage()
	if s.Has(failedID) || u.SpillFailures == 0 || u.MemoryBytes > memory || u.SpillingObjects != 0 {
		t.Fatalf("after the failed spill: has %v, %+v", s.Has(failedID), u)
	}
	// Objects spilled before are still read through the open handles of
	// their (now unlinked) files.
	for _, o := range objs {
		o.check(t, s)
	}
	for _, o := range objs {
		s.Delete(o.id)
	}
	if u := s.Usage(); u.Objects != 0 || u.SpillFiles != 0 || u.SpillFileBytes != 0 || u.MemoryBytes != 0 {
		t.Fatalf("after deleting every object: %+v", u)
	}
}

// waitCompaction waits, with a deadline, for the compactor to run out of
// work.
func waitCompaction(t *testing.T, s *Store) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		s.compactors.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("compaction did not finish")
	}
}

// TestCompactionWithoutRoom fills the disk, then deletes most objects of
// every segment: there is no room to compact, and the store must neither
// spin nor lose anything. Once a whole segment dies there is room, and
// compaction reclaims the rest.
func TestCompactionWithoutRoom(t *testing.T) {
	s, dir := openTest(t, Config{MemoryBytes: 64 * kib, DiskBytes: 2 * mib, SegmentBytes: 512 * kib})
	g := ids.NewGenerator()
	var objs []object
	for i := range 1000 {
		o := object{id: g.Next(), seed: uint64(i), size: 16 * kib}
		if _, err := s.Put(o.id, payload(o.seed, o.size)); errors.Is(err, ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	// Group the spilled objects by segment, in order.
	bySegment := make(map[*spillFile][]object)
	var segments []*spillFile
	s.mu.Lock()
	for _, o := range objs {
		if f := s.objects[o.id].loc; f != nil {
			if bySegment[f] == nil {
				segments = append(segments, f)
			}
			bySegment[f] = append(bySegment[f], o)
		}
	}
	s.mu.Unlock()
	if len(segments) != 4 {
		t.Fatalf("want the disk full with 4 segments, got %d: %+v", len(segments), s.Usage())
	}
	deleted := make(map[ids.ID]bool)
	del := func(o object) {
		if !s.Delete(o.id) {
			t.Fatalf("delete %s: not found", o.id.Short())
		}
		deleted[o.id] = true
	}
	for _, f := range segments {
		for i, o := range bySegment[f] {
			if i%4 != 0 {
				del(o)
			}
		}
	}
	waitCompaction(t, s)
	if u := s.Usage(); u.Compactions != 0 || u.SpillFiles != 4 {
		t.Fatalf("compacted with no disk room: %+v", u)
	}
	// The first segment dies whole: its file goes, and the room lets the
	// next delete compact the others.
	for _, o := range bySegment[segments[0]] {
		if !deleted[o.id] {
			del(o)
		}
	}
	del(bySegment[segments[1]][0])
	waitCompaction(t, s)
	u := s.Usage()
	if u.Compactions == 0 {
		t.Fatalf("no compaction once there was room: %+v", u)
	}
	for _, o := range objs {
		if !deleted[o.id] {
			o.check(t, s)
			del(o)
		}
	}
	waitCompaction(t, s)
	if files, _ := diskUse(t, dir); files != 0 {
		t.Fatalf("%d spill files remain after deleting every object", files)
	}
}

// A byte range of a spilled object is read from its spill file alone: the
// object is not restored, and the bytes are the object's; a range of an
// object in memory is a view of it; a range past the end is refused.
func TestAcquireRange(t *testing.T) {
	s, _ := openTest(t, Config{MemoryBytes: mib, DiskBytes: 16 * mib, SegmentBytes: 4 * mib})
	small := object{id: ids.Random(), seed: 1, size: 100 * kib}
	big := object{id: ids.Random(), seed: 2, size: 3 * mib} // straight to disk
	mustPut(t, s, small)
	mustPut(t, s, big)
	for _, tc := range []struct {
		o       object
		off, n  int64
		spilled bool
	}{
		{big, 0, 24, true}, {big, 3*mib - 100, 100, true}, {big, mib + 7, 64 * kib, true}, {big, 5, 0, true},
		{small, 40, 1000, false}, {small, 0, 100 * kib, false},
	} {
		before := s.Usage()
		data, size, release, err := s.AcquireRange(tc.o.id, tc.off, tc.n)
		if err != nil {
			t.Fatalf("range [%d, +%d) of a %d-byte object: %v", tc.off, tc.n, tc.o.size, err)
		}
		want := payload(tc.o.seed, tc.o.size)[tc.off : tc.off+tc.n]
		if size != int64(tc.o.size) || !bytes.Equal(data, want) {
			t.Errorf("range [%d, +%d): %d bytes of a %d-byte object, want %d of %d (equal: %v)", tc.off, tc.n, len(data), size, len(want), tc.o.size, bytes.Equal(data, want))
		}
		release()
		after := s.Usage()
		if after.Restores != before.Restores {
			t.Errorf("range [%d, +%d) restored the object", tc.off, tc.n)
		}
		if tc.spilled && after.RangeReads != before.RangeReads+1 {
			t.Errorf("range [%d, +%d) of the spilled object: %d range reads, want %d", tc.off, tc.n, after.RangeReads, before.RangeReads+1)
		}
	}
	for _, bad := range []struct{ off, n int64 }{{3 * mib, 1}, {-1, 10}, {0, 3*mib + 1}} {
		if _, _, _, err := s.AcquireRange(big.id, bad.off, bad.n); err == nil || !strings.Contains(err.Error(), "past the end") {
			t.Errorf("range [%d, +%d) of a %d-byte object: %v", bad.off, bad.n, big.size, err)
		}
	}
	if _, _, _, err := s.AcquireRange(ids.Random(), 0, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("a range of a missing object: %v", err)
	}
}

// A declared size no disk or buffer could take is refused before anything
// is allocated (a data-plane PUT declaring 60 GiB used to kill the node).
func TestHugeReservationRefusedUpFront(t *testing.T) {
	for _, tc := range []struct {
		name string
		disk int64
		want string
	}{
		{"past the disk", 2 * mib, "object store full: object "},
		{"past what a buffer may hold", 1 << 50, "larger than the memory budget and than what this node can buffer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t, Config{MemoryBytes: mib, DiskBytes: tc.disk, SegmentBytes: mib})
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := s.Reserve(ids.NewGenerator().Next(), 60<<30)
			if err == nil {
				r.Abort()
				t.Fatal("a 60 GiB reservation on a 1 MiB store was accepted")
			}
			if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrFull saying %q", err, tc.want)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 1<<30 {
				t.Fatalf("the heap grew by %d bytes for a refused reservation", grew)
			}
		})
	}
}
