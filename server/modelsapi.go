package server

import (
	"context"
	"math"
	"net/url"
	"strings"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
	"github.com/labstack/echo/v4"
)

// modelObject is OpenAI's model object plus ggufd's fields.
type modelObject struct {
	ID            string   `json:"id"`
	Object        string   `json:"object"`
	Created       int64    `json:"created"`
	OwnedBy       string   `json:"owned_by"`
	Type          string   `json:"type"` // "chat" or "embeddings"
	Status        string   `json:"status"`
	Progress      *float64 `json:"progress,omitempty"`
	StatusError   string   `json:"status_error,omitempty"`
	ContextLength int      `json:"context_length,omitempty"`
	DisplayName   string   `json:"display_name,omitempty"`
	Description   string   `json:"description,omitempty"`
	Aliases       []string `json:"aliases,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	Pricing       any      `json:"pricing,omitempty"`
	// Placement is where a loaded model runs: layers and bytes per device.
	Placement []models.DeviceUsage `json:"placement,omitempty"`

	Capabilities capabilities `json:"capabilities"`
}

// capabilities says what a model takes beyond text.
type capabilities struct {
	Vision bool `json:"vision"` // image_url parts in chat messages
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

const defaultOwner = "ggufd"

// pricingJSON is a model's price as /v1/models shows it.
type pricingJSON struct {
	Currency         string  `json:"currency,omitempty"`
	InputPer1K       float64 `json:"input_per_1k"`
	OutputPer1K      float64 `json:"output_per_1k"`
	CachedInputPer1K float64 `json:"cached_input_per_1k"`
	PerSecond        float64 `json:"per_second,omitempty"`
	MaxSeconds       float64 `json:"max_seconds,omitempty"`
}

func toModelObject(st models.Status, currency string) modelObject {
	m := st.Model
	o := modelObject{
		ID: st.Name, Object: "model", Created: st.Created.Unix(), OwnedBy: defaultOwner,
		Type: "chat", Status: publicState(st.State), StatusError: st.Error, ContextLength: st.ContextLength,
		DisplayName: m.DisplayName, Description: m.Description, Aliases: m.Aliases, Tags: m.Tags,
		Placement:    placementOf(st),
		Capabilities: capabilities{Vision: st.Projector != ""},
	}
	if p := m.Pricing; !p.IsZero() {
		o.Pricing = pricingJSON{Currency: currency, InputPer1K: p.InputPer1K, OutputPer1K: p.OutputPer1K,
			CachedInputPer1K: p.CachedPer1K(), PerSecond: p.PerSecond, MaxSeconds: p.MaxSeconds}
	}
	if st.Created.IsZero() {
		o.Created = 0
	}
	if st.Embeddings {
		o.Type = "embeddings"
	}
	if st.State == models.StateLoading {
		p := math.Round(float64(st.Progress)*1000) / 1000
		o.Progress = &p
	}
	return o
}

// publicState is a model's state as the API shows it: one that is
// unloading is as good as unloaded to a client.
func publicState(s models.State) string {
	if s == models.StateUnloading || s == "" {
		return string(models.StateUnloaded)
	}
	return string(s)
}

// placementOf is where a loaded or loading model is; nil otherwise.
func placementOf(st models.Status) []models.DeviceUsage {
	if st.State != models.StateLoaded && st.State != models.StateLoading {
		return nil
	}
	return st.Placement
}

func (s *Server) listModels(c echo.Context, r *request) error {
	return s.serve(c, r, job{noModel: true, run: func(context.Context, Model) (result, error) {
		sts := s.catalog.Statuses()
		out := modelList{Object: "list", Data: make([]modelObject, 0, len(sts))}
		for _, st := range sts {
			// Only the models the caller's key may use: a key allow-listed
			// for some models does not learn the others (nor their prices).
			if r.identity != nil && r.identity.CheckModel(append([]string{st.Name}, st.Model.Aliases...)...) != nil {
				continue
			}
			out.Data = append(out.Data, toModelObject(st, s.currency()))
		}
		return answerJSON(c, engine.Usage{}, out), nil
	}})
}

// pathParam is a path parameter unescaped. Echo routes on the escaped path
// when it has escapes Go would not write (OpenAI's SDKs send a model named
// "org/model" as "org%2Fmodel"), and then leaves them in the parameter.
func pathParam(c echo.Context, name string) string {
	p := c.Param(name)
	if c.Request().URL.RawPath != "" {
		if u, err := url.PathUnescape(p); err == nil {
			return u
		}
	}
	return p
}

func (s *Server) getModel(c echo.Context, r *request) error {
	// The id may hold slashes ("org/model"), so the route is a wildcard.
	id := strings.TrimPrefix(pathParam(c, "*"), "/")
	if id == "" {
		return s.listModels(c, r)
	}
	var err error
	if r.model, err = s.catalog.Lookup(id); err != nil {
		return err
	}
	return s.serve(c, r, job{noModel: true, run: func(context.Context, Model) (result, error) {
		st, err := s.catalog.Status(r.model.Name)
		if err != nil {
			return result{}, err
		}
		return answerJSON(c, engine.Usage{}, toModelObject(st, s.currency())), nil
	}})
}
