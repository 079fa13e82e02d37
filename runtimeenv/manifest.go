package runtimeenv

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// formatVersion is the archive format this package writes and reads.
const formatVersion = 1

// maxManifestBytes bounds the manifest an unpacker reads into memory.
const maxManifestBytes = 256 << 20

// FileType is the kind of a packed entry.
type FileType string

// The entry kinds a package holds.
const (
	TypeFile FileType = ""     // a regular file
	TypeDir  FileType = "dir"  // a directory
	TypeLink FileType = "link" // a symbolic link to a path inside the package
)

// File is one entry of a package's manifest.
type File struct {
	Path string   `json:"path"`           // slash path in the package: bin/<binary>, wd/...
	Type FileType `json:"type,omitempty"` // TypeFile, TypeDir or TypeLink
	Size int64    `json:"size,omitempty"` // bytes (regular files)
	Exec bool     `json:"exec,omitempty"` // executable (regular files)
	Link string   `json:"link,omitempty"` // target, relative to the link's directory (links)
}

// mode is the permission an entry is packed with.
func (f File) mode() int64 {
	switch {
	case f.Type == TypeDir || f.Exec:
		return 0o755
	case f.Type == TypeLink:
		return 0o777
	}
	return 0o644
}

// Manifest describes a package: its binary, environment and files. It is
// the archive's first entry (manifest.json) and sits at the root of an
// unpacked package.
type Manifest struct {
	Format  int      `json:"format"`
	Binary  string   `json:"binary"`  // package path of the job's executable
	WorkDir string   `json:"workdir"` // package path of the working directory
	Env     []string `json:"env"`     // "KEY=VALUE", sorted by key
	Files   []File   `json:"files"`   // sorted by path; parents before children
}

// ContentSize is the sum of the package's file sizes: what it takes on a
// node's disk once unpacked, and what the size limit applies to.
func (m *Manifest) ContentSize() int64 {
	var n int64
	for _, f := range m.Files {
		if f.Type == TypeFile {
			n += f.Size
		}
	}
	return n
}

func (w *walked) manifest() *Manifest {
	m := &Manifest{Format: formatVersion, Binary: w.binary, WorkDir: workDir, Env: w.env, Files: make([]File, len(w.entries))}
	if m.Env == nil {
		m.Env = []string{}
	}
	for i, e := range w.entries {
		m.Files[i] = e.File
	}
	return m
}

// validate checks a manifest read from an archive: known format, safe
// sorted paths whose parents are directories, links that stay inside, and
// a content size within limit (if positive).
func (m *Manifest) validate(limit int64) error {
	if m.Format != formatVersion {
		return fmt.Errorf("%w: package format %d, this program reads format %d (is the submitting client a different Shoal version?)", ErrCorrupt, m.Format, formatVersion)
	}
	if m.WorkDir != workDir || !strings.HasPrefix(m.Binary, binDir+"/") || strings.Count(m.Binary, "/") != 1 {
		return fmt.Errorf("%w: manifest names binary %q and working directory %q", ErrCorrupt, m.Binary, m.WorkDir)
	}
	if _, err := validateEnv(m.Env); err != nil {
		return fmt.Errorf("%w: manifest environment: %w", ErrCorrupt, err)
	}
	kinds := make(map[string]FileType, len(m.Files))
	var total int64
	sawBinary := false
	for i, f := range m.Files {
		p, err := cleanRelPath(f.Path, "package path")
		if err != nil || p != f.Path || p == manifestName {
			return fmt.Errorf("%w: unsafe or unclean path %q in the manifest", ErrCorrupt, f.Path)
		}
		if i > 0 && m.Files[i-1].Path >= p {
			return fmt.Errorf("%w: manifest paths out of order at %q", ErrCorrupt, p)
		}
		top, _, _ := strings.Cut(p, "/")
		if top != binDir && top != workDir {
			return fmt.Errorf("%w: path %q is outside bin/ and wd/", ErrCorrupt, p)
		}
		if parent := path.Dir(p); parent != "." && kinds[parent] != TypeDir {
			return fmt.Errorf("%w: %q comes before (or without) its directory", ErrCorrupt, p)
		}
		switch f.Type {
		case TypeFile:
			if f.Size < 0 {
				return fmt.Errorf("%w: %q has negative size", ErrCorrupt, p)
			}
			total += f.Size
			if p == m.Binary {
				sawBinary = true
			}
		case TypeDir:
		case TypeLink:
			if err := checkLinkTarget(p, f.Link); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: %q has unknown type %q", ErrCorrupt, p, f.Type)
		}
		kinds[p] = f.Type
	}
	if !sawBinary {
		return fmt.Errorf("%w: the manifest does not list its binary %s", ErrCorrupt, m.Binary)
	}
	if limit > 0 && total > limit {
		return fmt.Errorf("%w: package holds %s (%d bytes), over the limit of %s (%d bytes)", ErrTooLarge, bytesize.Format(total), total, bytesize.Format(limit), limit)
	}
	return nil
}

// checkLinkTarget accepts only the canonical targets Pack writes: relative,
// clean, "../" steps first and then names, resolving inside the package.
// With every parent directory a real directory, no chain of such links can
// lead outside the package.
func checkLinkTarget(linkPath, target string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: symbolic link %q -> %q %s", ErrCorrupt, linkPath, target, why)
	}
	if target == "" || path.IsAbs(target) || strings.ContainsRune(target, 0) || strings.Contains(target, `\`) {
		return bad("is empty or absolute")
	}
	if path.Clean(target) != target {
		return bad("is not clean")
	}
	rest := target
	for strings.HasPrefix(rest, "../") {
		rest = rest[3:]
	}
	if rest == ".." {
		rest = ""
	}
	for _, s := range strings.Split(rest, "/") {
		if s == ".." {
			return bad("climbs after descending")
		}
	}
	resolved := path.Join(path.Dir(linkPath), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return bad("points outside the package")
	}
	return nil
}

// Layout is an unpacked package on disk.
type Layout struct {
	Dir     string // the package's root directory
	Binary  string // absolute path of the job's executable
	WorkDir string // absolute path of the working directory
	Manifest
}

// ReadLayout reads the manifest of the package unpacked at dir.
func ReadLayout(dir string) (*Layout, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of the package at %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest of the package at %s: %w", ErrCorrupt, dir, err)
	}
	if err := m.validate(0); err != nil {
		return nil, fmt.Errorf("package at %s: %w", dir, err)
	}
	return &Layout{
		Dir:      dir,
		Binary:   filepath.Join(dir, filepath.FromSlash(m.Binary)),
		WorkDir:  filepath.Join(dir, filepath.FromSlash(m.WorkDir)),
		Manifest: m,
	}, nil
}

// fileMode is the permission an entry gets when unpacked: read-only files
// (the unpacked tree is shared by every executor of every job that uses
// it), executables keep their execute bits, directories stay writable so
// that the cache can remove them. Only the owner (the node, whose
// executors run as it) has any: a package carries its job's environment
// values, often secrets.
func fileMode(f File) fs.FileMode {
	switch {
	case f.Type == TypeDir:
		return privateDir
	case f.Exec:
		return 0o500
	}
	return 0o400
}

// privateDir and privateFile are the modes of the package stores'
// directories and files: packages carry their jobs' environment values.
const (
	privateDir  fs.FileMode = 0o700
	privateFile fs.FileMode = 0o600
)

// mkdirPrivate makes dir (and its parents) and leaves dir itself readable
// by its owner only, also when it existed with wider permissions.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return err
	}
	return os.Chmod(dir, privateDir)
}
