// Package errs holds Shoal's sentinel errors, the TaskError that carries a
// task's failure across processes, and the one place where errors become gRPC
// status codes and back.
package errs

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Sentinel errors. Callers test for them with errors.Is; the public shoal
// package re-exports them.
var (
	ErrUnauthenticated = errors.New("shoal: authentication failed")
	// ErrPermissionDenied: the caller authenticated, but its credential
	// does not allow what it asked (a job's credential used for another
	// job's work or for a cluster operation).
	ErrPermissionDenied = errors.New("shoal: permission denied")
	ErrMessageTooLarge  = errors.New("shoal: message too large")
	ErrHeadUnreachable  = errors.New("shoal: head unreachable")
	ErrNotShoal         = errors.New("shoal: not a Shoal server")
	ErrMalformed        = errors.New("shoal: malformed message")
	ErrDeclaredDead     = errors.New("shoal: node declared dead")
	ErrNotInitialized   = errors.New("shoal: no cluster in this context")
	ErrClosed           = errors.New("shoal: client closed")

	ErrTaskFailed      = errors.New("shoal: task failed")
	ErrTaskPanicked    = errors.New("shoal: task panicked")
	ErrCancelled       = errors.New("shoal: task cancelled")
	ErrNodeDied        = errors.New("shoal: node died")
	ErrObjectLost      = errors.New("shoal: object lost")
	ErrUnknownFunction = errors.New("shoal: unknown function")
	ErrBadArgument     = errors.New("shoal: bad argument")
	ErrExecutor        = errors.New("shoal: executor failure")
	ErrInfeasible      = errors.New("shoal: infeasible resource request")
	ErrDependency      = errors.New("shoal: a task's argument failed")
	ErrActorDied       = errors.New("shoal: actor died")
	// ErrTooManyPending: the head refused work of a session that already
	// had the head's cap of unfinished tasks and calls (a client that
	// ignores its bound; see docs/runtime.md).
	ErrTooManyPending = errors.New("shoal: too many unfinished tasks")
)

var kindSentinels = map[pb.ErrorKind]error{
	pb.ErrorKind_ERROR_KIND_APPLICATION:      ErrTaskFailed,
	pb.ErrorKind_ERROR_KIND_PANIC:            ErrTaskPanicked,
	pb.ErrorKind_ERROR_KIND_CANCELLED:        ErrCancelled,
	pb.ErrorKind_ERROR_KIND_NODE_DIED:        ErrNodeDied,
	pb.ErrorKind_ERROR_KIND_OBJECT_LOST:      ErrObjectLost,
	pb.ErrorKind_ERROR_KIND_UNKNOWN_FUNCTION: ErrUnknownFunction,
	pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT:     ErrBadArgument,
	pb.ErrorKind_ERROR_KIND_EXECUTOR:         ErrExecutor,
	pb.ErrorKind_ERROR_KIND_INFEASIBLE:       ErrInfeasible,
	pb.ErrorKind_ERROR_KIND_DEPENDENCY:       ErrDependency,
	pb.ErrorKind_ERROR_KIND_ACTOR_DIED:       ErrActorDied,
	pb.ErrorKind_ERROR_KIND_TOO_MANY_PENDING: ErrTooManyPending,
}

// TaskError is the failure of a task or of the object it should have made,
// as seen by whoever waits on it. errors.Is matches it against the sentinel
// of its kind (ErrTaskPanicked, ErrNodeDied, ...).
//
// An error the task returned that wraps a registered sentinel
// (shoal.RegisterError) matches that sentinel too, and one of a registered
// type (shoal.RegisterErrorType) is decoded again as Detail, which Unwrap
// returns, so errors.Is and errors.As work across processes.
type TaskError struct {
	Kind     pb.ErrorKind
	Task     ids.ID
	Function string
	Node     ids.ID
	Message  string
	// Codes name the registered sentinels the error matched; Detail is
	// the registered error value it carried, decoded (nil if none).
	Codes  []string
	Detail error
	// detail is Detail's wire form, kept to forward it unchanged.
	detailType string
	detail     []byte
}

