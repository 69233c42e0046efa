package server

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/accountsapi"
)

// metrics is what GET /metrics shows, in Prometheus's text format: every
// API request counted by model, endpoint and status, with its tokens and
// timings (observe records them when the request ends), model load times
// (from the manager), the models' state read from the catalog at each
// scrape, and the Go runtime and process collectors. Each Server has its
// own registry, so that servers in one process (tests) count apart.
type metrics struct {
	registry         *prometheus.Registry
	requests         *prometheus.CounterVec   // model, endpoint, status
	promptTokens     *prometheus.CounterVec   // model
	completionTokens *prometheus.CounterVec   // model
	duration         *prometheus.HistogramVec // model, endpoint
	ttft             *prometheus.HistogramVec // model
	queueWait        *prometheus.HistogramVec // model
	loadTime         *prometheus.HistogramVec // model
}

func newMetrics(catalog Catalog) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: counter("ggufd_requests_total",
			"API requests by model (empty before one is resolved), endpoint and the HTTP status the client got (499: it left).",
			"model", "endpoint", "status"),
		promptTokens:     counter("ggufd_prompt_tokens_total", "Prompt tokens processed, cached ones included.", "model"),
		completionTokens: counter("ggufd_completion_tokens_total", "Tokens generated.", "model"),
		duration: histogram("ggufd_request_duration_seconds", "Time from a request's arrival to its last byte.",
			[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}, "model", "endpoint"),
		ttft: histogram("ggufd_time_to_first_token_seconds", "Time from a generation request's arrival to its first generated text (model load included).",
			[]float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "model"),
		queueWait: histogram("ggufd_queue_wait_seconds", "Time a generation request waited for a sequence slot.",
			[]float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60}, "model"),
		loadTime: histogram("ggufd_model_load_seconds", "Time a model load took (reading, placing, warming up).",
			[]float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}, "model"),
	}
	m.registry.MustRegister(m.requests, m.promptTokens, m.completionTokens, m.duration, m.ttft, m.queueWait, m.loadTime,
		modelCollector{catalog}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// record counts an ended API request; other requests (admin, /health,
// unknown URLs) are not counted.
func (m *metrics) record(r *request) {
	if r.endpoint == "" {
		return
	}
	model := r.model.Name
	m.requests.WithLabelValues(model, r.endpoint, strconv.Itoa(r.status)).Inc()
	m.duration.WithLabelValues(model, r.endpoint).Observe(time.Since(r.start).Seconds())
	u := r.usage
	if u.PromptTokens == 0 && u.CompletionTokens == 0 {
		return // never reached the engine
	}
	m.promptTokens.WithLabelValues(model).Add(float64(u.PromptTokens))
	m.completionTokens.WithLabelValues(model).Add(float64(u.CompletionTokens))
	if r.endpoint == "chat.completions" || r.endpoint == "completions" {
		m.queueWait.WithLabelValues(model).Observe(u.QueueDuration.Seconds())
	}
	if r.ttft > 0 {
		m.ttft.WithLabelValues(model).Observe(r.ttft.Seconds())
	}
}

// observeLoad records a model load (see models.Manager.OnLoad).
func (m *metrics) observeLoad(model string, took time.Duration) {
	m.loadTime.WithLabelValues(model).Observe(took.Seconds())
}

// serveMetrics answers GET /metrics.
func (s *Server) serveMetrics(c echo.Context) error {
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// guardMetrics asks for the admin key on /metrics unless
// auth.metrics_public says a scraper may read it without (a Prometheus
// scrape config usually holds no secret). Without the accounts service
// there is no admin key, and /metrics is open like the API.
func (s *Server) guardMetrics(next echo.HandlerFunc) echo.HandlerFunc {
	if s.accounts == nil {
		return next
	}
	admin := accountsapi.RequireAdmin(s.accounts)(next)
	return func(c echo.Context) error {
		if s.metricsPublic.Load() {
			return next(c)
		}
		return admin(c)
	}
}

// modelCollector reads the models' state from the catalog at each scrape:
// the gauges an operator graphs and alerts on.
type modelCollector struct{ catalog Catalog }

var (
	modelGauges = []struct {
		desc  *prometheus.Desc
		value func(models.Status) float64
	}{
		{modelDesc("loaded", "1 when the model is loaded."),
			func(st models.Status) float64 { return boolFloat(st.State == models.StateLoaded) }},
		{modelDesc("failed", "1 when the model's last load failed."),
			func(st models.Status) float64 { return boolFloat(st.State == models.StateFailed) }},
		{modelDesc("memory_bytes", "Memory held by the loaded model (weights, KV cache)."),
			func(st models.Status) float64 { return float64(st.MemoryBytes) }},
		{modelDesc("busy_slots", "Sequence slots running a request."),
			func(st models.Status) float64 { return float64(st.BusySlots) }},
		{modelDesc("queue_depth", "Requests waiting for a slot."),
			func(st models.Status) float64 { return float64(st.QueueDepth) }},
		{modelDesc("threads", "CPU threads of the model's last decode step (lowered automatically while other processes compete for the cores)."),
			func(st models.Status) float64 { return float64(st.Threads) }},
		{modelDesc("max_threads", "CPU threads the model may use."),
			func(st models.Status) float64 { return float64(st.MaxThreads) }},
	}
	// modelCounters count from the model's load (a reload starts them at
	// zero again, which Prometheus' rate() treats as a counter reset).
	modelCounters = []struct {
		desc  *prometheus.Desc
		value func(models.Status) float64
	}{
		{modelDesc("engine_requests_total", "Generation and embedding requests the engine has run since the model loaded."),
			func(st models.Status) float64 { return float64(st.Requests) }},
		{modelDesc("prompt_tokens_decoded_total", "Prompt tokens the engine decoded since the model loaded; prompt-cache hits are not decoded."),
			func(st models.Status) float64 { return float64(st.PromptTokensDecoded) }},
		{modelDesc("tokens_generated_total", "Tokens the engine generated since the model loaded."),
			func(st models.Status) float64 { return float64(st.TokensGenerated) }},
		{modelDesc("decode_steps_total", "Decode steps (llama_decode calls) since the model loaded."),
			func(st models.Status) float64 { return float64(st.DecodeSteps) }},
		{modelDesc("fewer_thread_steps_total", "Decode steps since the model loaded that ran on fewer threads than ggufd_model_max_threads, because other processes were competing for the cores."),
			func(st models.Status) float64 { return float64(st.FewerThreadSteps) }},
		{modelDesc("images_encoded_total", "Images run through the vision encoder since the model loaded (not those found in the prompt cache)."),
			func(st models.Status) float64 { return float64(st.ImagesEncoded) }},
	}
	deviceLayersDesc = prometheus.NewDesc("ggufd_model_device_layers",
		"Layers of the loaded model on each device (the output layer counts as one).", []string{"model", "device"}, nil)
	deviceMemoryDesc = prometheus.NewDesc("ggufd_model_device_memory_bytes",
		"Memory the loaded model holds on each device (CPU: system memory).", []string{"model", "device"}, nil)
	memoryAvailableDesc = prometheus.NewDesc("ggufd_memory_available_bytes", "Memory the system reports available.", nil, nil)
)

func modelDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("ggufd_model_"+name, help, []string{"model"}, nil)
}

func (c modelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range modelGauges {
		ch <- g.desc
	}
	for _, g := range modelCounters {
		ch <- g.desc
	}
	ch <- deviceLayersDesc
	ch <- deviceMemoryDesc
	ch <- memoryAvailableDesc
}

func (c modelCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range c.catalog.Statuses() {
		if st.Model.IsVariant() {
			// A variant shares its base's instance (memory, slots, queue):
			// one series per loaded instance, or they count twice.
			continue
		}
		for _, g := range modelGauges {
			gauge(g.desc, g.value(st), st.Name)
		}
		if st.State == models.StateLoaded {
			for _, g := range modelCounters {
				ch <- prometheus.MustNewConstMetric(g.desc, prometheus.CounterValue, g.value(st), st.Name)
			}
		}
		for _, p := range placementOf(st) {
			gauge(deviceLayersDesc, float64(p.Layers), st.Name, p.Device)
			gauge(deviceMemoryDesc, float64(p.Bytes), st.Name, p.Device)
		}
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		gauge(memoryAvailableDesc, float64(vm.Available))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
