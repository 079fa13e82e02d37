package shoal

import "github.com/shoal-dev/shoal/internal/errs"

// Errors that callers test for with errors.Is. A failed task's error is a
// *TaskError that matches the sentinel of its kind.
var (
	ErrNotInitialized  = errs.ErrNotInitialized
	ErrUnauthenticated = errs.ErrUnauthenticated
	ErrHeadUnreachable = errs.ErrHeadUnreachable
	ErrMessageTooLarge = errs.ErrMessageTooLarge
	ErrClosed          = errs.ErrClosed

	ErrTaskFailed      = errs.ErrTaskFailed
	ErrTaskPanicked    = errs.ErrTaskPanicked
	ErrCancelled       = errs.ErrCancelled
	ErrNodeDied        = errs.ErrNodeDied
	ErrObjectLost      = errs.ErrObjectLost
	ErrUnknownFunction = errs.ErrUnknownFunction
	ErrBadArgument     = errs.ErrBadArgument
	ErrExecutor        = errs.ErrExecutor
	ErrActorDied       = errs.ErrActorDied
)

// TaskError is the error of a task that failed: which task, which function,
// on which node, and why.
type TaskError = errs.TaskError
