package dbgen

// Orders and lineitem (dbgen's mk_order): each order row draws its
// customer, date, priority, clerk, comment and number of lines, then each
// line; the order's total price and status are computed from its lines.
//
// Rows are made in batches, in two passes: the first draws every value of
// the batch and touches the text pool where each comment lies, the second
// formats. Comments sit at random offsets in 300 MiB, so each is a cache
// miss; touching them all first lets the memory system fetch them in
// parallel instead of one at a time while formatting.

const (
	orderDateMin = startDate
	// orderDateMax leaves room for the latest ship (121 days) and receipt
	// (30 days) dates within the 2557 days.
	orderDateMax = startDate + totalDates - (121 + 30) - 1

	orderBatch = 32 // orders drawn before they are formatted

	// maxOrderText bounds the text of one order and its lineitems; the
	// formatting pass makes room for it before each order.
	maxOrderText = 256 + maxLinesPerOrder*256
)

// ordersGen generates order rows and their lineitems from a given row on.
type ordersGen struct {
	env        *genEnv
	sc         scaling
	wantOrders bool
	wantLines  bool

	// order streams
	cust, date, prio, clerk, comment, lines rowStream
	// lineitem streams (one draw per line, up to seven per order)
	qty, disc, tax, instr, mode, part, supp, ship, commit, recv, rflag, lineComment rowStream

	batch   [orderBatch]orderValues
	words   *orderWords
	touches []int64 // pool offsets of the batch's comments, first and last byte
	touched byte    // keeps the touches from being optimized away
}

// orderValues is one order's drawn values.
type orderValues struct {
	key, cust, total, clerk int64
	date                    int
	status                  byte
	prio                    int
	comment                 poolText
	count                   int
	lines                   [maxLinesPerOrder]lineValues
}

type lineValues struct {
	part, supp, qty, price, disc, tax int64
	ship, commit, recv                int
	flag, status                      byte
	instr, mode                       int
	comment                           poolText
}

// poolText is a comment: where it is in the text pool and how long.
type poolText struct {
	off, n int64
}

// orderWords holds the distributions' values laid out for fixed-size copies.
type orderWords struct {
	prio, instr, mode []fixedText
}

// fixedText is a short string padded to a fixed size so that it is copied
// with a few moves; n is its real length.
type fixedText struct {
	b [textRoom]byte
	n int
}

func newFixedTexts(values []string) []fixedText {
	out := make([]fixedText, len(values))
	for i, v := range values {
		copy(out[i].b[:], v) // the specification's values are shorter than textRoom
		out[i].n = len(v)
	}
	return out
}

func newOrdersGen(env *genEnv, sc scaling, first int64, wantOrders, wantLines bool) *ordersGen {
	d := env.dists
	return &ordersGen{
		env: env, sc: sc, wantOrders: wantOrders, wantLines: wantLines,
		cust: newRowStream(sdOrdCust, first), date: newRowStream(sdOrdDate, first),
		prio: newRowStream(sdOrdPrio, first), clerk: newRowStream(sdOrdClerk, first),
		comment: newRowStream(sdOrdCmnt, first), lines: newRowStream(sdOrdLines, first),
		qty: newRowStream(sdLineQty, first), disc: newRowStream(sdLineDisc, first),
		tax: newRowStream(sdLineTax, first), instr: newRowStream(sdLineInstr, first),
		mode: newRowStream(sdLineMode, first), part: newRowStream(sdLinePart, first),
		supp: newRowStream(sdLineSupp, first), ship: newRowStream(sdLineShip, first),
		commit: newRowStream(sdLineCommit, first), recv: newRowStream(sdLineRecv, first),
		rflag: newRowStream(sdLineRflag, first), lineComment: newRowStream(sdLineCmnt, first),
		words: &orderWords{
			prio: newFixedTexts(d.oPrio.values), instr: newFixedTexts(d.instruct.values), mode: newFixedTexts(d.smode.values),
		},
	}
}

// orderKey is dbgen's mk_sparse with sequence 0: keys are sparse, 8 used of
// every 32, so that refresh functions can insert orders between them.
func orderKey(row int64) int64 {
	return (row>>3)<<5 | row&7
}

// appendRows generates order rows row..row+n-1 (1-based), appending the
// orders to *orders and the lineitems to *lines (each only if wanted), and
// returns the number of lineitems.
func (g *ordersGen) appendRows(row, n int64, orders, lines *[]byte) (lineCount int64) {
	var ob, lb []byte
	if g.wantOrders {
		ob = *orders
	}
	if g.wantLines {
		lb = *lines
	}
	for n > 0 {
		k := int(min(n, orderBatch))
		lineCount += g.draw(row, k)
		g.touch()
		for i := range k {
			v := &g.batch[i]
			if g.wantLines {
				lb = g.formatLines(lb, v)
			}
			if g.wantOrders {
				ob = g.formatOrder(ob, v)
			}
		}
		row += int64(k)
		n -= int64(k)
	}
	if g.wantOrders {
		*orders = ob
	}
	if g.wantLines {
		*lines = lb
	}
	return lineCount
}

// drawComment draws a comment's place in the pool and notes it for
// touching.
func (g *ordersGen) drawComment(s *stream, t textSpec) poolText {
	off := s.unif(0, textPoolSize-t.max)
	n := s.unif(t.min, t.max)
	g.touches = append(g.touches, off, off+n-1)
	return poolText{off, n}
}

// touch reads one byte at each noted offset. The loads are independent and
// close together, so the processor has many cache misses in flight at once;
// afterwards the comments are in the cache for the formatting pass.
func (g *ordersGen) touch() {
	pool := g.env.pool
	var t byte
	for _, off := range g.touches {
		t |= pool[off]
	}
	g.touched ^= t
	g.touches = g.touches[:0]
}

