package dbgen

// Orders and lineitem (dbgen's mk_order): each order row draws its
// customer, date, priority, clerk, comment and number of lines, then each
// line; the order's total price and status are computed from its lines.
//
// Rows are made in batches, in two passes: the first draws every value of
// a batch and prefetches the text pool where each comment lies, the second
// formats the batch after the next one has been drawn. Comments sit at
// random offsets in 300 MiB, so each is a cache miss; this way they arrive
// while other work is done instead of stalling the copy one at a time.

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

	batches [2]orderBatchValues // drawn, and being formatted
	words   *orderWords
}

// orderBatchValues is a batch of drawn orders and where their comments are.
type orderBatchValues struct {
	orders   [orderBatch]orderValues
	n        int     // orders in the batch
	lines    int64   // lineitems in the batch
	comments []int64 // pool offsets of the comments' first and last bytes
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

// orderWords holds the texts of the order and lineitem fields that take
// few values, laid out for fixed-size copies.
type orderWords struct {
	prio, instr, mode []fixedText
	small             [51]shortText // "0|" … "50|": line numbers and quantities
	percent           [11]shortText // "0.00|" … "0.10|": discounts and taxes
}

func newOrderWords(d *specDists) *orderWords {
	w := &orderWords{prio: newFixedTexts(d.oPrio.values), instr: newFixedTexts(d.instruct.values), mode: newFixedTexts(d.smode.values)}
	var b []byte
	for i := range w.small {
		b = appendInt(makeRoom(b[:0], 8), int64(i))
		w.small[i] = newShortText(string(b) + "|")
	}
	for i := range w.percent {
		b = appendMoney(makeRoom(b[:0], 8), int64(i))
		w.percent[i] = newShortText(string(b) + "|")
	}
	return w
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
		words: newOrderWords(d),
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
	drawn, next := &g.batches[0], &g.batches[1]
	drawn.n = 0
	for n > 0 || drawn.n > 0 {
		next.n = 0
		if n > 0 {
			k := int(min(n, orderBatch))
			g.draw(next, row, k)
			row += int64(k)
			n -= int64(k)
		}
		for i := range drawn.n {
			v := &drawn.orders[i]
			if g.wantLines {
				lb = g.formatLines(lb, v)
			}
			if g.wantOrders {
				ob = g.formatOrder(ob, v)
			}
		}
		lineCount += drawn.lines
		drawn, next = next, drawn
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
// prefetching.
func (g *ordersGen) drawComment(batch *orderBatchValues, s *stream, t textSpec) poolText {
	off := s.unif(0, textPoolSize-t.max)
	n := s.unif(t.min, t.max)
	batch.comments = append(batch.comments, off, off+n-1)
	return poolText{off, n}
}

// draw draws the values of k orders from row on into batch and starts
// fetching their comments.
func (g *ordersGen) draw(batch *orderBatchValues, row int64, k int) {
	d := g.env.dists
	customers, parts, clerks := g.sc.customers, g.sc.parts, g.sc.clerks()
	batch.n, batch.lines, batch.comments = k, 0, batch.comments[:0]
	for i := range k {
		v := &batch.orders[i]
		v.key = orderKey(row + int64(i))
		v.date = int(g.date.unif(orderDateMin, orderDateMax) - startDate)
		v.count = int(g.lines.unif(1, maxLinesPerOrder))
		batch.lines += int64(v.count)

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
			lv.comment = g.drawComment(batch, &g.lineComment.stream, textLineComment)
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
			v.comment = g.drawComment(batch, &g.comment.stream, textOrderComment)
		}
		g.finishRow()
	}
	prefetch(&g.env.pool[0], batch.comments)
}

func (g *ordersGen) formatLines(b []byte, v *orderValues) []byte {
	b = makeRoom(b, maxOrderText)
	dates, pool, w := g.env.dates, g.env.pool, g.words
	// The order key starts every line: format it once (with its '|').
	var key fixedText
	key.n = len(append(appendUint(key.b[:0], uint64(v.key)), '|'))
	for l := range v.count {
		lv := &v.lines[l]
		b = appendFixed(b, &key)
		b = appendUint(b, uint64(lv.part))
		b = append(b, '|')
		b = appendUint(b, uint64(lv.supp))
		b = append(b, '|')
		b = appendShort(b, w.small[l+1])
		b = appendShort(b, w.small[lv.qty])
		b = appendMoney(b, lv.price)
		b = append(b, '|')
		b = appendShort(b, w.percent[lv.disc])
		b = appendShort(b, w.percent[lv.tax])
		b = append(b, lv.flag, '|', lv.status, '|')
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
