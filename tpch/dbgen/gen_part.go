package dbgen

// Part and partsupp (dbgen's mk_part): each part row yields the part and its
// four partsupp rows.

// partNameWords is the number of colors in a part name (P_NAME_SCL).
const partNameWords = 5

type partGen struct {
	env          *genEnv
	sc           scaling
	wantPart     bool
	wantPartSupp bool

	name, mfgr, brand, ptype, size, container rowStream
	psQty, psCost                             rowStream
	comment, psComment                        *commentReader

	identity [256]uint8 // 0, 1, 2, … for resetting the color permutation
}

func newPartGen(env *genEnv, sc scaling, first int64, wantPart, wantPartSupp bool) *partGen {
	g := &partGen{
		env: env, sc: sc, wantPart: wantPart, wantPartSupp: wantPartSupp,
		name: newRowStream(sdPartName, first), mfgr: newRowStream(sdPartMfg, first),
		brand: newRowStream(sdPartBrand, first), ptype: newRowStream(sdPartType, first),
		size: newRowStream(sdPartSize, first), container: newRowStream(sdPartCntr, first),
		comment: newCommentReader(env, sdPartCmnt, first, textPartComment),
		psQty:   newRowStream(sdPsQty, first), psCost: newRowStream(sdPsCost, first),
		psComment: newCommentReader(env, sdPsCmnt, first, textPsComment),
	}
	for i := range g.identity {
		g.identity[i] = uint8(i)
	}
	return g
}

// appendName appends a part name: dbgen shuffles the 92 colors (agg_str,
// permute) and joins the first five. Later swaps never touch the first
// positions, so five swaps give the same words; the stream skips the rest
// at the end of the row.
func (g *partGen) appendName(b []byte) []byte {
	colors := g.env.dists.colors.values
	var perm [256]uint8
	copy(perm[:len(colors)], g.identity[:len(colors)])
	last := int64(len(colors) - 1)
	for i := range partNameWords {
		j := g.name.unif(int64(i), last)
		perm[i], perm[j] = perm[j], perm[i]
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, colors[perm[i]]...)
	}
	return b
}

func (g *partGen) appendRows(row, n int64, parts, partSupps *[]byte) {
	d := g.env.dists
	var pb, sb []byte
	if g.wantPart {
		pb = *parts
	}
	if g.wantPartSupp {
		sb = *partSupps
	}
	for ; n > 0; n, row = n-1, row+1 {
		if g.wantPart {
			pb = makeRoom(pb, maxRowText)
			mfgr := g.mfgr.unif(1, 5)
			brand := g.brand.unif(1, 5)
			pb = appendInt(pb, row)
			pb = append(pb, '|')
			pb = g.appendName(pb)
			pb = append(pb, "|Manufacturer#"...)
			pb = appendInt(pb, mfgr)
			pb = append(pb, "|Brand#"...)
			pb = appendUintWidth(pb, uint64(mfgr*10+brand), 2)
			pb = append(pb, '|')
			pb = append(pb, d.pTypes.pickText(&g.ptype.stream)...)
			pb = append(pb, '|')
			pb = appendInt(pb, g.size.unif(1, 50))
			pb = append(pb, '|')
			pb = append(pb, d.pCntr.pickText(&g.container.stream)...)
			pb = append(pb, '|')
			pb = appendMoney(pb, retailPrice(row))
			pb = append(pb, '|')
			pb = append(pb, g.comment.comment()...)
			pb = append(pb, '|', '\n')
			g.name.finishRow()
			g.mfgr.finishRow()
			g.brand.finishRow()
			g.ptype.finishRow()
			g.size.finishRow()
			g.container.finishRow()
		}
		if g.wantPartSupp {
			sb = makeRoom(sb, suppPerPart*maxRowText)
			for i := range int64(suppPerPart) {
				sb = appendInt(sb, row)
				sb = append(sb, '|')
				sb = appendInt(sb, g.sc.partSupplier(row, i))
				sb = append(sb, '|')
				sb = appendInt(sb, g.psQty.unif(1, 9999))
				sb = append(sb, '|')
				sb = appendMoney(sb, g.psCost.unif(100, 100000))
				sb = append(sb, '|')
				sb = append(sb, g.psComment.comment()...)
				sb = append(sb, '|', '\n')
			}
			g.psQty.finishRow()
			g.psCost.finishRow()
		}
	}
	if g.wantPart {
		*parts = pb
	}
	if g.wantPartSupp {
		*partSupps = sb
	}
}
