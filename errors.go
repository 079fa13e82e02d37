package shoal

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shoal-dev/shoal/internal/codec"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/rpc"
)

// Errors that callers test for with errors.Is. A failed task's error is a
// *TaskError that matches the sentinel of its kind.
var (
	ErrNotInitialized  = errs.ErrNotInitialized
	ErrUnauthenticated = errs.ErrUnauthenticated
	// ErrPermissionDenied: the credential is valid but does not allow the
	// operation (a job's credential, which a submitted job's processes
	// get, used on another job or for a cluster operation).
	ErrPermissionDenied = errs.ErrPermissionDenied
	ErrHeadUnreachable  = errs.ErrHeadUnreachable
	ErrMessageTooLarge  = errs.ErrMessageTooLarge
	ErrClosed           = errs.ErrClosed

	ErrTaskFailed      = errs.ErrTaskFailed
	ErrTaskPanicked    = errs.ErrTaskPanicked
	ErrCancelled       = errs.ErrCancelled
	ErrNodeDied        = errs.ErrNodeDied
	ErrObjectLost      = errs.ErrObjectLost
	ErrUnknownFunction = errs.ErrUnknownFunction
	ErrBadArgument     = errs.ErrBadArgument
	ErrExecutor        = errs.ErrExecutor
	ErrActorDied       = errs.ErrActorDied
	// ErrInfeasible: no node of the cluster can run the task or actor (it
	// needs more than any node offers), and none can join to run it.
	ErrInfeasible = errs.ErrInfeasible
	// ErrTooManyPending: the head refused a task or call because its
	// session already had the head's cap of unfinished ones. Remote waits
	// at the session's own bound (WithMaxPendingTasks), which is never
	// above the head's cap, so only a client that bypasses it sees this.
	ErrTooManyPending = errs.ErrTooManyPending
)

// TaskError is the error of a task that failed: which task, which function,
// on which node, and why.
type TaskError = errs.TaskError

// RegisterError makes errors.Is match err in every process of the job: a
// task or actor call that fails with an error wrapping err fails, for its
// caller, with an error that errors.Is(…, err) matches too, however many
// processes it crossed. Register at package level, in a package the driver
// links (executors are the same binary), under a name unique in the
// program; it returns err:
//
//	var ErrNotFound = shoal.RegisterError("inventory.NotFound", errors.New("item not found"))
func RegisterError(name string, err error) error {
	errs.RegisterSentinel(name, err)
	return err
}

// RegisterErrorType makes errors.As find errors of type E across
// processes: the first error of type E in a failed task's error chain is
// encoded (as task values are: exported fields) and decoded again for the
// caller, where errors.As(err, &e) returns it. Register at package level,
// as RegisterError.
//
//	type QuotaError struct{ Limit int }
//	func (e *QuotaError) Error() string { return fmt.Sprintf("over quota %d", e.Limit) }
//	func init() { shoal.RegisterErrorType[*QuotaError]("billing.Quota") }
func RegisterErrorType[E error](name string) {
	errs.RegisterType(name, errs.ErrorType{
		Match: func(err error) ([]byte, bool) {
			var e E
			if !errors.As(err, &e) {
				return nil, false
			}
			b, encErr := codec.Encode(e)
			return b, encErr == nil
		},
		Decode: func(b []byte) (error, error) { return codec.DecodeAs[E](b) },
	})
}

// withPrefix marks err as this package's, once: an error that already
// starts with "shoal: " (the sentinels do, and so do errors wrapping them
// first) is returned as it is, so that no message reads "shoal: shoal:".
func withPrefix(err error) error {
	if strings.HasPrefix(err.Error(), "shoal: ") {
		return err
	}
	return fmt.Errorf("shoal: %w", err)
}

// explainDial adds what to do to a failure to reach the head that cannot
// pass by waiting: nothing listens at the address, or something other than
// a Shoal head answers there.
func explainDial(err error) error {
	var ns *rpc.NoServerError
	switch {
	case !errors.As(err, &ns):
		return err
	case ns.Refused():
		return fmt.Errorf("no Shoal head: %w: start one with `shoal head`, or give WithAddress or $SHOAL_ADDRESS the address it printed", err)
	}
	return fmt.Errorf("%w: give WithAddress or $SHOAL_ADDRESS the address `shoal head` printed", err)
}
