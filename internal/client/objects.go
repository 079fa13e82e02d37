package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/bigbuf"
	"github.com/shoal-dev/shoal/internal/codec"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/localstore"
	"github.com/shoal-dev/shoal/internal/retry"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/transfer"
)

// Put stores an encoded value (tag + payload given separately, so a large
// []byte is not copied) and returns its reference.
func (c *Client) Put(ctx context.Context, tag codec.Tag, payload []byte, nested [][]byte) (*Ref, error) {
	id := c.gen.Next()
	r := &Ref{ID: id, ready: make(chan struct{}), c: c}
	if len(nested) > 0 {
		r.x = &refExtras{nested: nested}
	}
	size := int64(1 + len(payload))
	p := &pb.PutObject{Id: id.Bytes(), Size: size, Nested: nested}
	if size <= c.welcome.InlineLimit {
		v := make([]byte, 0, size)
		v = append(append(v, byte(tag)), payload...)
		p.Value = v
		r.value, r.size = v, size
	} else {
		node, addr, err := c.storeRemote(ctx, id, []byte{byte(tag)}, payload)
		if err != nil {
			return nil, err
		}
		p.NodeId = node.Bytes()
		r.size, r.locs = size, []transfer.Location{{Node: node, Addr: addr}}
	}
	r.done.Store(true)
	close(r.ready)
	if err := c.track(r, nil); err != nil {
		return nil, err
	}
	if err := c.session.send(int(64+len(p.Value)), func(m *pb.ClientMessage) { m.Put = append(m.Put, p) }); err != nil {
		return nil, err
	}
	return r, nil
}

// StoreResult stores a large task result on this client's node (for
// executors); the caller reports it to the head as stored.
func (c *Client) StoreResult(ctx context.Context, id ids.ID, parts ...[]byte) error {
	_, _, err := c.storeRemote(ctx, id, parts...)
	return err
}

func (c *Client) storeRemote(ctx context.Context, id ids.ID, parts ...[]byte) (ids.ID, string, error) {
	for attempt := 0; ; attempt++ {
		node, addr, err := c.putTarget(ctx, attempt > 0)
		if err != nil {
			return ids.Nil, "", err
		}
		if st := c.cfg.LocalStores[node]; st != nil {
			// One copy, into the store's memory: the caller may reuse its
			// buffers once Put returns.
			err = putLocal(st, id, parts)
		} else if c.putShared(node, id, parts) {
			err = nil
		} else {
			err = c.data.Put(ctx, addr, id, parts...)
		}
		if err == nil {
			return node, addr, nil
		}
		if attempt > 0 || ctx.Err() != nil || !c.cfg.PutNode.IsNil() {
			return ids.Nil, "", err
		}
	}
}

