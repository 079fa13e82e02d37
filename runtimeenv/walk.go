package runtimeenv

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Archive paths: the binary goes under binDir, the working directory and
// extra files under workDir, and the manifest is the archive's first entry.
const (
	manifestName = "manifest.json"
	binDir       = "bin"
	workDir      = "wd"
)

// entry is one file, directory or symbolic link to pack.
type entry struct {
	File
	src    string // absolute path on disk (regular files)
	follow bool   // src may be a symbolic link (the binary and extra files)
	stamp  stamp
}

// stamp is what the pack cache compares to decide a file is unchanged.
type stamp struct {
	size, mtime, ctime int64
	ino, dev           uint64
	mode               fs.FileMode
}

func stampOf(fi os.FileInfo) stamp {
	ino, dev, ctime := sysStamp(fi)
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), ctime: ctime, ino: ino, dev: dev, mode: fi.Mode()}
}

// walked is the result of walking a Spec: every entry, sorted by path.
type walked struct {
	entries []entry
	env     []string
	binary  string // archive path of the binary
	content int64  // sum of regular file sizes
	specKey string // the Spec in a canonical form, for the pack cache
	notes   []string
}

// walker collects the entries of a Spec.
type walker struct {
	byName  map[string]*entry
	notes   []string // skipped symbolic links and special files
	binInfo os.FileInfo
}

// walk resolves a Spec into the list of entries to pack, checking every
// input on the way.
func walk(ctx context.Context, spec Spec) (*walked, error) {
	env, err := validateEnv(spec.Env)
	if err != nil {
		return nil, err
	}
	if spec.Binary == "" {
		return nil, fmt.Errorf("%w: Spec.Binary is empty: name the job's executable (os.Executable() for the running program)", ErrBadSpec)
	}
	binPath, binInfo, err := absPath(spec.Binary, "binary")
	if err != nil {
		return nil, err
	}
	if !binInfo.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: binary %s is not a regular file", ErrBadSpec, binPath)
	}
	if err := readable(binPath); err != nil {
		return nil, fmt.Errorf("%w: binary %s: %w", ErrBadSpec, binPath, err)
	}
	w := &walker{byName: make(map[string]*entry), binInfo: binInfo}
	binName := path.Join(binDir, filepath.Base(binPath))
	w.add(entry{File: File{Path: binDir, Type: TypeDir}})
	w.add(entry{File: File{Path: binName, Size: binInfo.Size(), Exec: true}, src: binPath, follow: true, stamp: stampOf(binInfo)})
	w.add(entry{File: File{Path: workDir, Type: TypeDir}})

	var key strings.Builder
	fmt.Fprintf(&key, "format=%d\nhash=%s\nbinary=%s\nenv=%q\nnodefault=%v\nnogitignore=%v\n", formatVersion, contentHashName, binPath, env, spec.NoDefaultExcludes, spec.NoGitignore)

	var defaults ignoreRules
	if !spec.NoDefaultExcludes {
		if err := defaults.add(DefaultExcludes(), "", "the default excludes"); err != nil {
			return nil, err
		}
	}
	var user ignoreRules
	if err := user.add(spec.Excludes, "", "Spec.Excludes"); err != nil {
		return nil, err
	}
	if spec.WorkingDir != "" {
		root, fi, err := absPath(spec.WorkingDir, "working directory")
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%w: working directory %s is not a directory", ErrBadSpec, root)
		}
		fmt.Fprintf(&key, "workdir=%s\nexcludes=%q\n", root, spec.Excludes)
		t := tree{root: root, prefix: workDir, gitignore: !spec.NoGitignore, user: user}
		if err := w.walkDir(ctx, &t, "", defaults); err != nil {
			return nil, err
		}
	}
	extras := make([]string, 0, len(spec.ExtraFiles))
	for dest := range spec.ExtraFiles {
		extras = append(extras, dest)
	}
	slices.Sort(extras)
	for _, dest := range extras {
		src := spec.ExtraFiles[dest]
		if err := w.addExtra(ctx, dest, src, defaults); err != nil {
			return nil, err
		}
		fmt.Fprintf(&key, "extra=%q:%q\n", dest, src)
	}

	out := &walked{env: env, binary: binName, specKey: key.String(), notes: w.notes}
	out.entries = make([]entry, 0, len(w.byName))
	for _, e := range w.byName {
		out.entries = append(out.entries, *e)
	}
	slices.SortFunc(out.entries, func(a, b entry) int { return strings.Compare(a.Path, b.Path) })
	for _, e := range out.entries {
		if parent := path.Dir(e.Path); parent != "." {
			p, ok := w.byName[parent]
			if !ok || p.Type != TypeDir {
				return nil, fmt.Errorf("%w: %s would be packed inside %s, which is not a directory (an extra file's destination clashes with the working directory)", ErrBadSpec, e.Path, parent)
			}
		}
		if e.Type == TypeFile {
			out.content += e.Size
		}
	}
	return out, nil
}

func readable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return f.Close()
}

func (w *walker) add(e entry) { w.byName[e.Path] = &e }

// tree is a directory being walked into the archive under prefix.
type tree struct {
	root      string // absolute, no symbolic links
	prefix    string // archive path of root
	gitignore bool
	user      ignoreRules // applied after the defaults and .gitignore files
}

