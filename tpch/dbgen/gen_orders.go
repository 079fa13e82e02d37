package dbgen

// Orders and lineitem (dbgen's mk_order): each order row draws its
// customer, date, priority, clerk, comment and number of lines, then each
// line; the order's total price and status are computed from its lines.

const (
	orderDateMin = startDate
	// orderDateMax leaves room for the latest ship (121 days) and receipt
	// (30 days) dates within the 2557 days.
	orderDateMax = startDate + totalDates - (121 + 30) - 1
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
}

func newOrdersGen(env *genEnv, sc scaling, first int64, wantOrders, wantLines bool) *ordersGen {
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
	env, d, dates := g.env, g.env.dists, g.env.dates
	customers, parts, clerks := g.sc.customers, g.sc.parts, g.sc.clerks()
	var ob, lb []byte
	if g.wantOrders {
		ob = *orders
	}
	if g.wantLines {
		lb = *lines
	}
	for ; n > 0; n, row = n-1, row+1 {
		key := orderKey(row)
		date := g.date.unif(orderDateMin, orderDateMax) - startDate
		count := g.lines.unif(1, maxLinesPerOrder)
		lineCount += count

		var total, shipped int64
		for l := int64(1); l <= count; l++ {
			qty := g.qty.unif(1, 50)
			disc := g.disc.unif(0, 10)
			tax := g.tax.unif(0, 8)
			partKey := g.part.unif(1, parts)
			price := retailPrice(partKey) * qty
			// dbgen's integer rounding, step by step.
			total += price * (100 - disc) / 100 * (100 + tax) / 100
			shipDate := date + g.ship.unif(1, 121)
			if shipDate <= currentDateOffset {
				shipped++
			}
			if !g.wantLines {
				continue
			}
			instr := d.instruct.pickText(&g.instr.stream)
			mode := d.smode.pickText(&g.mode.stream)
			suppNum := g.supp.unif(0, 3)
			commitDate := date + g.commit.unif(30, 90)
			recvDate := shipDate + g.recv.unif(1, 30)
			flag := byte('N')
			if recvDate <= currentDateOffset {
				flag = d.rflag.pickText(&g.rflag.stream)[0]
			}
			status := byte('O')
			if shipDate <= currentDateOffset {
				status = 'F'
			}

			lb = appendInt(lb, key)
			lb = append(lb, '|')
			lb = appendInt(lb, partKey)
			lb = append(lb, '|')
			lb = appendInt(lb, g.sc.partSupplier(partKey, suppNum))
			lb = append(lb, '|')
			lb = appendInt(lb, l)
			lb = append(lb, '|')
			lb = appendInt(lb, qty)
			lb = append(lb, '|')
			lb = appendMoney(lb, price)
			lb = append(lb, '|')
			lb = appendMoney(lb, disc)
			lb = append(lb, '|')
			lb = appendMoney(lb, tax)
			lb = append(lb, '|', flag, '|', status, '|')
			lb = append(lb, dates[shipDate][:]...)
			lb = append(lb, '|')
			lb = append(lb, dates[commitDate][:]...)
			lb = append(lb, '|')
			lb = append(lb, dates[recvDate][:]...)
			lb = append(lb, '|')
			lb = append(lb, instr...)
			lb = append(lb, '|')
			lb = append(lb, mode...)
			lb = append(lb, '|')
			lb = env.appendComment(lb, &g.lineComment.stream, textLineComment)
			lb = append(lb, '|', '\n')
		}

		if g.wantOrders {
			cust := g.cust.unif(1, customers)
			// Every third customer places no orders: move off multiples
			// of three, alternately up and down, within the key range.
			for delta := int64(1); cust%custMortality == 0; delta = -delta {
				cust = min(cust+delta, customers)
			}
			status := byte('O')
			if shipped == count {
				status = 'F'
			} else if shipped > 0 {
				status = 'P'
			}
			ob = appendInt(ob, key)
			ob = append(ob, '|')
			ob = appendInt(ob, cust)
			ob = append(ob, '|', status, '|')
			ob = appendMoney(ob, total)
			ob = append(ob, '|')
			ob = append(ob, dates[date][:]...)
			ob = append(ob, '|')
			ob = append(ob, d.oPrio.pickText(&g.prio.stream)...)
			ob = append(ob, "|Clerk#"...)
			ob = appendUintWidth(ob, uint64(g.clerk.unif(1, clerks)), 9)
			ob = append(ob, "|0|"...)
			ob = env.appendComment(ob, &g.comment.stream, textOrderComment)
			ob = append(ob, '|', '\n')
		}

		g.finishRow()
	}
	if g.wantOrders {
		*orders = ob
	}
	if g.wantLines {
		*lines = lb
	}
	return lineCount
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
