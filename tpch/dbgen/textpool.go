package dbgen

import (
	"fmt"
	"runtime"
	"sync"
)

// Every comment column of every table is a slice of one 300 MiB pool of
// pseudo-English text that dbgen builds at start-up (dbg_text in text.c): a
// run of sentences drawn from stream 5, each followed by a space, cut at
// exactly textPoolSize bytes. A comment is pool[offset : offset+length] with
// offset and length drawn from the column's stream.
//
// The pool is a function of nothing but the specification's word lists, so it
// is built once per process (in parallel, see buildPoolParallel) and shared,
// read-only, by every generator.

const textPoolSize = 300 * 1024 * 1024

// poolToken is one element of a sentence, noun-phrase or verb-phrase form.
type poolToken struct {
	kind  byte          // grammar: 'N', 'V', 'P', 'T'; phrases: 0
	words *distribution // phrases: the word list to draw from
	punct byte          // phrases: punctuation written after the word, or 0
}

// sentenceMaker generates dbgen's sentences (txt_sentence, txt_np, txt_vp).
type sentenceMaker struct {
	d       *specDists
	grammar [][]poolToken // by member of d.grammar
	np, vp  [][]poolToken // by member of d.np, d.vp
}

func newSentenceMaker(d *specDists) (*sentenceMaker, error) {
	m := &sentenceMaker{d: d}
	var err error
	if m.grammar, err = parseForms(d.grammar, func(c byte) (*distribution, bool) {
		return nil, c == 'N' || c == 'V' || c == 'P' || c == 'T'
	}); err != nil {
		return nil, err
	}
	if m.np, err = parseForms(d.np, func(c byte) (*distribution, bool) {
		switch c {
		case 'A':
			return d.articles, true
		case 'J':
			return d.adjectives, true
		case 'D':
			return d.adverbs, true
		case 'N':
			return d.nouns, true
		}
		return nil, false
	}); err != nil {
		return nil, err
	}
	if m.vp, err = parseForms(d.vp, func(c byte) (*distribution, bool) {
		switch c {
		case 'D':
			return d.adverbs, true
		case 'V':
			return d.verbs, true
		case 'X':
			return d.auxiliaries, true
		}
		return nil, false
	}); err != nil {
		return nil, err
	}
	for _, f := range m.vp {
		for _, t := range f {
			if t.punct != 0 {
				// dbgen's txt_vp mishandles punctuation (it leaves a byte
				// unwritten); the specification's forms have none.
				return nil, fmt.Errorf("verb phrase form with punctuation is not supported")
			}
		}
	}
	return m, nil
}

// parseForms splits each member of a form distribution ("J, J N") into
// tokens: a part-of-speech letter, optionally followed by one punctuation
// character, separated by spaces (dbgen tokenizes with strtok).
func parseForms(d *distribution, part func(byte) (*distribution, bool)) ([][]poolToken, error) {
	forms := make([][]poolToken, len(d.values))
	for i, form := range d.values {
		for j := 0; j < len(form); {
			if form[j] == ' ' {
				j++
				continue
			}
			words, ok := part(form[j])
			if !ok {
				return nil, fmt.Errorf("form %q: unknown part of speech %q", form, form[j])
			}
			tok := poolToken{kind: form[j], words: words}
			if words != nil {
				tok.kind = 0
			}
			j++
			if j < len(form) && form[j] != ' ' {
				tok.punct = form[j]
				j++
			}
			if j < len(form) && form[j] != ' ' {
				return nil, fmt.Errorf("form %q: token longer than two characters", form)
			}
			forms[i] = append(forms[i], tok)
		}
		if len(forms[i]) == 0 {
			return nil, fmt.Errorf("form %d of a grammar distribution is empty", i)
		}
	}
	return forms, nil
}

// poolWord is a word (with what follows it in the text) laid out for a
// fixed-size copy: the builder always copies all of b and advances by n.
type poolWord struct {
	b [16]byte
	n int
}