// walkDir adds the contents of root/rel (rel is a slash path, "" for the
// root). rules holds the default excludes and the .gitignore patterns in
// force there.
func (w *walker) walkDir(ctx context.Context, t *tree, rel string, rules ignoreRules) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(t.root, filepath.FromSlash(rel))
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%w: reading directory %s: %w", ErrBadSpec, dir, err)
	}
	if t.gitignore {
		for _, de := range des {
			if de.Name() == ".gitignore" && de.Type().IsRegular() {
				gi := filepath.Join(dir, ".gitignore")
				data, err := os.ReadFile(gi)
				if err != nil {
					return fmt.Errorf("%w: reading %s: %w", ErrBadSpec, gi, err)
				}
				var more ignoreRules
				if err := more.addFile(data, rel, gi); err != nil {
					return err
				}
				rules = rules.with(more.patterns)
			}
		}
	}
	for _, de := range des {
		name := de.Name()
		relPath := name
		if rel != "" {
			relPath = rel + "/" + name
		}
		isDir := de.IsDir()
		// Spec.Excludes come last, so they decide first: a "!pattern" there
		// re-includes what the defaults or a .gitignore exclude.
		if ex, by := t.user.match(relPath, isDir); by != nil {
			if ex {
				continue
			}
		} else if ex, _ := rules.match(relPath, isDir); ex {
			continue
		}
		full := filepath.Join(dir, name)
		fi, err := os.Lstat(full)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadSpec, full, err)
		}
		archPath := t.prefix + "/" + relPath
		switch {
		case fi.IsDir():
			w.add(entry{File: File{Path: archPath, Type: TypeDir}})
			if err := w.walkDir(ctx, t, relPath, rules); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if os.SameFile(fi, w.binInfo) {
				continue // the binary is packed once, under bin/
			}
			w.add(entry{File: File{Path: archPath, Size: fi.Size(), Exec: fi.Mode()&0o111 != 0}, src: full, stamp: stampOf(fi)})
		case fi.Mode()&fs.ModeSymlink != 0:
			if err := w.addLink(t, full, archPath, relPath, fi); err != nil {
				return err
			}
		default:
			w.notes = append(w.notes, fmt.Sprintf("skipped %s: a %v is not a file, directory or symbolic link", full, fi.Mode().Type()))
		}
	}
	return nil
}

// addLink keeps a symbolic link whose target is inside the tree, written as
// a relative path with no links in it; one pointing outside (or nowhere)
// is skipped with a note.
func (w *walker) addLink(t *tree, full, archPath, relPath string, fi os.FileInfo) error {
	target, err := os.Readlink(full)
	if err != nil {
		return fmt.Errorf("%w: reading symbolic link %s: %w", ErrBadSpec, full, err)
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		w.notes = append(w.notes, fmt.Sprintf("skipped symbolic link %s -> %s: its target does not exist or cannot be resolved", full, target))
		return nil
	}
	inside, err := filepath.Rel(t.root, real)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) || filepath.IsAbs(inside) {
		w.notes = append(w.notes, fmt.Sprintf("skipped symbolic link %s -> %s: it points outside %s; ship its target with Spec.ExtraFiles if the job needs it", full, target, t.root))
		return nil
	}
	linkDir := filepath.Join(t.root, filepath.FromSlash(path.Dir(relPath)))
	rt, err := filepath.Rel(linkDir, real)
	if err != nil {
		return fmt.Errorf("%w: symbolic link %s: %w", ErrBadSpec, full, err)
	}
	w.add(entry{File: File{Path: archPath, Type: TypeLink, Link: filepath.ToSlash(rt)}, stamp: stampOf(fi)})
	return nil
}

// addExtra adds one Spec.ExtraFiles entry: a file, or a directory walked
// with the default excludes.
func (w *walker) addExtra(ctx context.Context, dest, src string, defaults ignoreRules) error {
	d, err := cleanRelPath(dest, "extra file destination")
	if err != nil {
		return err
	}
	real, fi, err := absPath(src, fmt.Sprintf("extra file %s (source of %s)", src, dest))
	if err != nil {
		return err
	}
	archPath := workDir + "/" + d
	// The destination's parents become directories (replacing nothing).
	for p := path.Dir(archPath); p != workDir; p = path.Dir(p) {
		if e, ok := w.byName[p]; ok && e.Type != TypeDir {
			return fmt.Errorf("%w: extra file destination %s needs %s to be a directory, but the working directory has a file there", ErrBadSpec, dest, strings.TrimPrefix(p, workDir+"/"))
		}
		if _, ok := w.byName[p]; !ok {
			w.add(entry{File: File{Path: p, Type: TypeDir}})
		}
	}
	switch {
	case fi.Mode().IsRegular():
		if err := readable(real); err != nil {
			return fmt.Errorf("%w: extra file %s: %w", ErrBadSpec, real, err)
		}
		if e, ok := w.byName[archPath]; ok && e.Type == TypeDir {
			return fmt.Errorf("%w: extra file destination %s is a directory in the working directory", ErrBadSpec, dest)
		}
		w.add(entry{File: File{Path: archPath, Size: fi.Size(), Exec: fi.Mode()&0o111 != 0}, src: real, follow: true, stamp: stampOf(fi)})
	case fi.IsDir():
		if e, ok := w.byName[archPath]; ok && e.Type != TypeDir {
			return fmt.Errorf("%w: extra directory destination %s is a file in the working directory", ErrBadSpec, dest)
		}
		w.add(entry{File: File{Path: archPath, Type: TypeDir}})
		t := tree{root: real, prefix: archPath}
		if err := w.walkDir(ctx, &t, "", defaults); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: extra file %s is neither a regular file nor a directory", ErrBadSpec, real)
	}
	return nil
}
