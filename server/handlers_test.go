package server

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/chattemplate"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/accountsapi"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

func decodeResp[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestChatNonStream(t *testing.T) {
	cat := newFakeCatalog()
	_, url := newTestServer(t, cat)
	resp := post(t, url+"/v1/chat/completions", `{"model":"tiny-alias","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"there"}]}],"max_tokens":5,"logprobs":true,"top_logprobs":1,"stop":"x","unknown_field":1}`)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	got := decodeResp[chatCompletion](t, resp)
	if !strings.HasPrefix(got.ID, "chatcmpl-") || got.Object != "chat.completion" || got.Model != "tiny" {
		t.Errorf("header fields: %+v", got)
	}
	if len(got.Choices) != 1 || deref(got.Choices[0].Message.Content) != "Hello world" || got.Choices[0].FinishReason != "length" {
		t.Fatalf("choices: %+v", got.Choices)
	}
	if lp := got.Choices[0].Logprobs; lp == nil || len(lp.Content) != 2 || len(lp.Content[0].TopLogprobs) != 1 {
		t.Errorf("logprobs: %+v", lp)
	}
	if got.Usage.PromptTokens != 7 || got.Usage.CompletionTokens != 2 || got.Usage.TotalTokens != 9 || got.Usage.PromptTokensDetails.CachedTokens != 2 {
		t.Errorf("usage: %+v", got.Usage)
	}
	req := cat.models["tiny"].lastRequest(t)
	if req.Prompt != "<system>be brief\n<user>hi\nthere\n<assistant>" {
		t.Errorf("prompt %q", req.Prompt)
	}
	if req.MaxTokens != 5 || len(req.Stop) != 1 || req.Stop[0] != "x" || !req.Logprobs || req.TopLogprobs != 1 {
		t.Errorf("engine request: %+v", req)
	}
	select {
	case <-cat.released:
	case <-time.After(5 * time.Second):
		t.Error("lease not released")
	}
}

func TestModelDefaultsApplied(t *testing.T) {
	cat := newFakeCatalog()
	temp, topK, seed := 0.1, 7, int64(42)
	cat.edit("tiny", func(e *models.Entry) {
		e.Model.Sampling = config.SamplingDefaults{Temperature: &temp, TopK: &topK, Seed: &seed}
		e.Model.Stop = []string{"</s>"}
		e.Model.MaxTokens = 10
	})
	_, url := newTestServer(t, cat)

	tests := []struct {
		name      string
		body      string
		temp      float32
		maxTokens int
		stop      []string
	}{
		{"defaults", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`, 0.1, 10, []string{"</s>"}},
		{"request wins, cap applies", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"temperature":1.5,"max_completion_tokens":50,"stop":["a","b"]}`, 1.5, 10, []string{"a", "b"}},
		{"below cap", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3}`, 0.1, 3, []string{"</s>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if resp := post(t, url+"/v1/chat/completions", tc.body); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			req := cat.models["tiny"].lastRequest(t)
			if req.Sampling.Temperature != tc.temp || req.MaxTokens != tc.maxTokens || strings.Join(req.Stop, "|") != strings.Join(tc.stop, "|") {
				t.Errorf("got temp %v max %d stop %q", req.Sampling.Temperature, req.MaxTokens, req.Stop)
			}
			if req.Sampling.TopK != 7 || req.Sampling.Seed == nil || *req.Sampling.Seed != 42 {
				t.Errorf("defaults not applied: %+v", req.Sampling)
			}
		})
	}
}

// sseEvents reads a stream into its data payloads and comments.
func sseEvents(t *testing.T, r io.Reader) (data []string, comments []string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20) // an event with logprobs of many choices can be long
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, ":"):
			comments = append(comments, line)
		case line == "":
		default:
			t.Errorf("unexpected SSE line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("read SSE: %v", err)
	}
	return data, comments
}

func TestChatStreamFraming(t *testing.T) {
	cat := newFakeCatalog()
	_, url := newTestServer(t, cat)
	resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"n":2}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers: %v", resp.Header)
	}
	data, _ := sseEvents(t, resp.Body)
	if len(data) < 4 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("events: %q", data)
	}
	seenRole := map[int]bool{}
	text := map[int]string{}
	finished := map[int]string{}
	var usage *usageJSON
	for i, d := range data[:len(data)-1] {
		var ch struct {
			Object  string `json:"object"`
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Role    string  `json:"role"`
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *usageJSON `json:"usage"`
		}
		if err := json.Unmarshal([]byte(d), &ch); err != nil {
			t.Fatalf("event %d %q: %v", i, d, err)
		}
		if ch.Object != "chat.completion.chunk" {
			t.Errorf("object %q", ch.Object)
		}
		if len(ch.Choices) == 0 {
			if i != len(data)-2 {
				t.Errorf("usage chunk is not last")
			}
			usage = ch.Usage
			continue
		}
		c := ch.Choices[0]
		if c.Delta.Role != "" {
			seenRole[c.Index] = true
		} else if !seenRole[c.Index] {
			t.Errorf("choice %d: content before role", c.Index)
		}
		if _, done := finished[c.Index]; done {
			t.Errorf("choice %d: chunk after finish_reason", c.Index)
		}
		if c.Delta.Content != nil {
			text[c.Index] += *c.Delta.Content
		}
		if c.FinishReason != nil {
			finished[c.Index] = *c.FinishReason
		}
	}
	for i := range 2 {
		if text[i] != "Hello world" || finished[i] != "length" {
			t.Errorf("choice %d: text %q finish %q", i, text[i], finished[i])
		}
	}
	if usage == nil || usage.CompletionTokens != 4 || usage.TotalTokens != 11 {
		t.Errorf("usage chunk: %+v", usage)
	}
}

func TestCompletionsPrompts(t *testing.T) {
	cat := newFakeCatalog()
	_, url := newTestServer(t, cat)
	for _, tt := range []struct {
		body     string
		echo     bool
		logprobs bool
	}{
		{`{"model":"tiny","prompt":["a","b"],"n":2,"echo":true}`, true, false},
		{`{"model":"tiny","prompt":["a","b"],"n":2,"logprobs":2}`, false, true},
	} {
		resp := post(t, url+"/v1/completions", tt.body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", tt.body, resp.StatusCode)
		}
		got := decodeResp[textCompletion](t, resp)
		if len(got.Choices) != 4 || got.Object != "text_completion" || !strings.HasPrefix(got.ID, "cmpl-") {
			t.Fatalf("got %+v", got)
		}
		for i, ch := range got.Choices {
			want := "Hello world"
			if tt.echo {
				want = []string{"a", "a", "b", "b"}[i] + want
			}
			if ch.Index != i || ch.Text != want || (ch.Logprobs != nil) != tt.logprobs ||
				tt.logprobs && (len(ch.Logprobs.Tokens) != 2 || ch.Logprobs.TextOffset[0] != 0) {
				t.Errorf("%s: choice %d: %+v", tt.body, i, ch)
			}
		}
		if got.Usage.PromptTokens != 14 || got.Usage.CompletionTokens != 8 {
			t.Errorf("usage %+v", got.Usage)
		}
	}

	resp := post(t, url+"/v1/completions", `{"model":"tiny","prompt":[[72,105]],"stream":true}`)
	data, _ := sseEvents(t, resp.Body)
	if len(data) != 4 || data[3] != "[DONE]" || !strings.Contains(data[2], `"finish_reason":"length"`) {
		t.Errorf("stream: %q", data)
	}
	if req := cat.models["tiny"].lastRequest(t); len(req.PromptTokens) != 2 || req.Prompt != "" {
		t.Errorf("token prompt: %+v", req)
	}
}

func TestEmbeddings(t *testing.T) {
	_, url := newTestServer(t, newFakeCatalog())
	resp := post(t, url+"/v1/embeddings", `{"model":"embed","input":["a","b"]}`)
	got := decodeResp[struct {
		Object string
		Data   []struct {
			Object    string
			Index     int
			Embedding []float32
		}
		Usage embeddingUsage
	}](t, resp)
	if got.Object != "list" || len(got.Data) != 2 || got.Data[1].Index != 1 || got.Data[1].Embedding[1] != 0.8 || got.Usage.PromptTokens != 6 {
		t.Errorf("got %+v", got)
	}

	resp = post(t, url+"/v1/embeddings", `{"model":"embed","input":[1,2,3],"encoding_format":"base64"}`)
	b64 := decodeResp[struct{ Data []struct{ Embedding string } }](t, resp)
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 8 || raw[3] != 0x3f { // 0.6 = 0x3f19999a little-endian
		t.Errorf("base64 embedding %v %v", raw, err)
	}
}

func TestModelsList(t *testing.T) {
	_, url := newTestServer(t, newFakeCatalog())
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := decodeResp[modelList](t, resp)
	if got.Object != "list" || len(got.Data) != 2 {
		t.Fatalf("got %+v", got)
	}
	m := got.Data[0]
	if m.ID != "tiny" || m.Object != "model" || m.OwnedBy == "" || m.Status != "loaded" || m.Type != "chat" || m.ContextLength != 256 || m.Aliases[0] != "tiny-alias" {
		t.Errorf("model %+v", m)
	}
	if e := got.Data[1]; e.Type != "embeddings" || e.Status != "loading" || e.Progress == nil {
		t.Errorf("embed model %+v", e)
	}
	resp2, err := http.Get(url + "/v1/models/tiny-alias")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if one := decodeResp[modelObject](t, resp2); one.ID != "tiny" {
		t.Errorf("get model: %+v", one)
	}
}

// recordingGate records what it admits and can refuse.
type recordingGate struct {
	calls  chan accountsapi.Request
	reject error
}

func (g *recordingGate) Authenticate(context.Context, accountsapi.Request) (accounts.Identity, error) {
	return accounts.Identity{}, nil
}

func (g *recordingGate) Admit(ctx context.Context, r accountsapi.Request) (context.Context, *accountsapi.Ticket, error) {
	g.calls <- r
	if g.reject != nil {
		return nil, nil, g.reject
	}
	return ctx, new(accountsapi.Ticket), nil
}

func TestLLMAPIPaths(t *testing.T) {
	cat := newFakeCatalog()
	gate := &recordingGate{calls: make(chan accountsapi.Request, 8)}
	_, url := newTestServer(t, cat, WithGatekeeper(gate))
	tests := []struct {
		path, bodyModel, wantModel string
	}{
		{"/llm_api/oid1/uid1/tiny/v1/chat/completions", "nope", "tiny"},
		{"/llm_api/oid1/uid1//v1/chat/completions", "tiny-alias", "tiny"},
		{"/llm_api/oid1/uid1/tiny%2Dalias/v1/chat/completions", "", "tiny"},
	}
	for _, tc := range tests {
		resp := post(t, url+tc.path, `{"model":"`+tc.bodyModel+`","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, b)
		}
		got := decodeResp[chatCompletion](t, resp)
		call := <-gate.calls
		if got.Model != tc.wantModel || call.OpenID != "oid1" || call.UserID != "uid1" || call.Model != tc.wantModel {
			t.Errorf("%s: model %q call %+v", tc.path, got.Model, call)
		}
	}
	post(t, url+"/v1/chat/completions", `{"model":"tiny","user":"body-user","messages":[{"role":"user","content":"hi"}]}`)
	if call := <-gate.calls; call.UserID != "body-user" || call.OpenID != "" {
		t.Errorf("body user: %+v", call)
	}
	resp, _ := http.Get(url + "/llm_api/oid1/uid1//v1/models")
	if resp.StatusCode != 200 {
		t.Errorf("models via llm_api: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestGatekeeper(t *testing.T) {
	t.Run("reject", func(t *testing.T) {
		gate := &recordingGate{calls: make(chan accountsapi.Request, 8), reject: apierror.InvalidAPIKey("Incorrect API key provided.")}
		_, url := newTestServer(t, newFakeCatalog(), WithGatekeeper(gate))
		resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 401 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("suspended while loading", func(t *testing.T) {
		cat := newFakeCatalog()
		cat.loadDelay = time.Minute // Acquire returns when the context ends
		svc := newAccounts(t)
		key := fundedKey(t, svc, "o1", 1)
		_, url := newTestServer(t, cat, WithAccounts(svc))
		answer := sendAsync("POST", url+"/llm_api/o1/u1/tiny/v1/completions", key, `{"prompt":"x","n":2,"stream":true}`)
		suspendOnceRunning(t, svc, "o1", "u1")
		got := <-answer
		data, _ := sseEvents(t, strings.NewReader(got.body))
		if got.status != 200 || len(data) != 3 || strings.Count(strings.Join(data, ""), `"finish_reason":"stop"`) != 2 || data[2] != "[DONE]" {
			t.Errorf("status %d events %q (%v)", got.status, data, got.err)
		}
	})
	t.Run("suspended finishes with stop", func(t *testing.T) {
		cat := newFakeCatalog()
		cat.models["tiny"].block = true
		svc := newAccounts(t)
		key := fundedKey(t, svc, "o1", 1)
		_, url := newTestServer(t, cat, WithAccounts(svc))
		answer := sendAsync("POST", url+"/llm_api/o1/u1/tiny/v1/chat/completions", key, `{"messages":[{"role":"user","content":"hi"}]}`)
		suspendOnceRunning(t, svc, "o1", "u1")
		got := <-answer
		var cc chatCompletion
		if err := json.Unmarshal([]byte(got.body), &cc); err != nil || got.status != 200 || len(cc.Choices) != 1 || cc.Choices[0].FinishReason != "stop" {
			t.Errorf("status %d %s (%v)", got.status, got.body, got.err)
		}
	})
}

func TestErrors(t *testing.T) {
	chat := func(extra string) string {
		return `{"model":"tiny","messages":[{"role":"user","content":"hi"}]` + extra + `}`
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		setup      func(*fakeCatalog)
		status     int
		code       string
		param      string
		retryAfter bool
	}{
		{"bad json", "POST", "/v1/chat/completions", `{"model":`, nil, 400, "invalid_json", "", false},
		{"empty body", "POST", "/v1/chat/completions", ``, nil, 400, "invalid_json", "", false},
		{"temperature range", "POST", "/v1/chat/completions", chat(`,"temperature":3`), nil, 400, "invalid_value", "temperature", false},
		{"temperature type", "POST", "/v1/chat/completions", chat(`,"temperature":"hot"`), nil, 400, "invalid_type", "temperature", false},
		{"message type", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":5}]}`, nil, 400, "invalid_type", "messages[0].content", false},
		{"top_p", "POST", "/v1/chat/completions", chat(`,"top_p":1.5`), nil, 400, "invalid_value", "top_p", false},
		{"n", "POST", "/v1/chat/completions", chat(`,"n":0`), nil, 400, "invalid_value", "n", false},
		{"n above slots", "POST", "/v1/chat/completions", chat(`,"n":5`), nil, 400, "invalid_value", "n", false},
		{"max_tokens", "POST", "/v1/chat/completions", chat(`,"max_tokens":0`), nil, 400, "invalid_value", "max_tokens", false},
		{"logit_bias", "POST", "/v1/chat/completions", chat(`,"logit_bias":{"5":200}`), nil, 400, "invalid_value", "logit_bias", false},
		{"top_logprobs", "POST", "/v1/chat/completions", chat(`,"logprobs":true,"top_logprobs":21`), nil, 400, "invalid_value", "top_logprobs", false},
		{"stop type", "POST", "/v1/chat/completions", chat(`,"stop":5`), nil, 400, "invalid_type", "stop", false},
		{"response_format", "POST", "/v1/chat/completions", chat(`,"response_format":{"type":"xml"}`), nil, 400, "invalid_value", "response_format.type", false},
		{"image to a text model", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, nil, 400, "unsupported_content", "messages[0].content[0].image_url", false},
		{"image part without url", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, nil, 400, "invalid_value", "messages[0].content[0].image_url.url", false},
		{"audio part", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, nil, 400, "unsupported_content", "messages[0].content[0].type", false},
		{"refusal part from the user", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"refusal","refusal":"no"}]}]}`, nil, 400, "unsupported_content", "messages[0].content[0].type", false},
		{"refusal part without its text", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"refusal"}]},{"role":"user","content":"ok"}]}`, nil, 400, "invalid_value", "messages[1].content[0].refusal", false},
		{"legacy functions", "POST", "/v1/chat/completions", chat(`,"functions":[{"name":"f","parameters":{}}]`), nil, 400, "invalid_value", "functions", false},
		{"legacy function_call", "POST", "/v1/chat/completions", chat(`,"function_call":{"name":"f"}`), nil, 400, "invalid_value", "function_call", false},
		{"echo with logprobs", "POST", "/v1/completions", `{"model":"tiny","prompt":"x","echo":true,"logprobs":1}`, nil, 400, "invalid_value", "logprobs", false},
		{"bad role", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"wizard","content":"x"}]}`, nil, 400, "invalid_value", "messages[0].role", false},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[]}`, nil, 400, "invalid_value", "messages", false},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_value", "model", false},
		{"unknown model", "POST", "/v1/chat/completions", `{"model":"tiny2","messages":[{"role":"user","content":"x"}]}`, nil, 404, "model_not_found", "model", false},
		{"unknown model get", "GET", "/v1/models/nope", ``, nil, 404, "model_not_found", "model", false},
		{"chat on embedding model", "POST", "/v1/chat/completions", `{"model":"embed","messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_value", "model", false},
		{"embeddings on chat model", "POST", "/v1/embeddings", `{"model":"tiny","input":"x"}`, nil, 400, "invalid_value", "model", false},
		// Templates print tools and arguments recursively: nesting is
		// bounded (jinja.MaxJSONDepth), or an 18 KB schema cost gigabytes.
		{"tools nested too deep", "POST", "/v1/chat/completions", chat(`,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"x":` +
			strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}}]`), nil, 400, "invalid_value", "tools[0]", false},
		{"arguments nested too deep", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"` +
			strings.Repeat("[", 600) + strings.Repeat("]", 600) + `"}}]},{"role":"user","content":"x"}]}`, nil, 400, "invalid_value", "messages[0].tool_calls[0].function.arguments", false},
		// OpenAI's limit; token-id inputs cost no prompt_limit bytes.
		{"embeddings inputs", "POST", "/v1/embeddings", `{"model":"embed","input":[[1]` + strings.Repeat(`,[1]`, maxEmbeddingInputs) + `]}`, nil, 400, "invalid_value", "input", false},
		{"suffix", "POST", "/v1/completions", `{"model":"tiny","prompt":"x","suffix":"y"}`, nil, 400, "invalid_value", "suffix", false},
		{"prompt missing", "POST", "/v1/completions", `{"model":"tiny"}`, nil, 400, "invalid_value", "prompt", false},
		{"prompt type", "POST", "/v1/completions", `{"model":"tiny","prompt":{"a":1}}`, nil, 400, "invalid_type", "prompt", false},
		{"prompt too long", "POST", "/v1/completions", `{"model":"tiny","prompt":"x"}`, func(c *fakeCatalog) {
			c.models["tiny"].genErr = &engine.PromptTooLongError{PromptTokens: 300, ContextLength: 256}
		}, 400, "context_length_exceeded", "prompt", false},
		{"engine invalid", "POST", "/v1/chat/completions", chat(`,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}`), func(c *fakeCatalog) {
			c.models["tiny"].genErr = &engine.InvalidRequestError{Param: "response_format", Message: "bad schema"}
		}, 400, "invalid_value", "response_format", false},
		{"no template", "POST", "/v1/chat/completions", chat(``), func(c *fakeCatalog) { c.models["tiny"].promptErr = engine.ErrNoChatTemplate }, 400, "no_chat_template", "", false},
		{"queue full", "POST", "/v1/chat/completions", chat(``), func(c *fakeCatalog) { c.models["tiny"].genErr = engine.ErrQueueFull }, 429, "queue_full", "", true},
		{"closed", "POST", "/v1/chat/completions", chat(``), func(c *fakeCatalog) { c.models["tiny"].genErr = engine.ErrClosed }, 503, "model_unloaded", "", true},
		{"unavailable", "POST", "/v1/chat/completions", chat(``), func(c *fakeCatalog) {
			c.acquireErr = &models.InsufficientMemoryError{Model: "tiny", Needed: 3 << 30, Available: 1 << 30}
		}, 503, "model_unavailable", "", true},
		{"internal", "POST", "/v1/chat/completions", chat(``), func(c *fakeCatalog) { c.models["tiny"].genErr = errors.New("boom") }, 500, "internal_error", "", false},
		{"unknown route", "GET", "/v1/nothing", ``, nil, 404, "unknown_url", "", false},
		{"bad llm_api", "POST", "/llm_api/x/v1/chat/completions", ``, nil, 404, "unknown_url", "", false},
		{"method", "GET", "/v1/chat/completions", ``, nil, 405, "method_not_allowed", "", false},
		{"too large", "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<17) + `"}]}`, nil, 413, "request_too_large", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat := newFakeCatalog()
			if tc.setup != nil {
				tc.setup(cat)
			}
			_, url := newTestServer(t, cat)
			req, _ := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := decodeResp[apierror.Body](t, resp)
			if resp.StatusCode != tc.status || body.Error == nil {
				t.Fatalf("status %d body %+v", resp.StatusCode, body.Error)
			}
			e := body.Error
			if code := deref(e.Code); code != tc.code {
				t.Errorf("code %q, want %q (%s)", code, tc.code, e.Message)
			}
			if param := deref(e.Param); param != tc.param {
				t.Errorf("param %q, want %q (%s)", param, tc.param, e.Message)
			}
			if e.Message == "" || e.Type == "" {
				t.Errorf("empty message or type: %+v", e)
			}
			if got := resp.Header.Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After present=%v", got)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestPromptTooLongMessage(t *testing.T) {
	ae, _ := toAPIError(&engine.PromptTooLongError{PromptTokens: 300, ContextLength: 256})
	if !strings.Contains(ae.Message, "300") || !strings.Contains(ae.Message, "256") {
		t.Errorf("message lacks lengths: %s", ae.Message)
	}
	ae, _ = toAPIError(&models.NotFoundError{Name: "lama", Suggestions: []string{"llama"}})
	if !strings.Contains(ae.Message, "llama") {
		t.Errorf("message lacks suggestion: %s", ae.Message)
	}
}

func TestErrorAfterStreamStarted(t *testing.T) {
	cat := newFakeCatalog()
	cat.loadDelay = 150 * time.Millisecond
	cat.models["tiny"].genErr = engine.ErrQueueFull
	_, url := newTestServer(t, cat, WithHeartbeat(20*time.Millisecond))
	resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	data, comments := sseEvents(t, resp.Body)
	if len(comments) == 0 || !strings.HasPrefix(comments[0], ": loading") {
		t.Errorf("no heartbeat: %q", comments)
	}
	if len(data) != 2 || !strings.Contains(data[0], `"queue_full"`) || data[1] != "[DONE]" {
		t.Errorf("events %q", data)
	}
}

func TestDisconnectCancels(t *testing.T) {
	cat := newFakeCatalog()
	cat.models["tiny"].block = true
	_, url := newTestServer(t, cat)
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions",
		strings.NewReader(`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`))
	hangUpWhileStreaming(t, req)
	select {
	case <-cat.models["tiny"].cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("generation not cancelled after disconnect")
	}
	select {
	case <-cat.released:
	case <-time.After(10 * time.Second):
		t.Fatal("lease not released after disconnect")
	}
}

func TestUtilityEndpoints(t *testing.T) {
	_, url := newTestServer(t, newFakeCatalog())
	tests := []struct {
		path, body, want string
	}{
		{"/tokenize", `{"model":"tiny","content":"hi","add_special":true}`, `{"tokens":[1,104,105]}`},
		{"/tokenize", `{"model":"tiny","content":"h","with_pieces":true}`, `{"tokens":[{"id":104,"piece":"h"}]}`},
		{"/detokenize", `{"model":"tiny","tokens":[104,105]}`, `{"content":"hi"}`},
		{"/apply-template", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`, `{"prompt":"\u003cuser\u003ehi\n\u003cassistant\u003e"}`},
		{"/apply-template", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"add_generation_prompt":false}`, `{"prompt":"\u003cuser\u003ehi\n"}`},
	}
	for _, tc := range tests {
		resp := post(t, url+tc.path, tc.body)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != tc.want {
			t.Errorf("%s %s: %d %s", tc.path, tc.body, resp.StatusCode, b)
		}
	}
}

// TestApplyTemplateShowsSystemPrompt: /apply-template shows exactly what
// a chat request renders, the model's configured system prompt included.
func TestApplyTemplateShowsSystemPrompt(t *testing.T) {
	cat := newFakeCatalog()
	cat.edit("tiny", func(e *models.Entry) { e.Model.SystemPrompt = "You are terse." })
	_, url := newTestServer(t, cat)
	tests := []struct {
		name, msgs string
		added      bool // the configured prompt is in the rendered text
	}{
		{"added", `[{"role":"user","content":"hi"}]`, true},
		{"the request's own system message wins", `[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]`, false},
		// A second system turn would break strict templates.
		{"also when it is not the first", `[{"role":"user","content":"hi"},{"role":"system","content":"Be brief."}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"model":"tiny","messages":` + tt.msgs + `}`
			if st, b := send(t, "POST", url+"/v1/chat/completions", "", body); st != 200 {
				t.Fatalf("chat: %d %s", st, b)
			}
			seen := cat.models["tiny"].lastRequest(t).Prompt
			st, b := send(t, "POST", url+"/apply-template", "", body)
			var got struct{ Prompt string }
			if err := json.Unmarshal([]byte(b), &got); st != 200 || err != nil {
				t.Fatalf("apply-template: %d %s", st, b)
			}
			if got.Prompt != seen {
				t.Errorf("/apply-template shows %q; the model saw %q", got.Prompt, seen)
			}
			if added := strings.Contains(seen, "You are terse."); added != tt.added {
				t.Errorf("configured system prompt in %q: %v, want %v", seen, added, tt.added)
			}
		})
	}
}

// TestModelIDPercentEncoded: OpenAI's SDKs escape the id in
// /v1/models/{id}; a name with a slash must be found either way.
func TestModelIDPercentEncoded(t *testing.T) {
	cat := newFakeCatalog()
	cat.edit("tiny", func(e *models.Entry) { e.Name, e.Model.Name = "org/model", "org/model" })
	cat.entries["org/model"] = cat.entries["tiny"]
	cat.models["org/model"] = newFakeModel()
	_, url := newTestServer(t, cat)
	for _, p := range []string{"/v1/models/org/model", "/v1/models/org%2Fmodel", "/v1/models/org%2fmodel"} {
		st, body := send(t, "GET", url+p, "", "")
		if st != 200 || !strings.Contains(body, `"id":"org/model"`) {
			t.Errorf("GET %s: %d %s", p, st, body)
		}
	}
}

func TestToolCallArgumentsParsed(t *testing.T) {
	msgs, _, err := toTemplateMessages([]wireMessage{{Role: ptr("assistant"), ToolCalls: []wireToolCall{{ID: "c1", Type: "function"}}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = msgs
	var tc wireToolCall
	if err := json.Unmarshal([]byte(`{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"b\":1,\"a\":[2]}"}}`), &tc); err != nil {
		t.Fatal(err)
	}
	calls, err := templateToolCalls([]wireToolCall{tc}, "messages[0].tool_calls")
	if err != nil {
		t.Fatal(err)
	}
	fn, _ := calls[0].(*chattemplate.Map).Get("function")
	args, _ := fn.(*chattemplate.Map).Get("arguments")
	if _, ok := args.(*chattemplate.Map); !ok {
		t.Errorf("arguments not parsed into an object: %#v", args)
	}
	// Text that is not JSON reaches the template as text (see
	// TestReplayedArgumentsThatAreNotJSON).
	tc.Function.Arguments = json.RawMessage(`"{not json"`)
	calls, err = templateToolCalls([]wireToolCall{tc}, "messages[0].tool_calls")
	if err != nil {
		t.Fatal(err)
	}
	fn, _ = calls[0].(*chattemplate.Map).Get("function")
	if args, _ := fn.(*chattemplate.Map).Get("arguments"); args != "{not json" {
		t.Errorf("arguments that are not JSON: %#v, want the text", args)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPanicRecovered(t *testing.T) {
	s, err := NewWithCatalog(Settings{}, newFakeCatalog(), nil, WithRoutes(func(e *echo.Echo) {
		e.GET("/panic", func(echo.Context) error { panic("boom") })
	}))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptestRecorder(s, "GET", "/panic")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal_error") {
		t.Errorf("got %d %s", rec.Code, rec.Body.String())
	}
}

func TestPerSecondPriceCapStopsGeneration(t *testing.T) {
	cat := newFakeCatalog()
	cat.models["tiny"].block = true
	cat.edit("tiny", func(e *models.Entry) { e.Model.Pricing = config.Pricing{PerSecond: 0.01, MaxSeconds: 0.2} })
	_, url := newTestServer(t, cat)
	resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`)
	got := decodeResp[chatCompletion](t, resp)
	if resp.StatusCode != 200 || len(got.Choices) != 1 || got.Choices[0].FinishReason != "length" {
		t.Errorf("status %d %+v", resp.StatusCode, got)
	}
}

