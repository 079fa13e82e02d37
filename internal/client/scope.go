package client

import (
	"context"
	"errors"
	"sync"

	"github.com/shoal-dev/shoal/internal/ids"
)

// ErrTaskReturned is the cause with which an executor ends a task's context
// when the task returns: tasks it started keep running, unlike when the
// task is cancelled.
var ErrTaskReturned = errors.New("the task returned")

type taskKey struct{}

// TaskScope is what an executor knows of a running task: its ID, and the
// tasks and calls it started, which are cancelled with it. Keeping them
// here costs an append per child, where watching the task's context would
// cost a registration on it per child.
type TaskScope struct {
	ID ids.ID
	// Ctx is the task's context (before WithTask): a child started under a
	// context derived with its own deadline or cancel is watched instead.
	// (Its Done channel is made only when a task starts children.)
	Ctx      context.Context
	mu       sync.Mutex
	children []*Ref
	done     bool
	// unfinished counts the task's children that hold a share of the
	// client's bound (pending.go); drained, made by a submission waiting
	// at the bound, is closed (and cleared) when it drops to zero. Both
	// guarded by mu.
	unfinished int
	drained    chan struct{}
}

// WithTask marks ctx as running the task of scope, so that a Get that
// blocks can give the task's resources back and children can be tracked.
func WithTask(ctx context.Context, scope *TaskScope) context.Context {
	return context.WithValue(ctx, taskKey{}, scope)
}

// TaskFrom returns the task a context runs, if any.
func TaskFrom(ctx context.Context) (ids.ID, bool) {
	s, ok := ctx.Value(taskKey{}).(*TaskScope)
	if !ok {
		return ids.Nil, false
	}
	return s.ID, true
}

// TrackChild records ref as started by the task ctx runs, and reports
// whether ctx runs a task at all.
func TrackChild(ctx context.Context, ref *Ref) bool {
	s, ok := ctx.Value(taskKey{}).(*TaskScope)
	if !ok || ctx.Done() != s.Ctx.Done() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return true
	}
	if len(s.children) >= 1024 && len(s.children) == cap(s.children) {
		// Forget children that are done before growing; when most are
		// still running, grow anyway, so that each child costs O(1)
		// checks however many a task starts.
		live := s.children[:0]
		for _, r := range s.children {
			if !r.IsReady() {
				live = append(live, r)
			}
		}
		clear(s.children[len(live):])
		s.children = live
		if len(live) > cap(live)/2 {
			s.children = append(make([]*Ref, 0, 2*cap(live)), live...)
		}
	}
	s.children = append(s.children, ref)
	return true
}

// End closes the scope when its task ends; cancelled (rather than returned)
// cancels the children that have not finished.
func (s *TaskScope) End(cancelled bool) {
	s.mu.Lock()
	children := s.children
	s.children, s.done = nil, true
	s.mu.Unlock()
	if cancelled {
		for _, r := range children {
			r.Cancel()
		}
	}
}
