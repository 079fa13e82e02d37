package runtimeenv

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// Spec describes a job's runtime environment: what is shipped to the nodes
// that run it.
type Spec struct {
	// Binary is the job's executable (for a running Go program,
	// os.Executable()). Required. It is packed as bin/<base name>.
	Binary string
	// WorkingDir is a directory whose files are shipped (as wd/...) and
	// become the executors' working directory. Optional.
	WorkingDir string
	// Excludes are gitignore-style patterns, relative to WorkingDir, of
	// files not to ship. They come after the default excludes and the
	// .gitignore files, so "!pattern" can re-include what those exclude
	// (unless a parent directory is excluded, as in git).
	Excludes []string
	// ExtraFiles maps a destination (a slash path relative to the working
	// directory) to a file or directory to ship there. An extra file
	// replaces a working-directory file of the same path.
	ExtraFiles map[string]string
	// Env holds "KEY=VALUE" variables set for the job's executors.
	Env []string
	// NoDefaultExcludes ships what DefaultExcludes would leave out.
	NoDefaultExcludes bool
	// NoGitignore ignores the .gitignore files in WorkingDir.
	NoGitignore bool
}

// DefaultExcludes returns the patterns excluded from every working
// directory unless Spec.NoDefaultExcludes is set: version-control metadata
// and the usual build, editor and cache folders.
func DefaultExcludes() []string {
	return []string{
		".git/", ".hg/", ".svn/", ".jj/", ".bzr/",
		"node_modules/", "__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", ".tox/",
		".cache/", ".gocache/", ".idea/", ".vscode/", ".DS_Store", "*.swp", "*~",
		".shoal/",
	}
}

// validateEnv checks "KEY=VALUE" entries and returns them sorted by key
// (duplicates refused), the canonical order they are packed in.
func validateEnv(env []string) ([]string, error) {
	out := slices.Clone(env)
	seen := make(map[string]bool, len(env))
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: environment variable %q is not KEY=VALUE", ErrBadSpec, kv)
		case k == "":
			return nil, fmt.Errorf("%w: environment variable %q has an empty name", ErrBadSpec, kv)
		case strings.ContainsRune(kv, 0):
			return nil, fmt.Errorf("%w: environment variable %s contains a NUL byte", ErrBadSpec, k)
		case strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) }) >= 0:
			return nil, fmt.Errorf("%w: environment variable name %q contains white space", ErrBadSpec, k)
		case seen[k]:
			return nil, fmt.Errorf("%w: environment variable %s is set twice", ErrBadSpec, k)
		}
		seen[k] = true
	}
	slices.Sort(out)
	return out, nil
}

// cleanRelPath checks a slash path that must stay inside a directory and
// returns it cleaned.
func cleanRelPath(p, what string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrBadSpec, what)
	}
	if strings.ContainsRune(p, 0) || strings.Contains(p, `\`) {
		return "", fmt.Errorf("%w: %s %q contains a NUL byte or a backslash", ErrBadSpec, what, p)
	}
	c := path.Clean(p)
	if path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %s %q must be a relative path inside the working directory", ErrBadSpec, what, p)
	}
	return c, nil
}

// absPath resolves p to an absolute path with no symbolic links.
func absPath(p, what string) (string, os.FileInfo, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s %q: %w", ErrBadSpec, what, p, err)
	}
	real, err := filepath.EvalSymlinks(a)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil, fmt.Errorf("%w: %s %s does not exist", ErrBadSpec, what, a)
		}
		return "", nil, fmt.Errorf("%w: %s %s: %w", ErrBadSpec, what, a, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s %s: %w", ErrBadSpec, what, a, err)
	}
	return real, fi, nil
}