func TestKeepAliveWhileGenerating(t *testing.T) {
	cat := newFakeCatalog()
	cat.models["tiny"].delay = 300 * time.Millisecond
	_, url := newTestServer(t, cat, WithHeartbeat(50*time.Millisecond))
	resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	data, comments := sseEvents(t, resp.Body)
	if len(comments) == 0 || comments[0] != ": keep-alive" {
		t.Errorf("comments %q", comments)
	}
	if data[len(data)-1] != "[DONE]" {
		t.Errorf("events %q", data)
	}
}

// TestNonFiniteLogprobs: JSON has no NaN or -Inf, so a logprob the model
// could not give a number (overflowing logits give NaN) is OpenAI's -9999.
// A chunk holding NaN failed to encode: the stream ended after its role
// chunk, with no finish_reason and no [DONE], and was logged as a 200.
func TestNonFiniteLogprobs(t *testing.T) {
	cat := newFakeCatalog()
	cat.models["tiny"].logprobs = []float32{float32(math.NaN()), float32(math.Inf(-1))}
	_, url := newTestServer(t, cat)
	tests := []struct{ name, path, body string }{
		{"chat stream", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true,"logprobs":true,"top_logprobs":1}`},
		{"chat", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":1}`},
		{"completions stream", "/v1/completions", `{"model":"tiny","prompt":"hi","stream":true,"logprobs":1}`},
		{"completions", "/v1/completions", `{"model":"tiny","prompt":"hi","logprobs":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, url+tt.path, tt.body)
			defer resp.Body.Close()
			var text string
			if strings.HasSuffix(tt.name, "stream") {
				data, _ := sseEvents(t, resp.Body)
				if len(data) == 0 || data[len(data)-1] != "[DONE]" {
					t.Fatalf("stream did not end with [DONE]: %q", data)
				}
				text = strings.Join(data, "\n")
			} else {
				b, _ := io.ReadAll(resp.Body)
				text = string(b)
			}
			if resp.StatusCode != 200 || !strings.Contains(text, `"finish_reason":"length"`) || strings.Count(text, "-9999") < 2 {
				t.Fatalf("%d: %s", resp.StatusCode, text)
			}
		})
	}
}

// TestStreamUsageNullInOtherChunks: with stream_options.include_usage
// OpenAI documents "an additional chunk will be streamed before the
// data: [DONE] message. The usage field on this chunk shows the token usage
// statistics for the entire request, and the choices field will always be an
// empty array. All other chunks will also include a usage field, but with a
// null value." ggufd left the key out of the other chunks.
func TestStreamUsageNullInOtherChunks(t *testing.T) {
	_, url := newTestServer(t, newFakeCatalog())
	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","stream":true,"stream_options":{"include_usage":true}}`},
	} {
		resp := post(t, url+tc.path, tc.body)
		data, _ := sseEvents(t, resp.Body)
		if len(data) < 3 || data[len(data)-1] != "[DONE]" {
			t.Fatalf("%s: events %q", tc.path, data)
		}
		for i, d := range data[:len(data)-2] { // all but the usage chunk and [DONE]
			var chunk map[string]json.RawMessage
			if err := json.Unmarshal([]byte(d), &chunk); err != nil {
				t.Fatalf("%s: chunk %d: %v", tc.path, i, err)
			}
			if u, ok := chunk["usage"]; !ok || string(u) != "null" {
				t.Errorf("%s: chunk %d has no \"usage\": null: %s", tc.path, i, d)
			}
		}
	}
}

// TestAssistantRefusalPart: OpenAI's assistant message content is "one or
// more of type text, or exactly one of type refusal"; a conversation
// replayed with such a turn was a 400. The refusal is the turn's text.
func TestAssistantRefusalPart(t *testing.T) {
	cat := newFakeCatalog()
	_, url := newTestServer(t, cat)
	resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[
		{"role":"user","content":"hi"},
		{"role":"assistant","content":[{"type":"refusal","refusal":"I can't help with that."}]},
		{"role":"user","content":"ok, something else"}]}`)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if req := cat.models["tiny"].lastRequest(t); !strings.Contains(req.Prompt, "I can't help with that.") {
		t.Errorf("prompt %q lacks the refusal", req.Prompt)
	}
}
