package jinja

import (
	"errors"
	"fmt"
)

// RenderError is a failure while rendering, at the position of the
// innermost expression or statement that failed.
type RenderError struct {
	Pos Pos
	Err error
}

func (e *RenderError) Error() string { return fmt.Sprintf("jinja: %s: %v", e.Pos, e.Err) }
func (e *RenderError) Unwrap() error { return e.Err }

// atPos attaches a position to err unless it already has one.
func atPos(pos Pos, err error) error {
	if err == nil {
		return nil
	}
	var re *RenderError
	if errors.As(err, &re) {
		return err
	}
	return &RenderError{Pos: pos, Err: err}
}
