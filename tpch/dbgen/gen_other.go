package dbgen

// Customer, supplier, nation and region (dbgen's mk_cust, mk_supp,
// mk_nation, mk_region).

// maxRowText bounds the text of one row of customer, supplier, nation,
// region, part or partsupp (the longest, partsupp, is under 260 bytes).
const maxRowText = 320

type customerGen struct {
	env                                  *genEnv
	address, nation, phone, balance, seg rowStream
	comment                              *commentReader
}

func newCustomerGen(env *genEnv, first int64) *customerGen {
	return &customerGen{
		env:     env,
		address: newRowStream(sdCustAddr, first), nation: newRowStream(sdCustNation, first),
		phone: newRowStream(sdCustPhone, first), balance: newRowStream(sdCustBal, first),
		seg: newRowStream(sdCustSeg, first), comment: newCommentReader(env, sdCustCmnt, first, textCustComment),
	}
}

func (g *customerGen) appendRows(row, n int64, out *[]byte) {
	d, b := g.env.dists, *out
	for ; n > 0; n, row = n-1, row+1 {
		b = makeRoom(b, maxRowText)
		b = appendInt(b, row)
		b = append(b, "|Customer#"...)
		b = appendUintWidth(b, uint64(row), 9)
		b = append(b, '|')
		b = appendAlnum(b, &g.address.stream, textAddress)
		b = append(b, '|')
		nation := g.nation.unif(0, int64(len(d.nations.values)-1))
		b = appendInt(b, nation)
		b = append(b, '|')
		b = appendPhone(b, &g.phone.stream, nation)
		b = append(b, '|')
		b = appendMoney(b, g.balance.unif(-99999, 999999))
		b = append(b, '|')
		b = append(b, d.mseg.pickText(&g.seg.stream)...)
		b = append(b, '|')
		b = append(b, g.comment.comment()...)
		b = append(b, '|', '\n')
		g.address.finishRow()
		g.nation.finishRow()
		g.phone.finishRow()
		g.balance.finishRow()
		g.seg.finishRow()
	}
	*out = b
}

// Some supplier comments carry the "Customer … Complaints" or "Customer …
// Recommends" text that query 16 looks for (dbgen's BBB_* defines).
const (
	bbbPerTenThousand = 10 // S_CMNT_BBB: suppliers with such a comment, per 10,000
	bbbComplaintsPct  = 50 // BBB_DEADBEATS: of those, percent complaints
	bbbBase           = "Customer "
	bbbComplaints     = "Complaints"
	bbbRecommends     = "Recommends"
	bbbLen            = 19 // BBB_CMNT_LEN: len(bbbBase) + len(bbbComplaints)
)

type supplierGen struct {
	env                                     *genEnv
	address, nation, phone, balance         rowStream
	bbbComment, bbbType, bbbJunk, bbbOffset rowStream
	comment                                 *commentReader
}

func newSupplierGen(env *genEnv, first int64) *supplierGen {
	return &supplierGen{
		env:     env,
		address: newRowStream(sdSuppAddr, first), nation: newRowStream(sdSuppNation, first),
		phone: newRowStream(sdSuppPhone, first), balance: newRowStream(sdSuppBal, first),
		comment:    newCommentReader(env, sdSuppCmnt, first, textSuppComment),
		bbbComment: newRowStream(sdBBBCmnt, first), bbbType: newRowStream(sdBBBType, first),
		bbbJunk: newRowStream(sdBBBJunk, first), bbbOffset: newRowStream(sdBBBOffset, first),
	}
}

func (g *supplierGen) appendRows(row, n int64, out *[]byte) {
	d, b := g.env.dists, *out
	for ; n > 0; n, row = n-1, row+1 {
		b = makeRoom(b, maxRowText)
		b = appendInt(b, row)
		b = append(b, "|Supplier#"...)
		b = appendUintWidth(b, uint64(row), 9)
		b = append(b, '|')
		b = appendAlnum(b, &g.address.stream, textAddress)
		b = append(b, '|')
		nation := g.nation.unif(0, int64(len(d.nations.values)-1))
		b = appendInt(b, nation)
		b = append(b, '|')
		b = appendPhone(b, &g.phone.stream, nation)
		b = append(b, '|')
		b = appendMoney(b, g.balance.unif(-99999, 999999))
		b = append(b, '|')

		start := len(b)
		b = append(b, g.comment.comment()...)
		comment := b[start:]
		// dbgen draws these for every supplier, used or not.
		badPress := g.bbbComment.unif(1, 10000)
		kind := g.bbbType.unif(0, 100)
		noise := g.bbbJunk.unif(0, int64(len(comment))-bbbLen)
		offset := g.bbbOffset.unif(0, int64(len(comment))-(bbbLen+noise))
		if badPress <= bbbPerTenThousand {
			copy(comment[offset:], bbbBase)
			tail := comment[offset+int64(len(bbbBase))+noise:]
			if kind < bbbComplaintsPct {
				copy(tail, bbbComplaints)
			} else {
				copy(tail, bbbRecommends)
			}
		}
		b = append(b, '|', '\n')

		g.address.finishRow()
		g.nation.finishRow()
		g.phone.finishRow()
		g.balance.finishRow()
		g.bbbComment.finishRow()
		g.bbbType.finishRow()
		g.bbbJunk.finishRow()
		g.bbbOffset.finishRow()
	}
	*out = b
}

// nationGen generates nation rows (key, name, region key, comment) or, with
// region set, region rows (key, name, comment).
type nationGen struct {
	env     *genEnv
	region  bool
	comment *commentReader
}

func newNationGen(env *genEnv, first int64, region bool) *nationGen {
	spec := sdNationCmnt
	if region {
		spec = sdRegionCmnt
	}
	return &nationGen{env: env, region: region, comment: newCommentReader(env, spec, first, textNationCmnt)}
}

func (g *nationGen) appendRows(row, n int64, out *[]byte) {
	d, b := g.env.dists, *out
	for ; n > 0; n, row = n-1, row+1 {
		b = makeRoom(b, maxRowText)
		b = appendInt(b, row-1)
		b = append(b, '|')
		if g.region {
			b = append(b, d.regions.values[row-1]...)
		} else {
			b = append(b, d.nations.values[row-1]...)
			b = append(b, '|')
			// The nations list's cumulative "weights" are the region keys.
			b = appendInt(b, d.nations.cum[row-1])
		}
		b = append(b, '|')
		b = append(b, g.comment.comment()...)
		b = append(b, '|', '\n')
	}
	*out = b
}
