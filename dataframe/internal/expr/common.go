package expr

import (
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// CommonType is the type two values are converted to when they meet in one
// column (UNION, CASE, COALESCE): their type when the same, else the wider
// of two numeric types.
func CommonType(a, b types.Type) (types.Type, error) {
	if t, ok := unify(a, b); ok {
		return t, nil
	}
	return types.Type{}, fmt.Errorf("%w: %s and %s have no common type", ErrTypeMismatch, a, b)
}

// CastTo converts e to t: e itself when it already has type t (resolved),
// else a cast that Resolve checks.
func CastTo(e *Expr, t types.Type) *Expr {
	if e.resolved && e.T == t {
		return e
	}
	return &Expr{Op: OpCast, Args: []*Expr{e}, To: t}
}
