package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func TestTaskErrorRoundTripKeepsKind(t *testing.T) {
	task := ids.NewGenerator().Next()
	in := &TaskError{Kind: pb.ErrorKind_ERROR_KIND_PANIC, Task: task, Function: "square", Message: "boom"}
	out := FromInfo(ToInfo(in))
	if !errors.Is(out, ErrTaskPanicked) || errors.Is(out, ErrTaskFailed) {
		t.Fatalf("kind lost: %v", out)
	}
	if out.Task != task || !strings.Contains(out.Error(), `task "square"`) || !strings.Contains(out.Error(), "panicked: boom") {
		t.Fatalf("message: %v", out)
	}
	if app := FromInfo(ToInfo(errors.New("plain"))); !errors.Is(app, ErrTaskFailed) {
		t.Fatalf("plain error should be an application failure: %v", app)
	}
}

func TestStatusRoundTrip(t *testing.T) {
	for _, sentinel := range []error{ErrUnauthenticated, ErrPermissionDenied, ErrMessageTooLarge, ErrMalformed, ErrDeclaredDead} {
		err := FromStatus(ToStatus(fmt.Errorf("%w: details here", sentinel)))
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "details here") {
			t.Errorf("%v: got %v", sentinel, err)
		}
	}
}

var errTestGone = errors.New("gone")

type testLimitError struct{ Limit int }

func (e *testLimitError) Error() string { return fmt.Sprintf("limit %d", e.Limit) }

func init() {
	RegisterSentinel("errs_test.Gone", errTestGone)
	RegisterType("errs_test.Limit", ErrorType{
		Match: func(err error) ([]byte, bool) {
			var e *testLimitError
			if !errors.As(err, &e) {
				return nil, false
			}
			return []byte(fmt.Sprint(e.Limit)), true
		},
		Decode: func(b []byte) (error, error) {
			var n int
			_, err := fmt.Sscan(string(b), &n)
			return &testLimitError{Limit: n}, err
		},
	})
}

// Registered errors survive the wire form, and so do the kinds of errors
// of tasks that a task's own error wraps (a nested task's).
func TestRegisteredErrorsRoundTrip(t *testing.T) {
	nested := FromInfo(&pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, Message: "actor A was killed"})
	for _, tc := range []struct {
		name    string
		err     error
		is      []error
		isNot   []error
		limit   int
		message string
	}{
		{"sentinel", fmt.Errorf("reading: %w", errTestGone), []error{errTestGone, ErrTaskFailed}, []error{ErrActorDied}, 0, "reading: gone"},
		{"type", fmt.Errorf("quota: %w", &testLimitError{Limit: 9}), []error{ErrTaskFailed}, []error{errTestGone}, 9, "quota: limit 9"},
		{"nested task's kind", fmt.Errorf("calling A: %w", nested), []error{ErrActorDied, ErrTaskFailed}, []error{ErrCancelled}, 0, "actor A was killed"},
		{"plain", errors.New("plain"), []error{ErrTaskFailed}, []error{errTestGone, ErrActorDied}, 0, "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice over the wire: a parent forwards its child's error.
			got := FromInfo(ToInfo(fmt.Errorf("parent: %w", FromInfo(Application(tc.err)))))
			for _, target := range tc.is {
				if !errors.Is(got, target) {
					t.Errorf("errors.Is(%v, %v) = false", got, target)
				}
			}
			for _, target := range tc.isNot {
				if errors.Is(got, target) {
					t.Errorf("errors.Is(%v, %v) = true", got, target)
				}
			}
			var le *testLimitError
			if errors.As(got, &le) != (tc.limit != 0) || le != nil && le.Limit != tc.limit {
				t.Errorf("errors.As(%v, *testLimitError) = %v", got, le)
			}
			if !strings.Contains(got.Error(), tc.message) {
				t.Errorf("%q does not hold %q", got.Error(), tc.message)
			}
		})
	}
}
