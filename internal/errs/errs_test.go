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
	for _, sentinel := range []error{ErrUnauthenticated, ErrMessageTooLarge, ErrMalformed, ErrDeclaredDead} {
		err := FromStatus(ToStatus(fmt.Errorf("%w: details here", sentinel)))
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "details here") {
			t.Errorf("%v: got %v", sentinel, err)
		}
	}
}
