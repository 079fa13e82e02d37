package head

import (
	"fmt"
	"github.com/shoal-dev/shoal/internal/mapcompact"
	"unsafe"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

type objectState uint8

const (
	objectPending objectState = iota
	objectReady
	objectFailed
	// objectEvicted: its bytes were freed (nothing references it) but a
	// lineage still names it, so it can be rebuilt.
	objectEvicted
)

// object is the directory entry of one object: where its bytes are (inline
// here, or on nodes), who owns it, and who references it.
type object struct {
	id    ids.ID
	value []byte // inline value
	size  int64
	locs  []*nodeState
	err   *pb.ErrorInfo
	owner *session
	// producer is the task that makes the object, while it runs.
	producer *task
	// lineage is how to make the object again.
	lineage *lineage
	// links are the object's rarer relations (nil when it has none).
	links *objectLinks
	// refs counts the owner's reference (while ownerRef), one per
	// unfinished task that takes the object as an argument (or inside one),
	// one per object that holds it nested in its value, and one per session
	// that borrowed it; lineageRefs counts the lineages that name it as an
	// argument.
	refs        int32
	lineageRefs int32
	state       objectState
	ownerRef    bool
	freed       bool
}

// The head keeps an object for every future a driver holds (a million, for
// a driver that holds a million results): the fields every object has fit
// in 128 bytes, and the rest hang off links.
var _ [128 - unsafe.Sizeof(object{})]byte // (fails to compile past 128 bytes)

// objectLinks are an object's relations that most objects never have.
type objectLinks struct {
	borrowers []*session // sessions that borrowed it
	nested    []*object  // objects inside its value
	waiting   []*task    // tasks whose arguments wait for it
}

// link returns o's links, made on first use.
func (o *object) link() *objectLinks {
	if o.links == nil {
		o.links = &objectLinks{}
	}
	return o.links
}

// addWaiting records that t waits for o.
func (o *object) addWaiting(t *task) {
	l := o.link()
	l.waiting = append(l.waiting, t)
}

// borrowers and nested read o's links (nil when it has none).
func (o *object) borrowers() []*session {
	if o.links == nil {
		return nil
	}
	return o.links.borrowers
}

func (o *object) nested() []*object {
	if o.links == nil {
		return nil
	}
	return o.links.nested
}

// takeWaiting returns the tasks waiting for o and forgets them.
func (o *object) takeWaiting() []*task {
	if o.links == nil {
		return nil
	}
	w := o.links.waiting
	o.links.waiting = nil
	return w
}

// wireID is o's id as messages carry it (a view of o's own bytes).
func (o *object) wireID() []byte { return o.id[:] }

// holdNested makes o hold a reference on each object named in nested (the
// futures and actor handles inside its value). Unknown ids are skipped:
// they were released before o was made, and reading them will say so.
func (h *Head) holdNested(o *object, nested [][]byte) {
	for _, b := range nested {
		id, err := ids.FromBytes("nested object id", b)
		if err != nil {
			continue
		}
		if n := h.objects[id]; n != nil && n != o {
			n.refs++
			o.link().nested = append(o.link().nested, n)
		}
	}
}

// borrow gives session s a reference on an object it found nested in a
// value, and tells it the object's state now (or when it is ready).
//
// A session's borrows of one object are counted, one per Borrow it sent,
// and each Release takes one back: a client that released its reference
// and borrowed the object again sends both, possibly in one batch, where
// the borrows are handled before the releases. Counting keeps the new
// reference (and tells it the state) where a set would drop it, leaving
// its reader waiting forever.
func (h *Head) borrow(s *session, id ids.ID) {
	o := h.objects[id]
	if o == nil {
		st := &pb.ObjectStatus{Id: id.Bytes(), State: pb.ObjectState_OBJECT_STATE_FAILED, Error: &pb.ErrorInfo{
			Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: fmt.Sprintf("object %s was released by everything that referenced it before it was borrowed", id.Short())}}
		s.out.Add(64, func(m *pb.HeadMessage) { m.Objects = append(m.Objects, st) })
		return
	}
	if b := s.borrowed[id]; b != nil {
		b.count++
	} else {
		o.refs++
		o.link().borrowers = append(o.link().borrowers, s)
		s.borrowed[id] = &borrowing{o: o, count: 1}
	}
	if o.state != objectPending {
		h.notify(o, s)
	}
}

// borrowing is a session's borrow of an object: count Borrows not yet
// released.
type borrowing struct {
	o     *object
	count int
}

// unborrow drops every borrow s holds on o.
func (h *Head) unborrow(s *session, o *object) {
	for i, b := range o.borrowers() {
		if b == s {
			o.links.borrowers = append(o.links.borrowers[:i], o.links.borrowers[i+1:]...)
			delete(s.borrowed, o.id)
			h.decref(o)
			return
		}
	}
}

// declarePut records an object a client stored; the references it holds
// on nested objects are taken once the whole batch is declared.
func (h *Head) declarePut(s *session, p *pb.PutObject) (*object, error) {
	id, err := ids.FromBytes("put object id", p.Id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	if o := h.objects[id]; o != nil {
		if p.Pending || o.state != objectPending || o.producer != nil || o.owner != s {
			return nil, nil
		}
		// The value of an object s declared pending (a direct call's
		// result that left s before it finished).
		if err := h.fillPut(s, o, p); err != nil {
			return nil, err
		}
		return o, nil
	}
	o := &object{id: id, state: objectReady, owner: s, ownerRef: true, refs: 1, size: p.Size}
	if p.Pending {
		o.state = objectPending
	}
	h.objects[id] = o
	h.objectBytes += o.size
	h.claim(o)
	if p.Pending {
		return o, nil
	}
	return o, h.fillPut(s, o, p)
}

// fillPut records where a put object's value is (inline, on a node) or
// its failure, and wakes what waits for it when it was pending.
func (h *Head) fillPut(s *session, o *object, p *pb.PutObject) error {
	wasPending := o.state == objectPending
	o.state = objectReady
	switch {
	case p.Error != nil:
		h.objectFailed(o, p.Error)
		return nil
	case p.Value != nil:
		o.value = p.Value
		h.resizeObject(o, int64(len(p.Value)))
	default:
		nodeID, err := ids.FromBytes("put node id", p.NodeId)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		h.resizeObject(o, p.Size)
		if n := h.nodes[nodeID]; n != nil && n.alive {
			h.addLocation(o, n)
			h.keepLeasedLineage(s, o, p.Lineage)
		} else if len(o.locs) == 0 {
			h.objectLost(o, fmt.Sprintf("the node it was stored on (%s) is no longer in the cluster", nodeID.Abbrev()), nil)
			return nil
		}
	}
	if wasPending {
		h.objectReady(o)
	}
	return nil
}

func (h *Head) release(s *session, id ids.ID) {
	o := h.objects[id]
	if o == nil {
		return
	}
	if o.owner == s && o.ownerRef {
		o.ownerRef = false
		h.decref(o)
		return
	}
	if b := s.borrowed[id]; b != nil {
		if b.count--; b.count == 0 {
			h.unborrow(s, o)
		}
	}
}

func (h *Head) decref(o *object) {
	o.refs--
	h.maybeFree(o)
}

// maybeFree drops an object nobody references once it is no longer pending,
// and tells the nodes holding copies to delete them.
func (h *Head) maybeFree(o *object) {
	if o.refs > 0 || o.state == objectPending || o.freed {
		return
	}
	if o.lineageRefs > 0 {
		switch {
		case o.lineage != nil:
			// A lineage may need it rebuilt: keep the entry, not the bytes.
			h.dropData(o)
			o.state = objectEvicted
			return
		case o.value != nil:
			// Small values cannot be rebuilt but cost little: keep them
			// while a lineage names them.
			return
		}
	}
	h.dropData(o)
	o.freed = true
	delete(h.objects, o.id)
	mapcompact.Deleted(&h.objects, &h.objectDeletes)
	h.objectBytes -= o.size
	defer h.dropLineage(o)
	nested := o.nested()
	if o.links != nil {
		o.links.nested = nil
	}
	defer func() {
		for _, n := range nested {
			h.decref(n)
		}
	}()
	if a := h.actors[o.id]; a != nil && a.name == "" && a.state != actorDead {
		// The last handle to an unnamed actor is gone, and no call is
		// pending: the actor ends, as in Ray.
		h.actorDied(a, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED,
			Message: fmt.Sprintf("actor %s ended: every handle to it was released", a.label())})
	}
}

// dropData frees an object's bytes: the inline value and every node copy.
func (h *Head) dropData(o *object) {
	o.value = nil
	id := o.wireID()
	for _, n := range o.locs {
		delete(n.objects, o.id)
		if n.alive {
			n.out.Add(24, func(m *pb.HeadToNode) { m.FreeObjects = append(m.FreeObjects, id) })
		}
	}
	o.locs = nil
}

// dropStored tells node n to delete its copy of an object that will not
// be used (a discarded result).
func (h *Head) dropStored(id ids.ID, n *nodeState) {
	if n == nil || !n.alive {
		return
	}
	b := id.Bytes()
	n.out.Add(24, func(m *pb.HeadToNode) { m.FreeObjects = append(m.FreeObjects, b) })
}

func (h *Head) addLocation(o *object, n *nodeState) {
	if o.freed || !n.alive {
		return
	}
	for _, l := range o.locs {
		if l == n {
			return
		}
	}
	o.locs = append(o.locs, n)
	n.objects[o.id] = o
}

func (h *Head) removeLocation(o *object, n *nodeState) {
	for i, l := range o.locs {
		if l == n {
			o.locs = append(o.locs[:i], o.locs[i+1:]...)
			break
		}
	}
	delete(n.objects, o.id)
}

func (h *Head) objectReady(o *object) {
	o.state = objectReady
	h.notifyOwner(o)
	waiting := o.takeWaiting()
	for _, t := range waiting {
		if t.state != taskWaitingArgs {
			continue
		}
		t.depsLeft--
		if t.depsLeft == 0 {
			h.enqueue(t)
		}
	}
	h.maybeFree(o)
}

func (h *Head) objectFailed(o *object, info *pb.ErrorInfo) {
	o.state = objectFailed
	o.err = info
	h.notifyOwner(o)
	waiting := o.takeWaiting()
	for _, t := range waiting {
		if t.state == taskWaitingArgs {
			// A task whose argument failed fails with the argument's error,
			// which names the task that really failed.
			h.completeTask(t, nil, info)
		}
	}
	h.maybeFree(o)
}

func (h *Head) objectLost(o *object, msg string, n *nodeState) {
	info := &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: fmt.Sprintf("object %s was lost: %s", o.id.Short(), msg)}
	if n != nil {
		info.NodeId = n.id.Bytes()
	}
	h.objectFailed(o, info)
}

