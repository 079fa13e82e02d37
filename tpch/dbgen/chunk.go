package dbgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
)

// groupGen generates a group's driving rows in order from a first row on,
// appending the primary and/or secondary table's text.
type groupGen struct {
	next     int64 // next driving row, 1-based
	orders   *ordersGen
	part     *partGen
	customer *customerGen
	supplier *supplierGen
	nation   *nationGen
}

func newGroupGen(env *genEnv, sc scaling, g group, first int64, wantPrimary, wantSecondary bool) *groupGen {
	gg := &groupGen{next: first}
	switch g {
	case gOrders:
		gg.orders = newOrdersGen(env, sc, first, wantPrimary, wantSecondary)
	case gPart:
		gg.part = newPartGen(env, sc, first, wantPrimary, wantSecondary)
	case gCustomer:
		gg.customer = newCustomerGen(env, first)
	case gSupplier:
		gg.supplier = newSupplierGen(env, first)
	case gNation:
		gg.nation = newNationGen(env, first, false)
	case gRegion:
		gg.nation = newNationGen(env, first, true)
	}
	return gg
}

// appendRows generates the next n driving rows and returns how many rows
// the secondary table got (lineitem or partsupp; 0 for other groups).
func (gg *groupGen) appendRows(n int64, primary, secondary *[]byte) int64 {
	row := gg.next
	gg.next += n
	switch {
	case gg.orders != nil:
		return gg.orders.appendRows(row, n, primary, secondary)
	case gg.part != nil:
		gg.part.appendRows(row, n, primary, secondary)
		return n * suppPerPart
	case gg.customer != nil:
		gg.customer.appendRows(row, n, primary)
	case gg.supplier != nil:
		gg.supplier.appendRows(row, n, primary)
	default:
		gg.nation.appendRows(row, n, primary)
	}
	return 0
}

// blockRows is how many driving rows of a group go into one text block of
// the streaming API: about half a megabyte of text.
func blockRows(g group) int64 {
	switch g {
	case gOrders, gPart:
		return 1024
	default:
		return 4096
	}
}

// ErrChunk is returned (wrapped) for a chunk index or count out of range.
var ErrChunk = errors.New("invalid chunk")

func checkChunk(chunk, chunks int) error {
	if chunks < 1 {
		return fmt.Errorf("%w: %d chunks; the number of chunks must be at least 1", ErrChunk, chunks)
	}
	if chunk < 0 || chunk >= chunks {
		return fmt.Errorf("%w: chunk %d of %d; chunks are numbered 0 to %d", ErrChunk, chunk, chunks, chunks-1)
	}
	return nil
}

// TextBlocks returns an iterator over the dbgen text of one chunk of a
// table at scale factor sf: the table's rows are split into chunks equal
// parts (orders and lineitem by order, part and partsupp by part), and
// chunk (0-based) is the part to generate. The text of chunks 0 … chunks−1
// concatenated is exactly the table's .tbl file.
//
// Each block holds whole lines ("…|\n") and is valid only until the
// iteration continues: the iterator reuses it. Memory stays bounded (about a
// megabyte) whatever the chunk's size. The iterator yields a non-nil error
// once, last, for a bad argument or when ctx is done. The first call in a
// process builds the 300 MiB text pool every comment is cut from (about a
// second); later calls share it.
func TextBlocks(ctx context.Context, table string, sf float64, chunk, chunks int) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		t, err := lookupTable(table)
		if err == nil {
			err = checkChunk(chunk, chunks)
		}
		var sc scaling
		if err == nil {
			sc, err = newScaling(sf)
		}
		var env *genEnv
		if err == nil {
			env, err = sharedEnv()
		}
		if err != nil {
			yield(nil, fmt.Errorf("dbgen: %s chunk %d/%d at SF %v: %w", table, chunk, chunks, sf, err))
			return
		}
		g, secondary := tableGroup(t)
		first, n := chunkRange(sc.drivingRows(g), chunk, chunks)
		gen := newGroupGen(env, sc, g, first, !secondary, secondary)
		step := blockRows(g)
		var buf []byte
		for n > 0 {
			if err := ctx.Err(); err != nil {
				yield(nil, fmt.Errorf("dbgen: %s chunk %d/%d at SF %v interrupted: %w", table, chunk, chunks, sf, err))
				return
			}
			rows := min(step, n)
			n -= rows
			buf = buf[:0]
			if secondary {
				gen.appendRows(rows, nil, &buf)
			} else {
				gen.appendRows(rows, &buf, nil)
			}
			if !yield(buf, nil) {
				return
			}
		}
	}
}

// WriteChunk writes the dbgen text of one chunk of a table to w; see
// TextBlocks for what a chunk is. Writing chunks 0 … chunks−1 in order
// writes the table's .tbl file.
func WriteChunk(ctx context.Context, w io.Writer, table string, sf float64, chunk, chunks int) error {
	for block, err := range TextBlocks(ctx, table, sf, chunk, chunks) {
		if err != nil {
			return err
		}
		if _, err := w.Write(block); err != nil {
			return fmt.Errorf("dbgen: writing %s chunk %d/%d: %w", table, chunk, chunks, err)
		}
	}
	return nil
}
