package chaos

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/retry"
)

// The objects workload: CPUs × 4 objects of 256 KiB to 1 MiB (sizes drawn
// from the seed) are made by tasks on one node (the producer, soft
// affinity: if it dies they are rebuilt elsewhere from lineage). Then
// CPUs × 2 × scale reader tasks, placed on the other nodes, each sleep briefly,
// borrow two of them (futures inside their argument, as references), read
// them and return how many bytes they read and a CRC-32C of each object.
// The driver checks each reader's exact byte count and checksums against
// the objects it generates itself, and the total.

const objectsPerReader = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Borrowed is a reader's argument: references to objects it does not own.
type Borrowed struct {
	IDs   []int
	Parts []*shoal.Future[[]byte]
}

// ReadSum is what a reader read.
type ReadSum struct {
	Bytes int64
	CRCs  []uint32
}

var (
	objectsMake = shoal.Func3("chaos.objects.make", func(_ context.Context, i, size int, seed int64) ([]byte, error) {
		return payload(seed, 2, uint64(i), size), nil
	}).With(shoal.WithMaxRetries(-1))

	objectsRead = shoal.Func2("chaos.objects.read", func(ctx context.Context, b Borrowed, nap time.Duration) (ReadSum, error) {
		// Sleep first, holding a CPU: once it waits in Get a task gives its
		// CPU back, and sleeping after that would not be bounded by the CPUs.
		var s ReadSum
		if err := retry.Sleep(ctx, nap); err != nil {
			return s, err
		}
		for k, f := range b.Parts {
			v, err := f.Get(ctx)
			if err != nil {
				return s, fmt.Errorf("reading borrowed object %d: %w", b.IDs[k], err)
			}
			s.Bytes += int64(len(v))
			s.CRCs = append(s.CRCs, crc32.Checksum(v, castagnoli))
		}
		return s, nil
	}).With(shoal.WithMaxRetries(-1))
)

type objectsWorkload struct{}

func init() { Register(objectsWorkload{}) }

func (objectsWorkload) Name() string   { return "objects" }
func (objectsWorkload) KeepNode() bool { return false }
func (objectsWorkload) Describe() string {
	return "CPUs×4 objects (256 KiB–1 MiB) made on one node, borrowed by CPUs×2×scale readers on the others (--sleep each); exact byte counts and checksums"
}

// objectsPlan is what the workload makes and reads, drawn from the seed.
type objectsPlan struct {
	sizes []int
	picks [][]int // objects each reader reads
}

func planObjects(seed int64, objects, readers int) objectsPlan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6f626a65637473)) // "objects"
	p := objectsPlan{sizes: make([]int, objects), picks: make([][]int, readers)}
	for i := range p.sizes {
		p.sizes[i] = 256<<10 + rng.IntN(768<<10+1)
	}
	for r := range p.picks {
		p.picks[r] = rng.Perm(objects)[:min(objectsPerReader, objects)]
	}
	return p
}

func (objectsWorkload) Run(ctx context.Context, env Env) Outcome {
	o := Outcome{Details: map[string]int64{}}
	if len(env.Nodes) == 0 {
		o.Err = fmt.Errorf("objects: no nodes")
		return o
	}
	objects := max(2, 4*int(env.CPUs))
	readers := int(env.CPUs*2) * env.Scale
	plan := planObjects(env.Seed, objects, readers)
	producer, others := env.Nodes[0], env.Nodes[1:]
	if len(others) == 0 {
		others = env.Nodes
	}
	o.Expected = int64(readers)
	o.Tasks = int64(objects + readers)
	o.Details["objects"], o.Details["readers"] = int64(objects), int64(readers)
	var total int64
	for _, s := range plan.sizes {
		total += int64(s)
	}
	o.Details["object_bytes"] = total
	env.Logf("objects: %d objects (%d bytes) made on node %s, %d readers (sleep %v) on %d other nodes",
		objects, total, ids.AbbrevHex(producer), readers, env.Sleep, len(others))

	// The driver's own account of every object.
	crcs := make([]uint32, objects)
	for i, size := range plan.sizes {
		crcs[i] = crc32.Checksum(payload(env.Seed, 2, uint64(i), size), castagnoli)
	}

	made := make([]*shoal.Future[[]byte], objects)
	defer func() {
		for _, f := range made {
			if f != nil {
				f.Release()
			}
		}
	}()
	onProducer := objectsMake.With(shoal.WithNodeAffinity(producer, true))
	for i, size := range plan.sizes {
		made[i] = onProducer.Remote(ctx, i, size, env.Seed)
	}
	if _, _, err := shoal.Wait(ctx, made, len(made), -1); err != nil {
		o.Err = fmt.Errorf("objects: waiting for the objects to be made: %w", err)
		return o
	}
	futs := make([]*shoal.Future[ReadSum], readers)
	for r, pick := range plan.picks {
		b := Borrowed{IDs: pick}
		for _, i := range pick {
			b.Parts = append(b.Parts, made[i])
		}
		on := objectsRead.With(shoal.WithNodeAffinity(others[r%len(others)], true))
		futs[r] = on.Remote(ctx, b, env.Sleep)
	}
	var read, wantRead int64
	pr := newProgress("objects", readers, env.Logf)
	for r, f := range futs {
		got, err := f.Get(ctx)
		if ctx.Err() != nil {
			o.Err = fmt.Errorf("objects: %d of %d readers verified when the workload's deadline passed (%s): %w",
				o.Verified, readers, unfinished(futs[r:], r, "reader"), ctx.Err())
			return o
		}
		f.Release()
		var want ReadSum
		for _, i := range plan.picks[r] {
			want.Bytes += int64(plan.sizes[i])
			want.CRCs = append(want.CRCs, crcs[i])
		}
		wantRead += want.Bytes
		switch {
		case err != nil:
			o.problem("reader %d (objects %v) failed: %v", r, plan.picks[r], err)
		case got.Bytes != want.Bytes || !equalCRCs(got.CRCs, want.CRCs):
			read += got.Bytes
			o.problem("reader %d (objects %v) read %d bytes with checksums %08x, want %d bytes with %08x", r, plan.picks[r], got.Bytes, got.CRCs, want.Bytes, want.CRCs)
		default:
			read += got.Bytes
			o.Verified++
		}
		pr.done(r + 1)
	}
	o.LastResult = time.Now()
	o.Details["bytes_read"], o.Details["bytes_expected"] = read, wantRead
	if read != wantRead {
		o.problem("readers read %d bytes in all, want %d", read, wantRead)
	}
	return o
}

func equalCRCs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
