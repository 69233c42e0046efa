package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
)

// serveWithAccounts serves mgr through the accounts service on 127.0.0.1
// until the test ends, and returns the base URL.
func serveWithAccounts(t testing.TB, cfg *config.Config, mgr *models.Manager, svc *accounts.Service) string {
	t.Helper()
	srv, err := New(cfg, mgr, slog.New(slog.DiscardHandler), WithAccounts(svc))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// listedModels decodes /v1/models into id → object.
func listedModels(t *testing.T, body string) map[string]modelObject {
	t.Helper()
	var list struct {
		Data []struct {
			modelObject
			Pricing *pricingJSON `json:"pricing"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	out := map[string]modelObject{}
	for _, m := range list.Data {
		o := m.modelObject
		if m.Pricing != nil {
			o.Pricing = *m.Pricing
		}
		out[m.ID] = o
	}
	return out
}

const variantsConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: key}
models:
  story:
    file: story.gguf
    context: 256
    parallel: 4
    threads: 1
    pricing: {input_per_1k: 1, output_per_1k: 2}
  story-t:
    base: story
    description: per second
    system_prompt: You are a storyteller. Every answer is one long paragraph about a friendly dragon and its friends.
    pricing: {per_second: 1}
    rate_limit: 2
`

// TestPricedVariants serves one model under a per-token name and a
// per-second variant: one load, each name listed with its own price,
// billed and rate-limited under the name the client used, the variant's
// system prompt applied, and a per-second request reserved from the
// model's speed (600 s at 1 元/s would refuse a 5 元 account).
func TestPricedVariants(t *testing.T) {
	var loads atomic.Int32
	countLoads := func(ctx context.Context, path string, opts engine.LoadOptions) (models.LoadedModel, error) {
		loads.Add(1)
		return models.EngineLoader(ctx, path, opts)
	}
	cfg, _, mgr := startManager(t, variantsConfig, map[string]string{"story.gguf": "stories260K-chatml.gguf"}, models.WithLoader(countLoads))
	svc := newAccounts(t)
	ctx := context.Background()
	key := fundedKey(t, svc, "acme", 5)
	url := serveWithAccounts(t, cfg, mgr, svc)

	status, body := send(t, "GET", url+"/v1/models", key, "")
	listed := listedModels(t, body)
	base, variant := listed["story"], listed["story-t"]
	bp, _ := base.Pricing.(pricingJSON)
	vp, _ := variant.Pricing.(pricingJSON)
	if status != 200 || bp.InputPer1K != 1 || bp.OutputPer1K != 2 || bp.PerSecond != 0 ||
		vp.PerSecond != 1 || vp.InputPer1K != 0 || variant.Description != "per second" {
		t.Fatalf("/v1/models: %d %s", status, body)
	}
	// Unset, cached_input_per_1k is billed as input: it is shown so.
	if bp.CachedInputPer1K != 1 {
		t.Errorf("cached_input_per_1k shown %v, billed 1", bp.CachedInputPer1K)
	}

	chat := func(model string) (int, string) {
		return send(t, "POST", url+"/v1/chat/completions", key,
			`{"model":"`+model+`","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":8,"ignore_eos":true}`)
	}
	usageOf := func(body string) (prompt, completion int) {
		var r struct {
			Usage struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		return r.Usage.PromptTokens, r.Usage.CompletionTokens
	}
	var variantPrompt int
	for i := range 2 {
		status, body := chat("story-t")
		if status != 200 {
			t.Fatalf("variant request %d: %d %s", i, status, body)
		}
		p, c := usageOf(body)
		// No max_seconds: no cap, so the generation is not cut at once.
		if c != 8 {
			t.Fatalf("variant generated %d tokens, want 8: %s", c, body)
		}
		variantPrompt = p
	}
	if status, body := chat("story-t"); status != 429 {
		t.Errorf("third variant request in a minute (rate_limit 2): %d %s", status, body)
	}
	status, body = chat("story")
	if status != 200 {
		t.Fatalf("base after the variant's limit: %d %s", status, body)
	}
	if basePrompt, _ := usageOf(body); variantPrompt <= basePrompt {
		t.Errorf("prompt tokens: variant %d, base %d; the variant's system prompt was not applied", variantPrompt, basePrompt)
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("%d loads for a model and its variant, want 1", n)
	}

	rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: "acme"})
	if err != nil || len(rows) != 3 {
		t.Fatalf("ledger: %+v, %v", rows, err)
	}
	perSecond := accounts.NewPricing(0, 0, nil, 1, 0)
	perToken := accounts.NewPricing(1, 2, nil, 0, 0)
	for _, e := range rows {
		u := accounts.Usage{PromptTokens: e.PromptTokens, CachedTokens: e.CachedTokens, CompletionTokens: e.CompletionTokens,
			Processing: time.Duration(e.ProcessingMS) * time.Millisecond}
		want := map[string]accounts.Money{"story-t": perSecond.Cost(u), "story": perToken.Cost(u)}[e.Model]
		if e.Cost != want || e.Cost == 0 && e.Model == "story" {
			t.Errorf("ledger row %s: cost %s, want %s", e.Model, e.Cost, want)
		}
	}
	if rows[0].Model != "story-t" || rows[1].Model != "story-t" || rows[2].Model != "story" {
		t.Errorf("ledger models %s %s %s, want the names the client used", rows[0].Model, rows[1].Model, rows[2].Model)
	}

	// A key allow-listed for one name lists and uses that name only.
	limited, _, err := svc.CreateKey(ctx, accounts.KeyOptions{OpenID: "acme", Models: []string{"story"}})
	if err != nil {
		t.Fatal(err)
	}
	_, body = send(t, "GET", url+"/v1/models", limited, "")
	if got := listedModels(t, body); len(got) != 1 || got["story"].ID != "story" {
		t.Errorf("allow-listed key sees %s", body)
	}
	if status, _ := send(t, "GET", url+"/v1/models/story-t", limited, ""); status != 403 {
		t.Errorf("allow-listed key reads the variant: %d", status)
	}
}

// TestOpenIDModeClients: the provider's own clients work unchanged in
// auth mode openid: a made-up Bearer value is ignored, a key of another
// account is refused, an empty userid is the account's default user.
func TestOpenIDModeClients(t *testing.T) {
	store, err := accounts.OpenSQLite(context.Background(), t.TempDir()+"/ggufd.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeOpenID, Currency: "元"})
	fundedKey(t, svc, "acme", 10)
	other := fundedKey(t, svc, "other", 10)
	_, url := newTestServer(t, newFakeCatalog(), WithAccounts(svc))
	body := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, path, key string
		status          int
		user            string
	}{
		{"made-up key", "/llm_api/acme/u1/tiny/v1/chat/completions", "sk-this-can-be-fake", 200, "u1"},
		{"no key", "/llm_api/acme/u2/tiny/v1/chat/completions", "", 200, "u2"},
		{"empty userid", "/llm_api/acme//tiny/v1/chat/completions", "anything", 200, ""},
		{"empty userid and model", "/llm_api/acme///v1/chat/completions", "", 200, ""},
		{"another account's key", "/llm_api/acme/u1/tiny/v1/chat/completions", other, 403, ""},
		{"unknown openid", "/llm_api/nobody/u1/tiny/v1/chat/completions", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := svc.Ledger(context.Background(), accounts.LedgerFilter{OpenID: "acme"})
			status, resp := send(t, "POST", url+tt.path, tt.key, body)
			if status != tt.status {
				t.Fatalf("%d %s", status, resp)
			}
			if status != 200 {
				return
			}
			rows, _ := svc.Ledger(context.Background(), accounts.LedgerFilter{OpenID: "acme"})
			if len(rows) != len(before)+1 || rows[len(rows)-1].UserID != tt.user {
				t.Fatalf("ledger after the request: %+v", rows)
			}
		})
	}
}

// TestCurrencyFollowsReload: prices are shown in the currency in force.
func TestCurrencyFollowsReload(t *testing.T) {
	svc := newAccounts(t)
	key := fundedKey(t, svc, "acme", 1)
	cat := newFakeCatalog()
	e := cat.entries["tiny"]
	e.Model.Pricing = config.Pricing{InputPer1K: 1}
	cat.entries["tiny"] = e
	_, url := newTestServer(t, cat, WithAccounts(svc))
	svc.SetAuth(accounts.AuthSettings{Mode: accounts.ModeKey, Currency: "USD"})
	_, body := send(t, "GET", url+"/v1/models", key, "")
	if p, _ := listedModels(t, body)["tiny"].Pricing.(pricingJSON); p.Currency != "USD" {
		t.Errorf("currency after reload: %s", body)
	}
}

// perSecondTinyConfig prices the tiny random-weights model by the second;
// eight slots decode together.
const perSecondTinyConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: key}
models:
  timed:
    file: timed.gguf
    context: 256
    parallel: 8
    threads: 1
    pricing: {per_second: 1}
`

// perSecondTokens is what each request generates: enough that the ledger's
// whole milliseconds lose under 1% of a request's time.
const perSecondTokens = 200

// perSecondBilling serves timed with loader options changed by tune, runs
// one request alone and then eight at once, and returns the processing
// milliseconds the ledger billed to each (alone first) and the model's busy
// time.
func perSecondBilling(t *testing.T, tune func(*engine.LoadOptions)) ([]int64, time.Duration) {
	t.Helper()
	load := func(ctx context.Context, path string, opts engine.LoadOptions) (models.LoadedModel, error) {
		tune(&opts)
		return models.EngineLoader(ctx, path, opts)
	}
	cfg, _, mgr := startManager(t, perSecondTinyConfig, map[string]string{"timed.gguf": "llama-2-tiny-random.gguf"}, models.WithLoader(load))
	svc := newAccounts(t)
	url := serveWithAccounts(t, cfg, mgr, svc)
	ctx := context.Background()
	if err := mgr.Load(ctx, "timed"); err != nil {
		t.Fatal(err)
	}
	complete := func(openid, key string, i int) {
		status, body := send(t, "POST", url+"/v1/completions", key,
			fmt.Sprintf(`{"model":"timed","prompt":[1, %d, 301, 302, 303],"max_tokens":%d,"ignore_eos":true}`, 300+i, perSecondTokens))
		if status != 200 {
			t.Errorf("%s: %d %s", openid, status, body)
		}
	}
	keys := make([]string, 9)
	for i := range keys {
		keys[i] = fundedKey(t, svc, fmt.Sprintf("o%d", i), 1000)
	}
	complete("o0", keys[0], 0)
	var wg sync.WaitGroup
	for i := 1; i < 9; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			complete(fmt.Sprintf("o%d", i), keys[i], 10+i)
		}()
	}
	wg.Wait()
	billed := make([]int64, 9)
	for i := range billed {
		rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: fmt.Sprintf("o%d", i)})
		if err != nil || len(rows) != 1 || rows[0].CompletionTokens != perSecondTokens {
			t.Fatalf("ledger of o%d: %+v, %v", i, rows, err)
		}
		billed[i] = rows[0].ProcessingMS
	}
	l, err := mgr.Acquire(ctx, "timed")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	return billed, l.Loaded().Stats().Busy
}

// TestPerSecondBillingConserved: with real timing, the seconds billed to
// the requests of a per-second model, concurrent ones included, add up to
// the model's busy time (the ledger keeps milliseconds, so each row may be
// up to 1 ms short).
func TestPerSecondBillingConserved(t *testing.T) {
	billed, busy := perSecondBilling(t, func(*engine.LoadOptions) {})
	var sum int64
	for _, ms := range billed {
		sum += ms
	}
	total := time.Duration(sum) * time.Millisecond
	if diff := float64(busy-total) / float64(busy); diff > 0.05 || diff < -0.05 {
		t.Errorf("billed %v in all against %v of busy time (%.1f%% apart); rows %v", total, busy, 100*diff, billed)
	}
	t.Logf("billed %v, busy %v, rows (ms) %v", total, busy, billed)
}

// TestPerSecondBillingFair: a request batched with seven others is billed no
// more than alone (within 10%), through the ledger. Step times on a shared
// machine swing with other processes, so the engine's clock here advances
// one millisecond a reading: a decode step costs the same whatever its
// batch (the dearest case for the batch), and so the comparison measures
// how the bill is shared, not the machine.
func TestPerSecondBillingFair(t *testing.T) {
	var ticks atomic.Int64
	base := time.Unix(0, 0)
	billed, busy := perSecondBilling(t, func(o *engine.LoadOptions) {
		o.ComputeClock = func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	})
	alone := billed[0]
	for i, ms := range billed[1:] {
		if float64(ms) > 1.1*float64(alone) {
			t.Errorf("request %d batched with 7 others billed %d ms, alone %d ms", i+1, ms, alone)
		}
	}
	t.Logf("alone %d ms, batched %v; busy %v", alone, billed[1:], busy)
}

// TestProviderExampleConfig serves docs/provider-example.yaml on the tiny
// test models: every name listed with its price, variants sharing their
// base's instance, and the provider's client (a made-up key, an openid URL,
// an empty userid) billed under the name it used.
func TestProviderExampleConfig(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "docs", "provider-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range []string{"Yi-34B-Chat-Q4_K_M.gguf", "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf", "Qwen2.5-Coder-14B-Instruct-Q4_K_M.gguf"} {
		files[f] = "stories260K-chatml.gguf"
	}
	var loads atomic.Int32
	countLoads := func(ctx context.Context, path string, opts engine.LoadOptions) (models.LoadedModel, error) {
		loads.Add(1)
		return models.EngineLoader(ctx, path, opts)
	}
	cfg, _, mgr := startManager(t, string(text), files, models.WithLoader(countLoads))
	if cfg.Auth.Mode != "openid" || !cfg.ConfiguredOnly {
		t.Fatalf("auth %q, configured_only %v", cfg.Auth.Mode, cfg.ConfiguredOnly)
	}
	store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ggufd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeOpenID, Currency: cfg.Auth.Currency})
	openid, err := accounts.NewOpenID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(context.Background(), accounts.Account{OpenID: openid, Balance: accounts.MoneyFromFloat(10)}); err != nil {
		t.Fatal(err)
	}
	url := serveWithAccounts(t, cfg, mgr, svc)

	_, body := send(t, "GET", url+"/llm_api/"+openid+"/u1//v1/models", "sk-anything", "")
	listed := listedModels(t, body)
	wantPerSecond := map[string]float64{"yi-34b-t": 0.019, "mistral-t": 0.006, "code3-t": 0.01}
	for _, name := range []string{"yi-34b", "yi-34b-t", "mistral", "mistral-t", "code3", "code3-t"} {
		p, ok := listed[name].Pricing.(pricingJSON)
		if !ok || p.Currency != "元" || p.PerSecond != wantPerSecond[name] || (p.PerSecond == 0) == (p.InputPer1K == 0) {
			t.Errorf("%s listed as %+v", name, listed[name])
		}
	}
	if len(listed) != 6 {
		t.Errorf("listed %d models, want the 6 configured: %s", len(listed), body)
	}
	for _, model := range []string{"yi-34b", "yi-34b-t"} {
		status, resp := send(t, "POST", url+"/llm_api/"+openid+"//"+model+"/v1/chat/completions", "sk-this-can-be-fake",
			`{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":8}`)
		if status != 200 {
			t.Fatalf("%s: %d %s", model, status, resp)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("%d loads for yi-34b and yi-34b-t, want 1", n)
	}
	rows, err := svc.Ledger(context.Background(), accounts.LedgerFilter{OpenID: openid})
	if err != nil || len(rows) != 2 || rows[0].Model != "yi-34b" || rows[1].Model != "yi-34b-t" || rows[1].Cost == 0 {
		t.Fatalf("ledger: %+v, %v", rows, err)
	}
}