func (e *TaskError) Error() string {
	var b strings.Builder
	if e.Function != "" || !e.Task.IsNil() {
		b.WriteString("task ")
		if e.Function != "" {
			fmt.Fprintf(&b, "%q ", e.Function)
		}
		if !e.Task.IsNil() {
			fmt.Fprintf(&b, "(%s) ", e.Task.Short())
		}
		if !e.Node.IsNil() {
			fmt.Fprintf(&b, "on node %s ", e.Node.Abbrev())
		}
		b.WriteString(kindVerb(e.Kind))
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func kindVerb(k pb.ErrorKind) string {
	switch k {
	case pb.ErrorKind_ERROR_KIND_PANIC:
		return "panicked"
	case pb.ErrorKind_ERROR_KIND_CANCELLED:
		return "was cancelled"
	case pb.ErrorKind_ERROR_KIND_NODE_DIED:
		return "lost its node"
	case pb.ErrorKind_ERROR_KIND_OBJECT_LOST:
		return "lost its result"
	case pb.ErrorKind_ERROR_KIND_UNKNOWN_FUNCTION:
		return "cannot run"
	case pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT:
		return "got a bad argument"
	case pb.ErrorKind_ERROR_KIND_INFEASIBLE:
		return "cannot be placed"
	case pb.ErrorKind_ERROR_KIND_DEPENDENCY:
		return "did not run because an argument failed"
	case pb.ErrorKind_ERROR_KIND_ACTOR_DIED:
		return "found its actor dead"
	case pb.ErrorKind_ERROR_KIND_TOO_MANY_PENDING:
		return "was refused by the head"
	default:
		return "failed"
	}
}

// Is reports whether target is the sentinel of e's kind or a registered
// sentinel the error matched where it was made.
func (e *TaskError) Is(target error) bool {
	return kindSentinels[e.Kind] == target || isRegistered(e.Codes, target)
}

// Unwrap returns the registered error value the task's error carried.
func (e *TaskError) Unwrap() error { return e.Detail }

// ToInfo converts an error into its wire form. A *TaskError keeps its kind;
// any other error becomes an application error.
func ToInfo(err error) *pb.ErrorInfo {
	var te *TaskError
	if errors.As(err, &te) {
		return &pb.ErrorInfo{Kind: te.Kind, Message: te.Message, TaskId: idBytes(te.Task), Function: te.Function, NodeId: idBytes(te.Node),
			Codes: te.Codes, DetailType: te.detailType, Detail: te.detail}
	}
	return Application(err)
}

func idBytes(id ids.ID) []byte {
	if id.IsNil() {
		return nil
	}
	return id.Bytes()
}

// FromInfo converts the wire form back into a *TaskError.
func FromInfo(info *pb.ErrorInfo) *TaskError {
	if info == nil {
		return &TaskError{Kind: pb.ErrorKind_ERROR_KIND_EXECUTOR, Message: "failed without an error description"}
	}
	te := &TaskError{Kind: info.Kind, Function: info.Function, Message: info.Message, Codes: info.Codes,
		Detail: decodeDetail(info), detailType: info.DetailType, detail: info.Detail}
	te.Task, _ = ids.FromBytes("task id", info.TaskId)
	te.Node, _ = ids.FromBytes("node id", info.NodeId)
	return te
}

// statusCodes maps the sentinels that cross gRPC boundaries to codes.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrUnauthenticated, codes.Unauthenticated},
	{ErrPermissionDenied, codes.PermissionDenied},
	{ErrMessageTooLarge, codes.ResourceExhausted},
	{ErrMalformed, codes.InvalidArgument},
	{ErrDeclaredDead, codes.FailedPrecondition},
	{ErrClosed, codes.Canceled},
}

// ToStatus converts an error returned by a server handler into a gRPC status
// error that keeps its message and its sentinel's code.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, sc := range statusCodes {
		if errors.Is(err, sc.err) {
			return status.Error(sc.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

// FromStatus converts a gRPC status error received by a client back into an
// error that wraps the matching sentinel.
func FromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	msg := st.Message()
	for _, sc := range statusCodes {
		if st.Code() == sc.code {
			if strings.HasPrefix(msg, sc.err.Error()) {
				return &wrapped{msg: msg, sentinel: sc.err}
			}
			return &wrapped{msg: sc.err.Error() + ": " + msg, sentinel: sc.err}
		}
	}
	if st.Code() == codes.Unavailable {
		return &wrapped{msg: ErrHeadUnreachable.Error() + ": " + msg, sentinel: ErrHeadUnreachable}
	}
	return err
}

type wrapped struct {
	msg      string
	sentinel error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.sentinel }