// putShared has this executor's node copy a large object from this
// process's memory into its store (internal/localstore), one copy where
// the data plane makes three; it reports whether the node did.
func (c *Client) putShared(node ids.ID, id ids.ID, parts [][]byte) bool {
	if c.cfg.Shared == nil || node != c.cfg.SharedNode {
		return false
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n < localstore.PutThreshold {
		return false
	}
	ok, _ := c.cfg.Shared.Put(id, parts)
	return ok
}

// putLocal writes an object made of parts into a store in this process.
func putLocal(st LocalStore, id ids.ID, parts [][]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	r, err := st.Reserve(id, int64(n))
	if err != nil || r.Exists() {
		return err
	}
	bigbuf.ConcatInto(r.Data, parts...)
	_, err = r.Seal()
	return err
}

// noNodeWait bounds how long a Put waits for the cluster's first node.
const noNodeWait = time.Minute

func (c *Client) putTarget(ctx context.Context, refresh bool) (ids.ID, string, error) {
	c.mu.Lock()
	node, addr := c.putNode, c.putAddr
	c.mu.Unlock()
	if addr != "" && !refresh {
		return node, addr, nil
	}
	host, _ := os.Hostname()
	// A cluster may have no node yet (it is starting, or an autoscaler
	// launches its first): wait for one, as tasks wait for resources, but
	// not forever.
	deadline := time.Now().Add(noNodeWait)
	backoff := retry.Backoff{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond}
	var rep *pb.LocateReply
	for attempt := 1; ; attempt++ {
		var err error
		rep, err = c.cfg.Head.Locate(ctx, &pb.LocateRequest{Hostname: host})
		if err != nil {
			return ids.Nil, "", fmt.Errorf("asking the head where to store an object: %w", err)
		}
		if rep.DataAddr != "" {
			break
		}
		if time.Now().After(deadline) {
			return ids.Nil, "", fmt.Errorf("the cluster has had no live node to store objects on for %v: start a node (shoal node --head ...) or give the autoscaler a minimum", noNodeWait)
		}
		if err := backoff.Wait(ctx, attempt); err != nil {
			return ids.Nil, "", fmt.Errorf("waiting for a live node to store an object on: %w", err)
		}
	}
	node, _ = ids.FromBytes("node id", rep.NodeId)
	c.mu.Lock()
	c.putNode, c.putAddr = node, rep.DataAddr
	c.mu.Unlock()
	return node, rep.DataAddr, nil
}

// Wait blocks until r is ready or ctx ends. Inside a task, the task is
// reported blocked while it waits.
func (c *Client) Wait(ctx context.Context, r *Ref) error {
	select {
	case <-r.ready:
		return nil
	default:
	}
	defer c.block(ctx)()
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// block reports the task ctx runs (if any) blocked, so that its resources
// go to the work it waits for, until the function it returns is called
// (once). Every wait of a task on other work goes through it: for a
// result, and for a lost object its lineage is making again, which may
// need the very CPUs of the tasks waiting for it.
func (c *Client) block(ctx context.Context) (unblock func()) {
	tid, ok := TaskFrom(ctx)
	if !ok || c.cfg.OnBlock == nil {
		return func() {}
	}
	c.cfg.OnBlock(tid, true)
	return func() { c.cfg.OnBlock(tid, false) }
}

// Bytes waits for r and returns its encoded value, fetching it from a node
// that holds it when it did not travel inline.
func (c *Client) Bytes(ctx context.Context, r *Ref) ([]byte, error) {
	if value := r.inlineValue(); value != nil {
		// (what read would give at once, without its two closures: a
		// Get of a value at hand cost 2 allocations and ~240 ns)
		return value, nil
	}
	var out []byte
	err := c.read(ctx, r, func(value []byte) { out = value }, func(ctx context.Context, locs []transfer.Location) error {
		value, release, err := c.Fetch(ctx, r.ID, locs)
		if err != nil {
			return err
		}
		r.mu.Lock()
		released := r.Released()
		if !released && r.value == nil {
			// A view of a store's memory stays pinned until r is released.
			r.value, r.view, release = value, newViewHold(release), nil
		} else if !released {
			value = r.value // another reader's, kept
		}
		r.mu.Unlock()
		if release != nil {
			release()
		}
		if released {
			return errReleasedWhileRead
		}
		out = value
		return nil
	})
	return out, err
}

var errReleasedWhileRead = errors.New("the object was released while it was read; a released future cannot be read")

// ReadRange waits for r and returns bytes [off, off+n) of its encoded
// value: a view of a store's memory on this machine where it lies there
// (valid until release, called once; never nil), else that range fetched
// over the data plane, not the whole object.
func (c *Client) ReadRange(ctx context.Context, r *Ref, off, n int64) ([]byte, func(), error) {
	var out []byte
	release := func() {}
	inRange := func(size int) error {
		if off < 0 || n < 0 || off+n > int64(size) {
			return fmt.Errorf("%w: range [%d, +%d) of object %s (%d bytes)", errs.ErrBadArgument, off, n, r.ID.Short(), size)
		}
		return nil
	}
	var rangeErr error
	err := c.read(ctx, r, func(value []byte) {
		if rangeErr = inRange(len(value)); rangeErr != nil {
			return
		}
		// A view of a store's memory, which r holds until it is released:
		// the range holds a share of it until its own release, so that
		// releasing r first does not let go of the memory under it.
		r.mu.Lock()
		switch {
		case r.value == nil:
			rangeErr = fmt.Errorf("object %s: %w", r.ID.Short(), errReleasedWhileRead)
		case r.view != nil:
			release = r.view.share()
		}
		r.mu.Unlock()
		if rangeErr == nil {
			out = value[off : off+n]
		}
	}, func(ctx context.Context, locs []transfer.Location) error {
		if rangeErr = inRange(int(r.Size())); rangeErr != nil {
			return nil
		}
		for _, l := range locs {
			var b []byte
			var rel func()
			var ok bool
			if st := c.cfg.LocalStores[l.Node]; st != nil {
				// (a range of a spilled object is read from disk alone)
				rb, _, rrel, err := st.AcquireRange(r.ID, off, n)
				if err == nil {
					out, release = rb, rrel
					return nil
				}
			} else if l.Node == c.cfg.SharedNode && c.cfg.Shared != nil {
				b, rel, ok, _ = c.cfg.Shared.Acquire(r.ID)
			}
			if ok {
				if rangeErr = inRange(len(b)); rangeErr != nil {
					rel()
					return nil
				}
				out, release = b[off:off+n], rel
				return nil
			}
		}
		var firstErr error
		for _, l := range locs {
			b, err := c.data.GetRange(ctx, l.Addr, r.ID, uint64(off), uint64(n), nil)
			if err == nil {
				out = b
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("fetching bytes [%d, +%d) of object %s from node %s (%s): %w", off, n, r.ID.Short(), l.Node.Abbrev(), l.Addr, err)
			}
		}
		return fmt.Errorf("%w: %w", errs.ErrObjectLost, firstErr)
	})
	if err == nil {
		err = rangeErr
	}
	if err != nil {
		return nil, nil, err
	}
	return out, release, nil
}

// read waits for r, then hands its value to inline when it is known here,
// or its locations to fetch until fetch succeeds: when a fetch fails, the
// head is asked where the object is now (a drain moved it), and otherwise
// news of it is awaited (its node died: the head rebuilds it from its
// lineage, or says why it cannot). News that the copies being fetched are
// gone (the head rebuilt the object elsewhere) interrupts the fetch: a node
// that went silent holds a read until its timeouts, once per retry.
func (c *Client) read(ctx context.Context, r *Ref, inline func(value []byte), fetch func(ctx context.Context, locs []transfer.Location) error) error {
	if r.Released() {
		return fmt.Errorf("object %s was released; a released future cannot be read", r.ID.Short())
	}
	if err := c.Wait(ctx, r); err != nil {
		return err
	}
	interrupted := 0
	// A wait for news of the object (a rebuild, a copy elsewhere) reports
	// the task blocked until the read ends: the map tasks remaking a
	// shuffle's lost outputs need CPUs its reducers, waiting for them,
	// would otherwise hold (a cluster deadlocked for good).
	var unblock func()
	defer func() {
		if unblock != nil {
			unblock()
		}
	}()
	awaitNews := func() {
		if unblock == nil {
			unblock = c.block(ctx)
		}
	}
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		value, locs, err, rebuilding := r.value, r.locs, r.err, r.rebuilding
		if err == nil && value == nil && r.updated == nil {
			r.updated = make(chan struct{}) // (news of the object closes it)
		}
		updated := r.updated
		r.mu.Unlock()
		if err != nil {
			return err
		}
		if value != nil {
			inline(value)
			return nil
		}
		if len(locs) == 0 && rebuilding {
			// Not a failed attempt: the head is making the object again
			// and says when it is ready or why it cannot be.
			awaitNews()
			select {
			case <-updated:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(refetchWait):
				// No news for a while (a head that restarted meanwhile
				// knows nothing of the rebuild): ask it.
				if _, err := c.objectNow(ctx, r, locs); err != nil {
					return err
				}
			}
			attempt--
			continue
		}
		if len(locs) > 0 {
			fctx, cancel := context.WithCancel(ctx)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				r.cancelWhenMoved(fctx, locs, cancel)
			}()
			err = fetch(fctx, locs)
			moved := fctx.Err() != nil && ctx.Err() == nil
			cancel()
			<-watched
			if err == nil || errors.Is(err, errReleasedWhileRead) {
				if err != nil {
					return fmt.Errorf("object %s: %w", r.ID.Short(), err)
				}
				return nil
			}
			if moved && interrupted < maxMovedRetries {
				// Not a failed attempt: the object is elsewhere now.
				interrupted++
				attempt--
				continue
			}
		} else {
			err = fmt.Errorf("%w: object %s has no copy on any live node", errs.ErrObjectLost, r.ID.Short())
		}
		if attempt == 3 || ctx.Err() != nil {
			return err
		}
		// The copies this reader knows may have moved (a drain) or died:
		// ask the head where the object is now.
		if changed, err := c.objectNow(ctx, r, locs); err != nil {
			return err
		} else if changed {
			continue
		}
		awaitNews()
		select {
		case <-updated:
		case <-time.After(refetchWait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// LocationsFromPB is the copies a message names, as the data plane takes
// them.
func LocationsFromPB(pls []*pb.Location) []transfer.Location {
	locs := make([]transfer.Location, 0, len(pls))
	for _, l := range pls {
		n, _ := ids.FromBytes("node id", l.NodeId)
		locs = append(locs, transfer.Location{Node: n, Addr: l.DataAddr})
	}
	return locs
}

// objectNow asks the head where r is now and records its answer: changed
// when the head knows a value or copies other than known, an error when it
// says the object failed (or is unknown to it); neither while it is
// pending (or the head cannot be asked).
func (c *Client) objectNow(ctx context.Context, r *Ref, known []transfer.Location) (changed bool, err error) {
	info, ierr := c.cfg.Head.ObjectInfo(ctx, &pb.ObjectInfoRequest{Id: r.ID.Bytes()})
	if ierr != nil {
		return false, nil
	}
	switch info.State {
	case pb.ObjectState_OBJECT_STATE_READY:
		fresh := LocationsFromPB(info.Locations)
		if info.Value == nil && slices.Equal(fresh, known) {
			return false, nil
		}
		r.mu.Lock()
		if r.value == nil {
			r.value, r.locs, r.rebuilding = info.Value, fresh, false
		}
		r.mu.Unlock()
		return true, nil
	case pb.ObjectState_OBJECT_STATE_FAILED:
		return false, errs.FromInfo(info.Error)
	}
	return false, nil
}

// refetchWait bounds how long a failed fetch waits for news of the object
// before trying again: longer than the head takes to declare a node dead.
const refetchWait = 5 * time.Second

// maxMovedRetries bounds the fetches of one read that news of the object
// interrupts (each time its copies moved while it was fetched).
const maxMovedRetries = 16

// cancelWhenMoved calls cancel when r's locations no longer include every
// one of locs (the head declared a node holding them dead and the object is
// elsewhere), r failed or its value arrived inline, or ctx ends.
func (r *Ref) cancelWhenMoved(ctx context.Context, locs []transfer.Location, cancel func()) {
	for {
		r.mu.Lock()
		if r.updated == nil {
			r.updated = make(chan struct{})
		}
		news := r.updated
		moved := r.err != nil || r.value != nil || slices.ContainsFunc(locs, func(l transfer.Location) bool { return !slices.Contains(r.locs, l) })
		r.mu.Unlock()
		if moved {
			cancel()
			return
		}
		select {
		case <-news:
		case <-ctx.Done():
			return
		}
	}
}

// Fetch reads an object's bytes from the first node that serves it: from
// the memory of a store in this process without a copy (pinned until
// release, which is never nil), else over the data plane.
func (c *Client) Fetch(ctx context.Context, id ids.ID, locs []transfer.Location) ([]byte, func(), error) {
	var firstErr error
	for _, l := range locs {
		if st := c.cfg.LocalStores[l.Node]; st != nil {
			if b, release, err := st.Acquire(id); err == nil {
				return b, release, nil
			}
		}
		if l.Node == c.cfg.SharedNode && c.cfg.Shared != nil {
			if b, release, ok, _ := c.cfg.Shared.Acquire(id); ok {
				return b, release, nil
			}
		}
	}
	for _, l := range locs {
		b, err := c.data.Get(ctx, l.Addr, id, nil)
		if err == nil {
			return b, func() {}, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("fetching object %s from node %s (%s): %w", id.Short(), l.Node.Abbrev(), l.Addr, err)
		}
	}
	return nil, nil, fmt.Errorf("%w: %w", errs.ErrObjectLost, firstErr)
}

// FetchVia asks the data server at addr (this executor's own node) for an
// object, letting it pull the bytes from the hinted nodes peer-to-peer.
//
// When the node holds the object in its shared memory, the bytes are copied
// from there (a task may keep its arguments for as long as it likes, while
// the node's memory is pinned only until it is let go).
func (c *Client) FetchVia(ctx context.Context, addr string, id ids.ID, hints []transfer.Location) ([]byte, error) {
	if c.cfg.Shared != nil {
		if b, release, ok, _ := c.cfg.Shared.Acquire(id); ok {
			out := bigbuf.Concat(b)
			release()
			return out, nil
		}
	}
	b, err := c.data.Get(ctx, addr, id, hints)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching argument object %s through the local node: %w", errs.ErrObjectLost, id.Short(), err)
	}
	return b, nil
}