// ObjectInfo reports an object's state now: its value or current copies
// when ready, its error when failed, and no state while it is pending or
// being rebuilt.
func (h *Head) ObjectInfo(id ids.ID) *pb.ObjectStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objects[id]
	if o == nil {
		return &pb.ObjectStatus{Id: id.Bytes(), State: pb.ObjectState_OBJECT_STATE_FAILED, Error: &pb.ErrorInfo{
			Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: fmt.Sprintf("object %s was released by everything that referenced it", id.Short())}}
	}
	return h.statusOf(o)
}

func (h *Head) statusOf(o *object) *pb.ObjectStatus {
	st := &pb.ObjectStatus{Id: o.wireID(), Size: o.size}
	switch o.state {
	case objectReady:
		st.State = pb.ObjectState_OBJECT_STATE_READY
		st.Value = o.value
		for _, n := range o.locs {
			st.Locations = append(st.Locations, &pb.Location{NodeId: n.id.Bytes(), DataAddr: n.dataAddr})
		}
	case objectFailed:
		st.State = pb.ObjectState_OBJECT_STATE_FAILED
		st.Error = o.err
	}
	st.Actor = h.actorRoute(o)
	return st
}

// notifyOwner tells the owner and the borrowers of o its state.
func (h *Head) notifyOwner(o *object) {
	if o.owner != nil && o.ownerRef {
		h.notify(o, o.owner)
	}
	for _, b := range o.borrowers() {
		h.notify(o, b)
	}
}

func (h *Head) notify(o *object, to *session) {
	if to.dead {
		return
	}
	st := &pb.ObjectStatus{Id: o.wireID(), Size: o.size}
	size := 48
	switch o.state {
	case objectReady:
		st.State = pb.ObjectState_OBJECT_STATE_READY
		st.Value = o.value
		size += len(o.value)
		for _, n := range o.locs {
			st.Locations = append(st.Locations, &pb.Location{NodeId: n.id.Bytes(), DataAddr: n.dataAddr})
		}
	case objectFailed:
		st.State = pb.ObjectState_OBJECT_STATE_FAILED
		st.Error = o.err
		size += len(o.err.Message)
	case objectPending:
		// (only news of a rebuild: a first run's pending state is not news)
		st.State = pb.ObjectState_OBJECT_STATE_REBUILDING
	default:
		return // evicted: nothing holds a reference to hear of it
	}
	if st.Actor = h.actorRoute(o); st.Actor != nil {
		size += 128
	}
	to.out.Add(size, func(m *pb.HeadMessage) { m.Objects = append(m.Objects, st) })
}
