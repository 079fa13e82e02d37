package runtimeenv

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"
)

// ignorePattern is one compiled gitignore line.
type ignorePattern struct {
	text    string   // as written, for messages
	base    string   // slash path of the directory the pattern is relative to ("" for the root)
	segs    []string // pattern segments; "**" matches any number of segments
	negate  bool
	dirOnly bool
	source  string // where the pattern came from (".gitignore in wd/a", "Spec.Excludes", ...)
}

// ignoreRules is an ordered list of patterns; as in git, the last pattern
// that matches a path decides whether it is excluded.
type ignoreRules struct {
	patterns []ignorePattern
}

// compileIgnore compiles one gitignore-style line relative to base. It
// returns ok=false for blank lines and comments.
func compileIgnore(line, base, source string) (p ignorePattern, ok bool, err error) {
	line = strings.TrimSuffix(line, "\r")
	line = trimTrailingSpaces(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return p, false, nil
	}
	p = ignorePattern{text: line, base: base, source: source}
	if strings.HasPrefix(line, "!") {
		p.negate = true
		line = line[1:]
	} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if line == "" {
		return p, false, fmt.Errorf("%w: pattern %q (%s) names nothing", ErrBadSpec, p.text, source)
	}
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	segs := strings.Split(line, "/")
	for i, s := range segs {
		if s == "" {
			return p, false, fmt.Errorf("%w: pattern %q (%s) has an empty path segment", ErrBadSpec, p.text, source)
		}
		if strings.Contains(s, "**") && s != "**" {
			// git treats a ** that is not a whole segment like *.
			s = strings.ReplaceAll(s, "**", "*")
		}
		// fnmatch's [!...] is path.Match's [^...].
		s = strings.ReplaceAll(s, "[!", "[^")
		if _, err := path.Match(s, ""); err != nil {
			return p, false, fmt.Errorf("%w: pattern %q (%s): %v", ErrBadSpec, p.text, source, err)
		}
		segs[i] = s
	}
	if !anchored {
		segs = append([]string{"**"}, segs...)
	}
	p.segs = segs
	return p, true, nil
}

// trimTrailingSpaces drops trailing spaces unless escaped with a backslash.
func trimTrailingSpaces(s string) string {
	for strings.HasSuffix(s, " ") && !strings.HasSuffix(s, `\ `) {
		s = s[:len(s)-1]
	}
	return s
}

// add compiles lines (one pattern each) relative to base.
func (r *ignoreRules) add(lines []string, base, source string) error {
	for _, l := range lines {
		p, ok, err := compileIgnore(l, base, source)
		if err != nil {
			return err
		}
		if ok {
			r.patterns = append(r.patterns, p)
		}
	}
	return nil
}

// addFile adds the lines of a .gitignore file found in directory base.
func (r *ignoreRules) addFile(data []byte, base, source string) error {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", source, err)
	}
	return r.add(lines, base, source)
}

// with returns rules extended by more patterns, leaving r unchanged (the
// walk extends the rules per directory and pops back on the way out).
func (r ignoreRules) with(more []ignorePattern) ignoreRules {
	if len(more) == 0 {
		return r
	}
	all := make([]ignorePattern, 0, len(r.patterns)+len(more))
	all = append(all, r.patterns...)
	return ignoreRules{patterns: append(all, more...)}
}

// match reports whether rel (a slash path relative to the walk's root) is
// excluded, and the pattern that decided it.
func (r *ignoreRules) match(rel string, isDir bool) (excluded bool, by *ignorePattern) {
	var rootSegs []string
	for i := len(r.patterns) - 1; i >= 0; i-- {
		p := &r.patterns[i]
		if p.dirOnly && !isDir {
			continue
		}
		var names []string
		if p.base == "" {
			if rootSegs == nil {
				rootSegs = strings.Split(rel, "/")
			}
			names = rootSegs
		} else {
			if !strings.HasPrefix(rel, p.base+"/") {
				continue
			}
			names = strings.Split(rel[len(p.base)+1:], "/")
		}
		if matchSegments(p.segs, names) {
			return !p.negate, p
		}
	}
	return false, nil
}

// matchSegments matches pattern segments against path segments; "**"
// matches zero or more segments, except at the end of a pattern where it
// matches one or more (so "dir/**" matches what is inside dir, not dir).
func matchSegments(pat, names []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return len(names) > 0
			}
			for i := 0; i <= len(names); i++ {
				if matchSegments(rest, names[i:]) {
					return true
				}
			}
			return false
		}
		if len(names) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], names[0]); !ok {
			return false
		}
		pat, names = pat[1:], names[1:]
	}
	return len(names) == 0
}
