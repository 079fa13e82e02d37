//go:build !linux

package objstore

import "errors"

// fsSpace is only implemented on Linux; elsewhere the disk default is fixed.
func fsSpace(string) (avail, total int64, err error) {
	return 0, 0, errors.ErrUnsupported
}
