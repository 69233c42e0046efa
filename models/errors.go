package models

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ggufd/ggufd/config"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("models: manager is closed")

// NotFoundError is a name that is neither a model nor an alias.
type NotFoundError struct {
	Name string
	// Suggestions are close names (edit distance or shared prefix), best
	// first; empty when nothing is close.
	Suggestions []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("model %q not found", e.Name)
	if len(e.Suggestions) > 0 {
		msg += "; did you mean " + strings.Join(e.Suggestions, ", ") + "?"
	}
	return msg
}

// InsufficientMemoryError is a model that does not fit in memory even after
// every other model that could be unloaded is.
type InsufficientMemoryError struct {
	Model     string
	Needed    uint64 // bytes the model needs loaded (estimate)
	Available uint64 // bytes it could get at most
}

func (e *InsufficientMemoryError) Error() string {
	return fmt.Sprintf("model %s needs about %s of memory but at most %s is available",
		e.Model, config.FormatBytes(e.Needed), config.FormatBytes(e.Available))
}

// LoadFailedError is a model whose file could not be loaded (corrupt or
// truncated file, out of memory...). The next Acquire tries again.
type LoadFailedError struct {
	Model string
	Err   error
}

func (e *LoadFailedError) Error() string {
	return fmt.Sprintf("model %s failed to load: %v", e.Model, e.Err)
}

func (e *LoadFailedError) Unwrap() error { return e.Err }
