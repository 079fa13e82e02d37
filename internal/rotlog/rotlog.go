// Package rotlog is an append-only log file rotated by size: when a write
// would take the file past its cap, the file is renamed with a timestamp
// (base-2006-01-02T15-04-05.000.log, so names sort by age) and a new one
// started; only the newest backups are kept.
//
// It replaces gopkg.in/natefinch/lumberjack.v2, whose Logger starts a
// goroutine that Close never stops (one leaked per log file: a node keeps
// one file per job, for as long as it runs). Nothing here runs in the
// background: rotation happens in the Write that needs it.
package rotlog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// TimeFormat is the timestamp in a rotated file's name.
const TimeFormat = "2006-01-02T15-04-05.000"

// File is a size-capped log file. Its methods are safe for concurrent use.
type File struct {
	path    string
	max     int64
	backups int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (appending to) or creates the log file at path, 0600, which
// rotates past maxBytes keeping backups older files.
func Open(path string, maxBytes int64, backups int) (*File, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("log file %s: a size cap of %d bytes; it must be positive", path, maxBytes)
	}
	l := &File{path: path, max: maxBytes, backups: max(backups, 0)}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening log file: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its cap
// (a p larger than the cap goes whole into a file of its own).
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("log file %s: %w", l.path, os.ErrClosed)
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate renames the live file with the time and starts a new one, then
// removes the backups beyond the newest l.backups.
func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("rotating log file: %w", err)
	}
	l.f = nil
	base, ext := strings.TrimSuffix(l.path, filepath.Ext(l.path)), filepath.Ext(l.path)
	// A name after every backup's (rotations within one millisecond take
	// the next ones), so that the order of names is the order of age.
	at := time.Now().UTC().Truncate(time.Millisecond)
	if old := Backups(l.path); len(old) > 0 {
		newest := strings.TrimSuffix(strings.TrimPrefix(old[len(old)-1], base+"-"), ext)
		if t, err := time.Parse(TimeFormat, newest); err == nil && !at.After(t) {
			at = t.Add(time.Millisecond)
		}
	}
	name := base + "-" + at.Format(TimeFormat) + ext
	if err := os.Rename(l.path, name); err != nil {
		return fmt.Errorf("rotating log file: %w", err)
	}
	if err := l.open(); err != nil {
		return err
	}
	old := Backups(l.path)
	for _, name := range old[:max(len(old)-l.backups, 0)] {
		os.Remove(name)
	}
	return nil
}

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Backups lists the rotated files of the log at path, oldest first.
func Backups(path string) []string {
	base := strings.TrimSuffix(path, filepath.Ext(path))
	names, _ := filepath.Glob(base + "-*" + filepath.Ext(path))
	slices.Sort(names)
	return names
}
