package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/accountsapi"
)

// The operator's view of the model manager, next to the accounts admin API
// and behind the same admin key:
//
//	GET  /admin/models              every model with state, memory and placement, slots, queue, expiry
//	POST /admin/models/:name/load   load now (waits for the load); a "/" in the name as %2F
//	POST /admin/models/:name/unload unload once its requests finish
//	POST /admin/reload              re-read the config file now
func (s *Server) registerModelAdmin(mgr *models.Manager) {
	if s.accounts == nil {
		return // no admin key to check without the accounts service
	}
	guard := accountsapi.RequireAdmin(s.accounts)
	g := s.echo.Group("/admin", guard)
	a := modelAdmin{m: mgr}
	g.GET("/models", a.list)
	g.POST("/models/:name/load", a.load)
	g.POST("/models/:name/unload", a.unload)
	g.POST("/reload", a.reload)
}

type modelAdmin struct{ m *models.Manager }

// adminModel is one model as the admin API shows it.
type adminModel struct {
	Name          string   `json:"name"`
	Base          string   `json:"base,omitempty"` // a variant: the model whose instance serves it
	Aliases       []string `json:"aliases,omitempty"`
	File          string   `json:"file"`
	Discovered    bool     `json:"discovered"`
	Embeddings    bool     `json:"embeddings"`
	ContextLength int      `json:"context_length"`
	Parallel      int      `json:"parallel"`
	State         string   `json:"state"`
	Progress      float32  `json:"progress"`
	Error         string   `json:"error,omitempty"`
	MemoryBytes   uint64   `json:"memory_bytes"`
	// Placement is layers and bytes per device while loaded or loading.
	Placement     []models.DeviceUsage `json:"placement,omitempty"`
	BusySlots     int                  `json:"busy_slots"`
	QueueDepth    int                  `json:"queue_depth"`
	Threads       int                  `json:"threads,omitempty"`
	MaxThreads    int                  `json:"max_threads,omitempty"`
	ThreadsReason string               `json:"threads_reason,omitempty"`
	// DecodeSteps since the load, FewerThreadSteps of them on fewer
	// threads than max_threads (other processes competing).
	DecodeSteps      uint64     `json:"decode_steps,omitempty"`
	FewerThreadSteps uint64     `json:"fewer_thread_steps,omitempty"`
	LoadedAt         *time.Time `json:"loaded_at,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
}

func toAdminModel(st models.Status) adminModel {
	am := adminModel{
		Name: st.Name, Base: st.Model.Base, Aliases: st.Model.Aliases, File: st.Path, Discovered: st.Discovered,
		Embeddings: st.Embeddings, ContextLength: st.ContextLength, Parallel: st.Model.Parallel,
		State: string(st.State), Progress: st.Progress, Error: st.Error, MemoryBytes: st.MemoryBytes,
		BusySlots: st.BusySlots, QueueDepth: st.QueueDepth, Placement: placementOf(st),
		Threads: st.Threads, MaxThreads: st.MaxThreads, ThreadsReason: st.ThreadsReason,
		DecodeSteps: st.DecodeSteps, FewerThreadSteps: st.FewerThreadSteps,
	}
	if !st.LoadedAt.IsZero() {
		t := st.LoadedAt
		am.LoadedAt = &t
	}
	if !st.ExpiresAt.IsZero() {
		t := st.ExpiresAt
		am.ExpiresAt = &t
	}
	return am
}

func (a modelAdmin) list(c echo.Context) error {
	sts := a.m.Statuses()
	out := make([]adminModel, len(sts))
	for i, st := range sts {
		out[i] = toAdminModel(st)
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": out})
}

func (a modelAdmin) status(c echo.Context, name string) error {
	st, err := a.m.Status(name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminModel(st))
}

func (a modelAdmin) load(c echo.Context) error {
	name := pathParam(c, "name") // "org%2Fmodel" for a name with a slash
	if err := a.m.Load(c.Request().Context(), name); err != nil {
		return err
	}
	return a.status(c, name)
}

func (a modelAdmin) unload(c echo.Context) error {
	name := pathParam(c, "name") // "org%2Fmodel" for a name with a slash
	if err := a.m.Unload(c.Request().Context(), name); err != nil {
		return err
	}
	return a.status(c, name)
}

func (a modelAdmin) reload(c echo.Context) error {
	if err := a.m.Reload(c.Request().Context()); err != nil {
		// The last good config keeps serving; the operator needs the reason.
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
			"message": err.Error(), "type": "invalid_request_error", "param": nil, "code": "invalid_config",
		}})
	}
	return c.JSON(http.StatusOK, map[string]any{"reloaded": true, "models": len(a.m.Entries())})
}
