//go:build !linux || !(amd64 || arm64)

package hugepages

import "errors"

const supported = false

func readMaps() ([][2]uintptr, error) { return nil, errors.ErrUnsupported }

func adviseRange(uintptr, uintptr) error { return errors.ErrUnsupported }

func kernelOffers() bool { return false }

func reservable() int64 { return 0 }

func available() int64 { return 0 }

func physical() int64 { return 0 }

func populate(uintptr, uintptr) error { return errors.ErrUnsupported }

func residency(uintptr, uintptr, []byte) error { return errors.ErrUnsupported }
