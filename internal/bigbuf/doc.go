// Package bigbuf allocates buffers for large objects so that filling them
// costs as little as it can (transparent huge pages on Linux).
package bigbuf
