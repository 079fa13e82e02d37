package dbgen

import (
	"bytes"
	"testing"
)

// The reference sentence generator below follows dbgen's txt_sentence,
// txt_np and txt_vp step by step with plain appends; the pool builder's
// fixed-size copies and parallel speculation must produce the same bytes.

func refPhrase(out []byte, form []poolToken, s *stream) []byte {
	for _, t := range form {
		out = append(out, t.words.pickText(s)...)
		if t.punct != 0 {
			out = append(out, t.punct)
		}
		out = append(out, ' ')
	}
	return out
}

func refSentence(m *sentenceMaker, out []byte, s *stream) []byte {
	for _, t := range m.grammar[m.d.grammar.pick(s)] {
		switch t.kind {
		case 'N':
			out = refPhrase(out, m.np[m.d.np.pick(s)], s)
		case 'V':
			out = refPhrase(out, m.vp[m.d.vp.pick(s)], s)
		case 'P':
			out = append(out, m.d.prepositions.pickText(s)...)
			out = append(out, " the "...)
			out = refPhrase(out, m.np[m.d.np.pick(s)], s)
		case 'T':
			out = append(out[:len(out)-1], m.d.terminators.pickText(s)...)
			out = append(out, ' ')
		}
	}
	return out
}

func refPool(t *testing.T, size int) []byte {
	t.Helper()
	m, err := newSentenceMaker(mustDists())
	if err != nil {
		t.Fatal(err)
	}
	s := stream{seed: sdTextPool.seed}
	var out []byte
	longest := 0
	for len(out) < size {
		n := len(out)
		out = refSentence(m, out, &s)
		longest = max(longest, len(out)-n)
	}
	if longest+32 > poolSlack {
		t.Fatalf("a sentence of %d bytes does not fit the builder's slack of %d", longest, poolSlack)
	}
	return out[:size]
}

func TestTextPoolBuilders(t *testing.T) {
	const size = 32 << 20
	want := refPool(t, size)
	g, err := compiledGrammar()
	if err != nil {
		t.Fatal(err)
	}
	got, free := buildPoolSequential(g, size)
	if !bytes.Equal(got, want) {
		t.Fatalf("sequential builder differs from the reference at byte %d", firstDiff(got, want))
	}
	free()
	for _, tc := range []struct {
		name    string
		workers int
		split   poolSplit
	}{
		{"2 workers", 2, defaultPoolSplit},
		{"3 workers", 3, defaultPoolSplit},
		{"5 workers", 5, defaultPoolSplit},
		// Too few draws estimated: the last segment's walk is continued.
		{"short estimate", 3, poolSplit{drawsPerByte: 0.15, window: poolSyncWindow}},
		// Too many: the text is cut.
		{"long estimate", 3, poolSplit{drawsPerByte: 0.3, window: poolSyncWindow}},
		// A window too small to find a common sentence start: sequential.
		{"no common start", 2, poolSplit{drawsPerByte: poolDrawsPerByte, window: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, free := buildPoolParallel(g, size, tc.workers, tc.split)
			defer free()
			if !bytes.Equal(got, want) {
				t.Fatalf("parallel builder differs from the reference at byte %d", firstDiff(got, want))
			}
		})
	}
}

func TestSharedTextPool(t *testing.T) {
	p, err := sharedTextPool()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.text) != textPoolSize {
		t.Fatalf("pool has %d bytes, want %d", len(p.text), textPoolSize)
	}
	// dbgen's pool starts with these words (stream 5 from its seed).
	const start = "furiously special foxes haggle furiously blithely ironic deposits. "
	if !bytes.HasPrefix(p.text, []byte(start)) {
		t.Fatalf("pool starts %q, want %q", p.text[:len(start)], start)
	}
	if i := bytes.IndexByte(p.text, 0); i >= 0 {
		t.Fatalf("pool has a NUL byte at %d", i)
	}
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