// poolChoice is one draw of the sentence grammar: the distribution's member
// for every draw and, by member, the bytes it appends.
type poolChoice struct {
	total  float64 // the draw is uniform in [1, total]
	byDraw []uint8
	words  []poolWord
}

func newPoolChoice(d *distribution, suffix string) (poolChoice, error) {
	if d.byDraw == nil {
		return poolChoice{}, fmt.Errorf("distribution of %q… cannot be drawn from", d.values[0])
	}
	c := poolChoice{total: float64(len(d.byDraw) - 1), byDraw: d.byDraw, words: make([]poolWord, len(d.values))}
	for i, v := range d.values {
		text := v + suffix
		if len(text) > len(c.words[i].b) {
			return poolChoice{}, fmt.Errorf("word %q is longer than %d bytes", text, len(c.words[i].b))
		}
		copy(c.words[i].b[:], text)
		c.words[i].n = len(text)
	}
	return c, nil
}

// poolGrammar is the sentence grammar compiled for the pool builder.
type poolGrammar struct {
	grammar      poolChoice     // draws a sentence form
	forms        [][]byte       // sentence forms: 'N', 'V', 'P', 'T' each
	np, vp       poolChoice     // draw a phrase form
	npForms      [][]poolChoice // noun phrase forms: one choice per word
	vpForms      [][]poolChoice // verb phrase forms
	prepositions poolChoice     // "<preposition> "
	the          poolWord       // "the ", after a preposition
	terminators  poolChoice     // "<terminator> "
}

func newPoolGrammar(m *sentenceMaker) (*poolGrammar, error) {
	g := &poolGrammar{}
	var err error
	choice := func(d *distribution, suffix string) poolChoice {
		if err != nil {
			return poolChoice{}
		}
		var c poolChoice
		c, err = newPoolChoice(d, suffix)
		return c
	}
	phrases := func(forms [][]poolToken) [][]poolChoice {
		out := make([][]poolChoice, len(forms))
		for i, f := range forms {
			for _, t := range f {
				suffix := " "
				if t.punct != 0 {
					suffix = string(t.punct) + " "
				}
				out[i] = append(out[i], choice(t.words, suffix))
			}
		}
		return out
	}
	// Sentence forms and phrase forms are themselves drawn: their "words"
	// are never copied, only their index is used.
	g.grammar, g.np, g.vp = choice(m.d.grammar, ""), choice(m.d.np, ""), choice(m.d.vp, "")
	g.npForms, g.vpForms = phrases(m.np), phrases(m.vp)
	g.prepositions = choice(m.d.prepositions, " ")
	g.the = poolWord{b: [16]byte{'t', 'h', 'e', ' '}, n: 4}
	g.terminators = choice(m.d.terminators, " ")
	if err != nil {
		return nil, err
	}
	for _, f := range m.grammar {
		form := make([]byte, len(f))
		for i, t := range f {
			form[i] = t.kind
		}
		if form[0] == 'T' {
			return nil, fmt.Errorf("sentence form starts with a terminator")
		}
		g.forms = append(g.forms, form)
	}
	return g, nil
}

// poolWriter appends sentences to a buffer, counting the draws it makes.
type poolWriter struct {
	g     *poolGrammar
	buf   []byte // len(buf) is the capacity in use; text is buf[:pos]
	pos   int
	seed  int64
	draws int64 // draws made since the writer's start
}

// slack is room for one sentence plus the over-copy of its last word.
const poolSlack = 512

// draw picks a member of c (pick_str) and returns its index.
func (w *poolWriter) draw(c *poolChoice) int {
	w.seed = mulMod(w.seed, rngMultiplier)
	w.draws++
	j := 1 + int64(float64(w.seed)/rngModulusF*c.total)
	return int(c.byDraw[j])
}

func (w *poolWriter) put(word *poolWord) {
	*(*[16]byte)(w.buf[w.pos:]) = word.b
	w.pos += word.n
}

