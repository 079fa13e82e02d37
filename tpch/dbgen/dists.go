package dbgen

import (
	"fmt"
	"sync"
)

// distMember is one entry of a specification distribution: a value and its
// weight as written in dists.dss.
type distMember struct {
	text   string
	weight int64
}

// distribution is a weighted value list prepared for dbgen's pick_str: a draw
// j uniform in [1, total] selects the first member whose cumulative weight is
// at least j. byDraw maps every j to that member so a pick costs one lookup.
type distribution struct {
	values []string
	cum    []int64 // cumulative weights, as dbgen's read_dist stores them
	byDraw []uint8 // byDraw[j] = member picked by draw j (index 0 unused)
}

func newDistribution(name string, members []distMember) (*distribution, error) {
	if len(members) == 0 {
		return nil, fmt.Errorf("distribution %q is empty", name)
	}
	if len(members) > 256 {
		return nil, fmt.Errorf("distribution %q has %d members; at most 256 are supported", name, len(members))
	}
	d := &distribution{values: make([]string, len(members)), cum: make([]int64, len(members))}
	var total int64
	for i, m := range members {
		total += m.weight
		d.values[i] = m.text
		d.cum[i] = total
	}
	// Only distributions with positive, non-decreasing cumulative weights can
	// be drawn from; nations (whose "weights" encode region keys) cannot.
	monotone := total > 0
	for i := 1; i < len(d.cum) && monotone; i++ {
		monotone = d.cum[i] >= d.cum[i-1]
	}
	if monotone && total <= 1<<16 {
		d.byDraw = make([]uint8, total+1)
		i := 0
		for j := int64(1); j <= total; j++ {
			for d.cum[i] < j {
				i++
			}
			d.byDraw[j] = uint8(i)
		}
	}
	return d, nil
}

// pick draws a member index from s (dbgen's pick_str).
func (d *distribution) pick(s *stream) int {
	return int(d.byDraw[s.unif(1, int64(len(d.byDraw)-1))])
}

// pickText draws a member and returns its value.
func (d *distribution) pickText(s *stream) string {
	return d.values[d.pick(s)]
}

// specDists are the distributions the generator draws from.
type specDists struct {
	colors, pTypes, pCntr, nations, regions, oPrio, instruct, smode, rflag, mseg *distribution
	// Sentence grammar of the text pool.
	nouns, verbs, adjectives, adverbs, auxiliaries, terminators, articles, prepositions, grammar, np, vp *distribution
}

// loadDists prepares the specification's distributions once per process; the
// result is read-only.
var loadDists = sync.OnceValues(func() (*specDists, error) {
	data := specDistributionData()
	var err error
	get := func(name string) *distribution {
		if err != nil {
			return nil
		}
		var d *distribution
		d, err = newDistribution(name, data[name])
		return d
	}
	d := &specDists{
		colors: get("colors"), pTypes: get("p_types"), pCntr: get("p_cntr"),
		nations: get("nations"), regions: get("regions"), oPrio: get("o_oprio"),
		instruct: get("instruct"), smode: get("smode"), rflag: get("rflag"), mseg: get("msegmnt"),
		nouns: get("nouns"), verbs: get("verbs"), adjectives: get("adjectives"), adverbs: get("adverbs"),
		auxiliaries: get("auxillaries"), terminators: get("terminators"), articles: get("articles"),
		prepositions: get("prepositions"), grammar: get("grammar"), np: get("np"), vp: get("vp"),
	}
	if err != nil {
		return nil, fmt.Errorf("dbgen: bad built-in distribution data: %w", err)
	}
	return d, nil
})

// mustDists returns the distributions; the data is compiled in, so an error
// is a bug in the generated data file and caught by the package's tests.
func mustDists() *specDists {
	d, err := loadDists()
	if err != nil {
		panic(err)
	}
	return d
}
