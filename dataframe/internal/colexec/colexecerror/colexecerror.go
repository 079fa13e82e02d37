package colexecerror

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// thrown carries an error through a panic.
type thrown struct{ err error }

// Throw aborts the current pipeline with err.
func Throw(err error) { panic(thrown{err}) }

// ErrInternal wraps panics that were not raised by Throw.
var ErrInternal = errors.New("internal error in dataframe execution")

// Catch runs f and turns a panic raised inside it into an error. Panics not
// raised with Throw are reported as ErrInternal with their stack.
func Catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if t, ok := r.(thrown); ok {
				err = t.err
				return
			}
			err = fmt.Errorf("%w: %v\n%s", ErrInternal, r, debug.Stack())
		}
	}()
	f()
	return nil
}
