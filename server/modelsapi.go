package server

import (
	"net/http"
	"strings"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server/apierror"
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
	Placement []DevicePlacement `json:"placement,omitempty"`

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

func toModelObject(st ModelStatus, currency string) modelObject {
	o := modelObject{
		ID: st.ID, Object: "model", Created: st.Created.Unix(), OwnedBy: st.OwnedBy,
		Type: "chat", Status: st.State, StatusError: st.Error, ContextLength: st.ContextLength,
		DisplayName: st.DisplayName, Description: st.Description, Aliases: st.Aliases, Tags: st.Tags,
		Placement:    st.Placement,
		Capabilities: capabilities{Vision: st.Vision},
	}
	if p := st.Pricing; !p.IsZero() {
		// The cached price shown is the one billed: unset, it is the
		// input price.
		o.Pricing = pricingJSON{Currency: currency, InputPer1K: p.InputPer1K, OutputPer1K: p.OutputPer1K,
			CachedInputPer1K: p.CachedPer1K(), PerSecond: p.PerSecond, MaxSeconds: p.MaxSeconds}
	}
	if st.Created.IsZero() {
		o.Created = 0
	}
	if o.OwnedBy == "" {
		o.OwnedBy = defaultOwner
	}
	if st.Embeddings {
		o.Type = "embeddings"
	}
	if o.Status == "" {
		o.Status = StateUnloaded
	}
	if st.State == StateLoading {
		p := st.Progress
		o.Progress = &p
	}
	return o
}

func (s *Server) listModels(c echo.Context) error {
	_, t, err := s.admit(c, Call{Endpoint: "models"})
	if err != nil {
		return err
	}
	defer t.Finish(engine.Usage{})
	// Only the models the caller's key may use: a key allow-listed for
	// some models does not learn the others (nor their prices).
	filter, _ := stateOf(c).pass.(modelFilter)
	sts := s.catalog.Statuses()
	out := modelList{Object: "list", Data: make([]modelObject, 0, len(sts))}
	for _, st := range sts {
		if filter != nil && !filter.MayUse(append([]string{st.ID}, st.Aliases...)...) {
			continue
		}
		out.Data = append(out.Data, toModelObject(st, s.currency()))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getModel(c echo.Context) error {
	// The id may hold slashes ("org/model"), so the route is a wildcard.
	id := strings.TrimPrefix(c.Param("*"), "/")
	if id == "" {
		return s.listModels(c)
	}
	info, err := s.catalog.Lookup(id)
	if err != nil {
		return err
	}
	_, t, err := s.admit(c, Call{Endpoint: "models", Model: info.ID, ModelAliases: info.Aliases})
	if err != nil {
		return err
	}
	defer t.Finish(engine.Usage{})
	st, ok := s.catalog.Status(info.ID)
	if !ok {
		return apierror.ModelNotFound("The model `%s` does not exist.", id)
	}
	return c.JSON(http.StatusOK, toModelObject(st, s.currency()))
}

// resolveModel picks the model: the /llm_api/ path's ai_system segment
// overrides the body's "model".
func (s *Server) resolveModel(c echo.Context, bodyModel string) (ModelInfo, error) {
	rs := stateOf(c)
	name := bodyModel
	if rs.aiSystem != "" {
		name = rs.aiSystem
	}
	if name == "" {
		return ModelInfo{}, apierror.InvalidParam("model", "Missing required parameter: 'model'.")
	}
	info, err := s.catalog.Lookup(name)
	if err != nil {
		return ModelInfo{}, err
	}
	rs.model = info.ID
	return info, nil
}