func (w *poolWriter) phrase(forms [][]poolChoice, i int) {
	form := forms[i]
	for k := range form {
		c := &form[k]
		w.put(&c.words[w.draw(c)])
	}
}

// sentence appends one sentence of dbgen's grammar and the space after it.
// Phrases end in a space; a terminator replaces the last one.
func (w *poolWriter) sentence() {
	if len(w.buf)-w.pos < poolSlack {
		grown := make([]byte, 2*len(w.buf)+poolSlack)
		copy(grown, w.buf[:w.pos])
		w.buf = grown
	}
	g := w.g
	for _, kind := range g.forms[w.draw(&g.grammar)] {
		switch kind {
		case 'N':
			w.phrase(g.npForms, w.draw(&g.np))
		case 'V':
			w.phrase(g.vpForms, w.draw(&g.vp))
		case 'P':
			w.put(&g.prepositions.words[w.draw(&g.prepositions)])
			w.put(&g.the)
			w.phrase(g.npForms, w.draw(&g.np))
		case 'T':
			w.pos--
			w.put(&g.terminators.words[w.draw(&g.terminators)])
		}
	}
}

// buildPoolSequential builds the first size bytes of the pool the way dbgen
// does: sentence after sentence from the start of stream 5. free releases
// the pool's memory.
func buildPoolSequential(g *poolGrammar, size int) (pool []byte, free func()) {
	buf, free := allocLarge(size + poolSlack)
	w := poolWriter{g: g, buf: buf, seed: sdTextPool.seed}
	for w.pos < size {
		w.sentence()
	}
	return w.buf[:size:size], free
}

// Building the pool is one sequential walk through stream 5, because each
// sentence uses a number of draws that depends on the draws themselves. It is
// parallelized by speculation: worker k starts at draw k·D/W as if a sentence
// began there. Its first sentences are garbage, but a misaligned walk soon
// starts a sentence at a draw where the true walk starts one too, and from
// there on both are the same text. Each worker records where its sentences
// start just after its own start and just after its successor's start; the
// first start they share is where one worker's text is cut and the next one's
// begins.
//
// Every worker writes straight into the pool's buffer, into an area that
// starts a little after where its text is expected to land; afterwards each
// worker's good text is moved down to follow its predecessor's. If a worker
// fills its area or no common start turns up (neither has been seen with the
// real pool, but both are possible), the pool is built sequentially; a test
// forces both cases and compares with the sequential build.

// poolDrawsPerByte estimates the draws the pool needs per byte of text; an
// error only costs time (a sequential tail or wasted work), never bytes.
const poolDrawsPerByte = 0.2031

// poolSyncWindow is how many draws past a segment's start its sentence
// starts are recorded to find the common one.
const poolSyncWindow = 1 << 16

// poolSplit says how buildPoolParallel splits the work; tests vary it.
type poolSplit struct {
	drawsPerByte float64 // estimate of the draws per byte of text
	window       int64   // draws in which segments look for a common start
}

var defaultPoolSplit = poolSplit{drawsPerByte: poolDrawsPerByte, window: poolSyncWindow}

// sentenceStart is where a sentence starts: draw index and byte offset.
type sentenceStart struct {
	draw int64
	pos  int
}

type poolSegment struct {
	w          poolWriter // writes into the segment's area of the pool buffer
	base       int        // where the area starts in the pool buffer
	window     int64
	start, end int64           // draws
	head, tail []sentenceStart // starts in [start, start+window) and [end, end+window)
}

func (s *poolSegment) run(last bool) {
	for len(s.w.buf)-s.w.pos >= poolSlack { // stop when the area is full
		d := s.start + s.w.draws
		if d < s.start+s.window {
			s.head = append(s.head, sentenceStart{d, s.w.pos})
		}
		if d >= s.end {
			if last || d >= s.end+s.window {
				return
			}
			s.tail = append(s.tail, sentenceStart{d, s.w.pos})
		}
		s.w.sentence()
	}
}

