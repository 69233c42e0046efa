package engine

import (
	"context"
	"errors"
)

// TEMPORARY SKELETON: signatures are final, bodies land with the scheduler.

// Model is a loaded GGUF model with its scheduler. All methods are safe for
// concurrent use.
type Model struct{ info Info }

var errTODO = errors.New("engine: not implemented yet")

// Load loads the GGUF at path and starts its scheduler.
func Load(ctx context.Context, path string, opts LoadOptions) (*Model, error) { return nil, errTODO }

// Info describes the model.
func (m *Model) Info() Info { return m.info }

// Stream delivers the events of one Generate call.
type Stream struct{}

// Next blocks until the next event. It returns false after the event with
// Done set has been returned. Callers must read until then (or until false):
// cancelling the request's context makes the stream end promptly.
func (s *Stream) Next() (Event, bool) { return Event{}, false }

// Generate queues a request and returns its stream at once. Errors here are
// request errors (*InvalidRequestError, *PromptTooLongError, ErrQueueFull,
// ErrClosed, ErrEmbeddingModel).
func (m *Model) Generate(ctx context.Context, req GenerateRequest) (*Stream, error) {
	return nil, errTODO
}

// Embed embeds all inputs (in one decode when they fit one batch).
func (m *Model) Embed(ctx context.Context, req EmbedRequest) (EmbedResult, error) {
	return EmbedResult{}, errTODO
}

// Tokenize turns text into token ids.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int, error) {
	return nil, errTODO
}

// Detokenize turns token ids into text.
func (m *Model) Detokenize(tokens []int) (string, error) { return "", errTODO }

// ApplyChatTemplate renders messages into the prompt text the model sees.
func (m *Model) ApplyChatTemplate(req ChatRequest) (string, error) { return "", errTODO }

// Stats is a snapshot of slots and queue.
func (m *Model) Stats() Stats { return Stats{} }

// Close cancels queued and running requests (they end with FinishCancelled),
// stops the scheduler and frees the model's memory.
func (m *Model) Close() error { return nil }
