//go:build !(linux || darwin)

package bench

import "errors"

// raiseFDLimit cannot read the limit on open files here.
func raiseFDLimit(need uint64) (uint64, error) {
	return 0, errors.ErrUnsupported
}
