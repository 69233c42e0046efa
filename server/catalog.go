package server

import (
	"context"
	"fmt"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
)

// Catalog is the model manager as the handlers use it, in the manager's own
// types. *models.Manager provides all of it but Acquire, whose lease holds
// a concrete *engine.Model; managerCatalog adapts that one method. The
// interface is declared here, by its consumer, because the handlers' tests
// serve scripted models through a fake: a real manager can only lease
// models loaded from GGUF files.
type Catalog interface {
	// Lookup resolves a model name or alias without loading it; an
	// unknown name is a *models.NotFoundError.
	Lookup(name string) (models.Entry, error)
	// Acquire returns the model loaded, waiting for its load; Release the
	// lease when the request is done with it.
	Acquire(ctx context.Context, name string) (Lease, error)
	Statuses() []models.Status
	Status(name string) (models.Status, error)
}

// Lease keeps a loaded model from being unloaded while a request uses it.
type Lease interface {
	Model() Model
	Release()
}

// Model is what the handlers call on a loaded model: *engine.Model's
// methods, with Generate returning an EventStream so that fakes need not
// build engine streams.
type Model interface {
	Generate(ctx context.Context, req engine.GenerateRequest) (EventStream, error)
	Embed(ctx context.Context, req engine.EmbedRequest) (engine.EmbedResult, error)
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int, error)
	Detokenize(tokens []int) (string, error)
	FillInMiddle(prefix, suffix string) ([]int, error)
	ApplyChatTemplate(req engine.ChatRequest) (string, error)
	Info() engine.Info
}

// EventStream is *engine.Stream: read until an event with Done.
type EventStream interface {
	Next() (engine.Event, bool)
}

// managerCatalog is the model manager as a Catalog.
type managerCatalog struct{ *models.Manager }

func (c managerCatalog) Acquire(ctx context.Context, name string) (Lease, error) {
	l, err := c.Manager.Acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	em := l.Model()
	if em == nil {
		l.Release()
		return nil, fmt.Errorf("model %s: loader returned no engine model", name)
	}
	return managerLease{l: l, m: engineModel{em}}, nil
}

type managerLease struct {
	l *models.Lease
	m engineModel
}

func (l managerLease) Model() Model { return l.m }
func (l managerLease) Release()     { l.l.Release() }

// engineModel is *engine.Model as a Model.
type engineModel struct{ *engine.Model }

func (m engineModel) Generate(ctx context.Context, req engine.GenerateRequest) (EventStream, error) {
	st, err := m.Model.Generate(ctx, req)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return st, nil
}
