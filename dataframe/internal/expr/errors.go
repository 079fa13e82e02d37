package expr

import (
	"errors"
	"fmt"
)

// Errors raised while evaluating an expression (not while resolving it). Each
// reaches the caller as an *EvalError whose message is PostgreSQL's for the
// same condition; errors.Is tells the condition (the SQLSTATE class in the
// comment is what a SQL layer reports for it).
var (
	// ErrDivisionByZero: integer division or modulo by zero (22012).
	ErrDivisionByZero = errors.New("division by zero")
	// ErrOutOfRange: a result or conversion does not fit its type (22003).
	ErrOutOfRange = errors.New("value out of range")
	// ErrInvalidText: text that does not parse as the type it is cast to
	// (22P02, 22007 and 22008 for dates).
	ErrInvalidText = errors.New("invalid input syntax")
	// ErrInvalidArgument: an argument outside a function's domain, such as a
	// negative substring length or the logarithm of zero (22011, 2201E, 2201F).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidRegex: a regular expression or its flags do not compile
	// (2201B, 22023); raised for a pattern that is not a constant (a
	// constant one is refused when the expression is resolved).
	ErrInvalidRegex = errors.New("invalid regular expression")
)

// EvalError is an error raised by evaluation: Kind is one of the sentinels
// above, Msg the message shown.
type EvalError struct {
	Kind error
	Msg  string
}

func (e *EvalError) Error() string { return e.Msg }

// Unwrap returns the sentinel.
func (e *EvalError) Unwrap() error { return e.Kind }

// Errorf makes an *EvalError of the given kind.
func Errorf(kind error, format string, args ...any) *EvalError {
	return &EvalError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