// draw draws the values of k orders from row on into g.batch and returns
// their number of lineitems.
func (g *ordersGen) draw(row int64, k int) (lineCount int64) {
	d := g.env.dists
	customers, parts, clerks := g.sc.customers, g.sc.parts, g.sc.clerks()
	for i := range k {
		v := &g.batch[i]
		v.key = orderKey(row + int64(i))
		v.date = int(g.date.unif(orderDateMin, orderDateMax) - startDate)
		v.count = int(g.lines.unif(1, maxLinesPerOrder))
		lineCount += int64(v.count)

		var total int64
		shipped := 0
		for l := range v.count {
			lv := &v.lines[l]
			lv.qty = g.qty.unif(1, 50)
			lv.disc = g.disc.unif(0, 10)
			lv.tax = g.tax.unif(0, 8)
			lv.part = g.part.unif(1, parts)
			lv.price = retailPrice(lv.part) * lv.qty
			// dbgen's integer rounding, step by step.
			total += lv.price * (100 - lv.disc) / 100 * (100 + lv.tax) / 100
			lv.ship = v.date + int(g.ship.unif(1, 121))
			lv.status = 'O'
			if lv.ship <= currentDateOffset {
				lv.status = 'F'
				shipped++
			}
			if !g.wantLines {
				continue
			}
			lv.instr = d.instruct.pick(&g.instr.stream)
			lv.mode = d.smode.pick(&g.mode.stream)
			lv.supp = g.sc.partSupplier(lv.part, g.supp.unif(0, 3))
			lv.commit = v.date + int(g.commit.unif(30, 90))
			lv.recv = lv.ship + int(g.recv.unif(1, 30))
			lv.flag = 'N'
			if lv.recv <= currentDateOffset {
				lv.flag = d.rflag.values[d.rflag.pick(&g.rflag.stream)][0]
			}
			lv.comment = g.drawComment(&g.lineComment.stream, textLineComment)
		}
		v.total = total
		v.status = 'O'
		if shipped == v.count {
			v.status = 'F'
		} else if shipped > 0 {
			v.status = 'P'
		}

		if g.wantOrders {
			cust := g.cust.unif(1, customers)
			// Every third customer places no orders: move off multiples
			// of three, alternately up and down, within the key range.
			for delta := int64(1); cust%custMortality == 0; delta = -delta {
				cust = min(cust+delta, customers)
			}
			v.cust = cust
			v.prio = d.oPrio.pick(&g.prio.stream)
			v.clerk = g.clerk.unif(1, clerks)
			v.comment = g.drawComment(&g.comment.stream, textOrderComment)
		}
		g.finishRow()
	}
	return lineCount
}

func (g *ordersGen) formatLines(b []byte, v *orderValues) []byte {
	b = makeRoom(b, maxOrderText)
	dates, pool := g.env.dates, g.env.pool
	for l := range v.count {
		lv := &v.lines[l]
		b = appendInt(b, v.key)
		b = append(b, '|')
		b = appendInt(b, lv.part)
		b = append(b, '|')
		b = appendInt(b, lv.supp)
		b = append(b, '|')
		b = appendInt(b, int64(l+1))
		b = append(b, '|')
		b = appendInt(b, lv.qty)
		b = append(b, '|')
		b = appendMoney(b, lv.price)
		b = append(b, '|')
		b = appendMoney(b, lv.disc)
		b = append(b, '|')
		b = appendMoney(b, lv.tax)
		b = append(b, '|', lv.flag, '|', lv.status, '|')
		b = appendDate(b, &dates[lv.ship])
		b = append(b, '|')
		b = appendDate(b, &dates[lv.commit])
		b = append(b, '|')
		b = appendDate(b, &dates[lv.recv])
		b = append(b, '|')
		b = appendFixed(b, &g.words.instr[lv.instr])
		b = append(b, '|')
		b = appendFixed(b, &g.words.mode[lv.mode])
		b = append(b, '|')
		b = append(b, pool[lv.comment.off:lv.comment.off+lv.comment.n]...)
		b = append(b, '|', '\n')
	}
	return b
}

func (g *ordersGen) formatOrder(b []byte, v *orderValues) []byte {
	b = makeRoom(b, maxOrderText)
	b = appendInt(b, v.key)
	b = append(b, '|')
	b = appendInt(b, v.cust)
	b = append(b, '|', v.status, '|')
	b = appendMoney(b, v.total)
	b = append(b, '|')
	b = appendDate(b, &g.env.dates[v.date])
	b = append(b, '|')
	b = appendFixed(b, &g.words.prio[v.prio])
	b = append(b, "|Clerk#"...)
	b = appendUintWidth(b, uint64(v.clerk), 9)
	b = append(b, "|0|"...)
	b = append(b, g.env.pool[v.comment.off:v.comment.off+v.comment.n]...)
	return append(b, '|', '\n')
}

func (g *ordersGen) finishRow() {
	g.date.finishRow()
	g.lines.finishRow()
	g.qty.finishRow()
	g.disc.finishRow()
	g.tax.finishRow()
	g.part.finishRow()
	g.ship.finishRow()
	if g.wantOrders {
		g.cust.finishRow()
		g.prio.finishRow()
		g.clerk.finishRow()
		g.comment.finishRow()
	}
	if g.wantLines {
		g.instr.finishRow()
		g.mode.finishRow()
		g.supp.finishRow()
		g.commit.finishRow()
		g.recv.finishRow()
		g.rflag.finishRow()
		g.lineComment.finishRow()
	}
}
