package expr

import (
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// typecheckFunc types the scalar functions (OpIntDiv…OpExtract). It sets c.T;
// the caller derives Nullable from the operands unless nullableSet says the
// function did.
func (c *Expr) typecheckFunc() (nullableSet bool, err error) {
	switch c.Op {
	case OpIntDiv:
		if err := c.wantArgs(2, 2); err != nil {
			return false, err
		}
		if err := c.numericArgs(); err != nil {
			return false, err
		}
		a, b := c.Args[0], c.Args[1]
		if a.T.IsInteger() && b.T.IsInteger() {
			c.Args[0], c.Args[1] = castTo(a, types.Int64Type), castTo(b, types.Int64Type)
			c.T = types.Int64Type
			return false, nil
		}
		c.divOperands()
	case OpMod:
		if err := c.wantArgs(2, 2); err != nil {
			return false, err
		}
		if err := c.numericArgs(); err != nil {
			return false, err
		}
		t := commonNumeric(c.Args[0].T, c.Args[1].T)
		c.Args[0], c.Args[1] = castTo(c.Args[0], t), castTo(c.Args[1], t)
		c.T = t
	case OpAbs, OpCeil, OpFloor, OpSign:
		if err := c.wantArgs(1, 1); err != nil {
			return false, err
		}
		if err := c.numericArgs(); err != nil {
			return false, err
		}
		c.T = c.Args[0].T
		if c.T.ID == types.Decimal && c.Op != OpAbs {
			c.T = types.DecimalType(0)
		}
	case OpRound:
		if err := c.wantArgs(1, 2); err != nil {
			return false, err
		}
		if err := c.numericArg(0); err != nil {
			return false, err
		}
		x := c.Args[0]
		if len(c.Args) == 1 {
			c.T = x.T
			if x.T.ID == types.Decimal {
				c.T = types.DecimalType(0)
			}
			break
		}
		n := c.Args[1]
		if n.Op != OpLit || !n.T.IsInteger() || n.Val.Null {
			return false, mismatch(c, "round's number of decimal places must be an integer constant, got %s", n)
		}
		c.Args[1] = castTo(n, types.Int64Type)
		if x.T.ID == types.Float64 {
			c.T = x.T
			break
		}
		if x.T.IsInteger() {
			x = castTo(x, types.DecimalType(0))
			c.Args[0] = x
		}
		scale := max(int32(min(max(n.Val.I, 0), 18)), 0)
		if scale > x.T.Scale {
			scale = max(min(scale, types.MaxDecimalScale), x.T.Scale)
		}
		c.T = types.DecimalType(scale)
	case OpSqrt, OpLn, OpLog10, OpExp, OpPower:
		want := 1
		if c.Op == OpPower {
			want = 2
		}
		if err := c.wantArgs(want, want); err != nil {
			return false, err
		}
		if err := c.numericArgs(); err != nil {
			return false, err
		}
		for i, a := range c.Args {
			c.Args[i] = castTo(a, types.Float64Type)
		}
		c.T = types.Float64Type
	case OpConcat:
		if err := c.wantArgs(2, 2); err != nil {
			return false, err
		}
		a, b := c.Args[0], c.Args[1]
		if a.T.ID != types.String && b.T.ID != types.String && !isNullLit(a) && !isNullLit(b) {
			return false, mismatch(c, "|| needs a string operand, got %s and %s", a.T, b.T)
		}
		c.Args[0], c.Args[1] = castTo(a, types.StringType), castTo(b, types.StringType)
		c.T = types.StringType
	case OpConcatFn, OpConcatWs:
		if err := c.wantArgs(1, -1); err != nil {
			return false, err
		}
		for i, a := range c.Args {
			c.Args[i] = castTo(a, types.StringType)
		}
		// (NULL arguments are skipped; concat_ws is NULL for a NULL separator)
		c.T, c.Nullable = types.StringType, c.Op == OpConcatWs && c.Args[0].Nullable
		return true, nil
	case OpUpper, OpLower, OpLength:
		if err := c.stringArgs(1, 1); err != nil {
			return false, err
		}
		c.T = types.StringType
		if c.Op == OpLength {
			c.T = types.Int64Type
		}
	case OpTrim, OpLTrim, OpRTrim:
		if err := c.stringArgs(1, 2); err != nil {
			return false, err
		}
		c.T = types.StringType
	case OpReplace:
		if err := c.stringArgs(3, 3); err != nil {
			return false, err
		}
		c.T = types.StringType
	case OpStrpos, OpStartsWith:
		if err := c.stringArgs(2, 2); err != nil {
			return false, err
		}
		c.T = types.Int64Type
		if c.Op == OpStartsWith {
			c.T = types.BoolType
		}
	case OpLeft, OpRight:
		if err := c.wantArgs(2, 2); err != nil {
			return false, err
		}
		if err := c.stringArg(0); err != nil {
			return false, err
		}
		if err := c.integerArg(1); err != nil {
			return false, err
		}
		c.T = types.StringType
	case OpLPad, OpRPad, OpRepeat, OpReverse, OpSplitPart:
		shape := padShapes[c.Op]
		if err := c.wantArgs(shape.lo, shape.hi); err != nil {
			return false, err
		}
		for i := range c.Args {
			var err error
			if i == shape.intAt {
				err = c.integerArg(i)
			} else {
				err = c.stringArg(i)
			}
			if err != nil {
				return false, err
			}
		}
		c.T = types.StringType
	case OpILike, OpNotILike:
		if err := c.stringArgs(1, 1); err != nil {
			return false, err
		}
		c.T = types.BoolType
	case OpCoalesce, OpGreatest, OpLeast:
		if err := c.wantArgs(1, -1); err != nil {
			return false, err
		}
		t, err := c.unifyArgs(nil)
		if err != nil {
			return false, err
		}
		c.T, c.Nullable = t, true
		for _, a := range c.Args {
			if !a.Nullable {
				c.Nullable = false
			}
		}
		return true, nil
	case OpNullIf:
		if err := c.wantArgs(2, 2); err != nil {
			return false, err
		}
		t, err := c.unifyArgs(nil)
		if err != nil {
			return false, err
		}
		c.T, c.Nullable = t, true
		return true, nil
	case OpMD5:
		if err := c.stringArgs(1, 1); err != nil {
			return false, err
		}
		c.T = types.StringType
	case OpRegexLike, OpRegexReplace:
		return false, c.typecheckRegex()
	case OpExtract:
		if err := c.wantArgs(1, 1); err != nil {
			return false, err
		}
		if err := c.wantArg(0, types.DateType, "a date"); err != nil {
			return false, err
		}
		c.Name = strings.ToLower(c.Name)
		switch c.Name {
		case "year", "month", "day", "quarter", "dow", "isodow", "doy", "week":
		default:
			return false, mismatch(c, "extract field %q is not supported for dates (year, month, day, quarter, dow, isodow, doy, week)", c.Name)
		}
		c.T = types.Int32Type
	default:
		return false, mismatch(c, "unknown operator %d", c.Op)
	}
	return false, nil
}

// divOperands types a division with a Float64 result (OpDiv, OpIntDiv on
// non-integers): exact operands (ints, decimals) stay scaled integers, which
// rounds once instead of once per operand.
func (c *Expr) divOperands() {
	a, b := c.Args[0], c.Args[1]
	if a.T.ID == types.Float64 || b.T.ID == types.Float64 {
		c.Args[0], c.Args[1] = castTo(a, types.Float64Type), castTo(b, types.Float64Type)
	} else {
		for i, x := range []*Expr{a, b} {
			if x.T.ID == types.Int32 {
				c.Args[i] = castTo(x, types.Int64Type)
			}
		}
	}
	c.T = types.Float64Type
}

func isNullLit(e *Expr) bool { return e.Op == OpLit && e.Val.Null }

func (c *Expr) wantArgs(lo, hi int) error {
	n := len(c.Args)
	switch {
	case n < lo && lo == hi:
		return mismatch(c, "%s takes %d arguments, got %d", c.Op, lo, n)
	case n < lo:
		return mismatch(c, "%s takes at least %d arguments, got %d", c.Op, lo, n)
	case hi >= 0 && n > hi:
		return mismatch(c, "%s takes at most %d arguments, got %d", c.Op, hi, n)
	}
	return nil
}

// wantArg requires argument i to have t's type ID (a null literal becomes a null of t).
func (c *Expr) wantArg(i int, t types.Type, what string) error {
	a := c.Args[i]
	if isNullLit(a) {
		c.Args[i] = castTo(a, t)
		return nil
	}
	if a.T.ID != t.ID {
		return mismatch(c, "%s needs %s, got %s", c.Op, what, a.T)
	}
	return nil
}

func (c *Expr) stringArg(i int) error { return c.wantArg(i, types.StringType, "a string") }

// padShapes are the arities of the string functions that take strings and
// at most one integer (at intAt; -1: none).
var padShapes = map[Op]struct{ lo, hi, intAt int }{
	OpLPad: {2, 3, 1}, OpRPad: {2, 3, 1}, OpRepeat: {2, 2, 1}, OpReverse: {1, 1, -1}, OpSplitPart: {3, 3, 2},
}

func (c *Expr) stringArgs(lo, hi int) error {
	if err := c.wantArgs(lo, hi); err != nil {
		return err
	}
	for i := range c.Args {
		if err := c.stringArg(i); err != nil {
			return err
		}
	}
	return nil
}

// numericArg requires a number at i and widens Int32 to Int64.
func (c *Expr) numericArg(i int) error {
	a := c.Args[i]
	switch {
	case isNullLit(a) && !a.T.IsNumeric():
		c.Args[i] = castTo(a, types.Int64Type)
	case !a.T.IsNumeric():
		return mismatch(c, "%s needs a number, got %s", c.Op, a.T)
	case a.T.ID == types.Int32:
		c.Args[i] = castTo(a, types.Int64Type)
	}
	return nil
}

func (c *Expr) numericArgs() error {
	for i := range c.Args {
		if err := c.numericArg(i); err != nil {
			return err
		}
	}
	return nil
}

// integerArg requires an integer at i, as Int64.
func (c *Expr) integerArg(i int) error {
	a := c.Args[i]
	if !a.T.IsInteger() && !isNullLit(a) {
		return mismatch(c, "%s needs an integer, got %s", c.Op, a.T)
	}
	c.Args[i] = castTo(a, types.Int64Type)
	return nil
}

// unifyArgs converts the arguments at idx (all when nil) to one type: the
// common type of the operands other than null and string literals, to which
// null literals, and string literals that read as that type, convert.
func (c *Expr) unifyArgs(idx []int) (types.Type, error) {
	if idx == nil {
		for i := range c.Args {
			idx = append(idx, i)
		}
	}
	var t types.Type
	for pass := 0; pass < 2; pass++ {
		for _, i := range idx {
			a := c.Args[i]
			strLit := a.Op == OpLit && a.T.ID == types.String
			if isNullLit(a) || strLit != (pass == 1) {
				continue
			}
			if t.ID == types.Invalid {
				t = a.T
				continue
			}
			if strLit {
				if _, ok := convertValue(a.Val, t); ok {
					continue
				}
			}
			nt, ok := unify(t, a.T)
			if !ok {
				return t, mismatch(c, "%s values have types %s and %s", c.Op, t, a.T)
			}
			t = nt
		}
	}
	if t.ID == types.Invalid {
		t = types.Int64Type
	}
	for _, i := range idx {
		c.Args[i] = castTo(c.Args[i], t)
	}
	return t, nil
}

// castAllowed reports whether OpCast converts from to to: numbers among
// themselves, anything to and from text, booleans and integers.
func castAllowed(from, to types.Type) bool {
	switch {
	case from == to, from.IsNumeric() && to.IsNumeric(), from.ID == types.String || to.ID == types.String:
		return true
	case from.ID == types.Bool && to.IsInteger(), from.IsInteger() && to.ID == types.Bool:
		return true
	}
	return false
}
