package head

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

type objectState int

const (
	objectPending objectState = iota
	objectReady
	objectFailed
)

// object is the directory entry of one object: where its bytes are (inline
// here, or on nodes), who owns it, and who references it.
type object struct {
	id     ids.ID
	wireID []byte // id as received, reused in messages
	state  objectState
	value  []byte // inline value
	size   int64
	locs   []*nodeState
	err    *pb.ErrorInfo
	// refs counts the owner's reference (while ownerRef) and one per
	// unfinished task that takes the object as an argument.
	refs     int32
	owner    *session
	ownerRef bool
	waiting  []*task // tasks whose arguments wait for this object
	producer *task
	freed    bool
}

func (h *Head) put(s *session, p *pb.PutObject) error {
	id, err := ids.FromBytes("put object id", p.Id)
	if err != nil {
		return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	if h.objects[id] != nil {
		return nil
	}
	o := &object{id: id, wireID: p.Id, state: objectReady, owner: s, ownerRef: true, refs: 1, size: p.Size}
	h.objects[id] = o
	if p.Value != nil {
		o.value, o.size = p.Value, int64(len(p.Value))
	} else {
		nodeID, err := ids.FromBytes("put node id", p.NodeId)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		if n := h.nodes[nodeID]; n != nil && n.alive {
			h.addLocation(o, n)
		} else {
			h.objectLost(o, fmt.Sprintf("the node it was stored on (%s) is no longer in the cluster", nodeID.Short()), nil)
		}
	}
	return nil
}

func (h *Head) release(s *session, id ids.ID) {
	o := h.objects[id]
	if o == nil || o.owner != s || !o.ownerRef {
		return
	}
	o.ownerRef = false
	h.decref(o)
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
	o.freed = true
	delete(h.objects, o.id)
	o.value = nil
	id := o.wireID
	for _, n := range o.locs {
		delete(n.objects, o.id)
		if n.alive {
			n.out.Add(24, func(m *pb.HeadToNode) { m.FreeObjects = append(m.FreeObjects, id) })
		}
	}
	o.locs = nil
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
	waiting := o.waiting
	o.waiting = nil
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
	waiting := o.waiting
	o.waiting = nil
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

func (h *Head) notifyOwner(o *object) {
	if o.owner == nil || !o.ownerRef || o.owner.dead {
		return
	}
	st := &pb.ObjectStatus{Id: o.wireID, Size: o.size}
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
	}
	o.owner.out.Add(size, func(m *pb.HeadMessage) { m.Objects = append(m.Objects, st) })
}