// firstCommon returns the first draw index present in both sorted lists.
func firstCommon(a, b []sentenceStart) (int, int, bool) {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].draw == b[j].draw:
			return i, j, true
		case a[i].draw < b[j].draw:
			i++
		default:
			j++
		}
	}
	return 0, 0, false
}

// buildPoolParallel builds the same bytes as buildPoolSequential with up to
// workers goroutines.
func buildPoolParallel(g *poolGrammar, size, workers int, split poolSplit) (pool []byte, free func()) {
	totalDraws := int64(float64(size)*split.drawsPerByte*1.005) + 1
	if workers < 2 || totalDraws < 8*split.window*int64(workers) {
		return buildPoolSequential(g, size)
	}
	// The gap between areas absorbs the error of the estimate and the text a
	// worker writes past its end while it looks for the common start.
	gap := max(1<<20, size/128)
	buf, free := allocLarge(size + workers*gap + poolSlack)
	segs := make([]*poolSegment, workers)
	for k := range segs {
		start, end := totalDraws*int64(k)/int64(workers), totalDraws*int64(k+1)/int64(workers)
		base := 0
		if k > 0 {
			base = int(float64(start)/split.drawsPerByte) + k*gap
		}
		segs[k] = &poolSegment{start: start, end: end, base: base, window: split.window,
			w: poolWriter{g: g, seed: mulMod(sdTextPool.seed, powMod(start))}}
	}
	var wg sync.WaitGroup
	for k, seg := range segs {
		limit := len(buf)
		if k+1 < len(segs) {
			limit = segs[k+1].base
		}
		seg.w.buf = buf[seg.base:limit:limit]
		wg.Go(func() { seg.run(k == workers-1) })
	}
	wg.Wait()

	// Segment k's good text runs from where it meets segment k−1 to where it
	// meets segment k+1 (segment 0 from its start; the last to its end).
	// Moving each down to follow the previous one only ever moves text to
	// lower addresses, never over text still to be moved.
	n, from := 0, 0
	for k, seg := range segs {
		to := seg.w.pos
		next := 0
		if k+1 < len(segs) {
			i, j, ok := firstCommon(seg.tail, segs[k+1].head)
			if !ok {
				free()
				return buildPoolSequential(g, size)
			}
			to, next = seg.tail[i].pos, segs[k+1].head[j].pos
		}
		n += copy(buf[n:], buf[seg.base+from:seg.base+to])
		from = next
	}
	if n < size {
		// The estimate fell short: continue the last worker's walk.
		last := segs[len(segs)-1]
		w := poolWriter{g: g, buf: buf, pos: n, seed: last.w.seed}
		for w.pos < size {
			w.sentence()
		}
		if &w.buf[0] != &buf[0] {
			free() // the walk outgrew the buffer into the Go heap
			free = func() {}
		}
		buf = w.buf
	}
	return buf[:size:size], free
}

// textPool is the shared pool of comment text.
type textPool struct {
	text []byte // exactly textPoolSize bytes
}

// sharedTextPool builds the pool on first use and keeps it for the life of
// the process: it is immutable and every generator reads it.
var sharedTextPool = sync.OnceValues(func() (*textPool, error) {
	g, err := compiledGrammar()
	if err != nil {
		return nil, err
	}
	// The pool lives as long as the process: its memory is never freed.
	pool, _ := buildPoolParallel(g, textPoolSize, runtime.GOMAXPROCS(0), defaultPoolSplit)
	return &textPool{text: pool}, nil
})

// compiledGrammar prepares the sentence grammar for the pool builder.
func compiledGrammar() (*poolGrammar, error) {
	d, err := loadDists()
	if err != nil {
		return nil, err
	}
	m, err := newSentenceMaker(d)
	if err != nil {
		return nil, fmt.Errorf("dbgen: bad built-in grammar: %w", err)
	}
	g, err := newPoolGrammar(m)
	if err != nil {
		return nil, fmt.Errorf("dbgen: bad built-in grammar: %w", err)
	}
	return g, nil
}
