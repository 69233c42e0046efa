package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/internal/sharedtest"
	"github.com/ggufd/ggufd/internal/sharedtest/withmeta"
	"github.com/ggufd/ggufd/models"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/packages/param"
)

// liveServer is ggufd serving the tiny test models on 127.0.0.1.
type liveServer struct {
	url string
	mgr *models.Manager
}

const liveConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: none}
queue_depth: 16
models:
  chat:
    file: chat.gguf
    aliases: [chat-alias]
    display_name: Tiny Stories
    description: a 260K-parameter story model with a ChatML template
    context: 256
    parallel: 4
    threads: 1
    tags: [test]
    pricing: {input_per_1k: 0.5, output_per_1k: 1.5}
  raw:
    file: raw.gguf
    context: 64
    parallel: 2
    threads: 1
  emb:
    file: emb.gguf
    embeddings: true
    context: 128
    parallel: 2
    threads: 1
  long:
    file: long.gguf
    context: 2048
    parallel: 1
    threads: 1
`

func startLive(t testing.TB) *liveServer {
	return startLiveWith(t, liveConfig, map[string]string{
		"chat.gguf": "stories260K-chatml.gguf",
		"raw.gguf":  "stories260K.gguf",
		"emb.gguf":  "stories260K.gguf",
		"long.gguf": "llama-2-tiny-random.gguf",
	})
}

// startLiveWith serves config over copies of the shared models (file name
// in models_dir → shared model).
// startLiveOne serves one shared model under name (two slots, one thread,
// no accounts), skipping the test in -short mode.
func startLiveOne(t *testing.T, name, sharedModel string, context int) *liveServer {
	t.Helper()
	if testing.Short() {
		t.Skip("loads a real model")
	}
	return startLiveWith(t, fmt.Sprintf(`listen: 127.0.0.1:0
models_dir: models
auth: {mode: none}
models:
  %s:
    file: %s.gguf
    context: %d
    parallel: 2
    threads: 1
`, name, name, context), map[string]string{name + ".gguf": sharedModel})
}

func startLiveWith(t testing.TB, configText string, files map[string]string) *liveServer {
	t.Helper()
	dir := t.TempDir()
	modelsDir := filepath.Join(dir, "models")
	if err := os.Mkdir(modelsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Copies, not links: the config refuses one file served twice, and
	// emb and raw use the same weights.
	for dst, from := range files {
		b, err := os.ReadFile(sharedtest.Model(t, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(modelsDir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return serveConfig(t, dir, configText)
}

// serveConfig writes config into dir (whose models/ holds the files) and
// serves it on 127.0.0.1 until the test ends.
func serveConfig(t testing.TB, dir, body string) *liveServer {
	t.Helper()
	cfgPath := filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	mgr, err := models.New(cfg, cfgPath, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, mgr, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Start(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := mgr.Close(ctx); err != nil {
			t.Errorf("close models: %v", err)
		}
	})
	return &liveServer{url: "http://" + ln.Addr().String(), mgr: mgr}
}

func (l *liveServer) client(path string) openai.Client {
	return openai.NewClient(option.WithBaseURL(l.url+path), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

func userMsg(s string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You tell stories."), openai.UserMessage(s)}
}

func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("loads real models")
	}
	live := startLive(t)
	client := live.client("/v1/")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("chat", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat-alias", Messages: userMsg("Tell me a story."), MaxTokens: openai.Int(16),
			Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Model != "chat" || len(resp.Choices) != 1 || resp.Choices[0].Message.Role != "assistant" {
			t.Fatalf("response %+v", resp)
		}
		if resp.Choices[0].Message.Content == "" || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 ||
			resp.Usage.CompletionTokens > 16 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
			t.Errorf("content %q usage %+v", resp.Choices[0].Message.Content, resp.Usage)
		}
	})

	t.Run("chat stream with usage", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: userMsg("Tell me a story."), MaxTokens: openai.Int(20),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var text strings.Builder
		var finish string
		var usage openai.CompletionUsage
		chunks := 0
		for stream.Next() {
			ch := stream.Current()
			chunks++
			if len(ch.Choices) > 0 {
				text.WriteString(ch.Choices[0].Delta.Content)
				if ch.Choices[0].FinishReason != "" {
					finish = ch.Choices[0].FinishReason
				}
			}
			if ch.Usage.TotalTokens > 0 {
				usage = ch.Usage
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.Len() == 0 || finish == "" || usage.CompletionTokens == 0 || chunks < 3 {
			t.Errorf("text %q finish %q usage %+v chunks %d", text.String(), finish, usage, chunks)
		}
	})

	t.Run("n=2 and stop", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: userMsg("Tell me a story."), MaxTokens: openai.Int(40), N: openai.Int(2),
			Stop: openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{",", "."}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Choices) != 2 || resp.Choices[1].Index != 1 {
			t.Fatalf("choices %+v", resp.Choices)
		}
		for _, ch := range resp.Choices {
			if strings.ContainsAny(ch.Message.Content, ",.") {
				t.Errorf("stop string emitted: %q", ch.Message.Content)
			}
		}
	})

	t.Run("json_schema", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: userMsg("Answer in JSON."), MaxTokens: openai.Int(64),
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{
				JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{
					Name: "answer", Strict: openai.Bool(true),
					Schema: map[string]any{
						"type":                 "object",
						"properties":           map[string]any{"happy": map[string]any{"type": "boolean"}},
						"required":             []string{"happy"},
						"additionalProperties": false,
					},
				},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Happy *bool }
		content := resp.Choices[0].Message.Content
		t.Logf("json_schema output %q", content)
		if err := json.Unmarshal([]byte(content), &got); err != nil || got.Happy == nil {
			t.Errorf("not the schema's JSON: %q (%v)", content, err)
		}
	})

	t.Run("json_object", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: userMsg("Answer in JSON."), MaxTokens: openai.Int(200), Seed: openai.Int(1),
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		content := resp.Choices[0].Message.Content
		if !strings.HasPrefix(content, "{") {
			t.Errorf("not a JSON object: %q", content)
		}
		if resp.Choices[0].FinishReason == "stop" {
			var v map[string]any
			if err := json.Unmarshal([]byte(content), &v); err != nil {
				t.Errorf("finished but not JSON: %q (%v)", content, err)
			}
		}
	})

	t.Run("logprobs", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: userMsg("Tell me a story."), MaxTokens: openai.Int(5),
			Logprobs: openai.Bool(true), TopLogprobs: openai.Int(3),
		})
		if err != nil {
			t.Fatal(err)
		}
		lps := resp.Choices[0].Logprobs.Content
		if len(lps) == 0 || len(lps) != int(resp.Usage.CompletionTokens) {
			t.Fatalf("%d logprobs for %d tokens", len(lps), resp.Usage.CompletionTokens)
		}
		for _, lp := range lps {
			if lp.Logprob > 0 || len(lp.TopLogprobs) != 3 || len(lp.Bytes) != len(lp.Token) {
				t.Errorf("logprob %+v", lp)
			}
		}
		cresp, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model: "raw", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")},
			MaxTokens: openai.Int(4), Logprobs: openai.Int(2),
		})
		if err != nil {
			t.Fatal(err)
		}
		clp := cresp.Choices[0].Logprobs
		if len(clp.Tokens) == 0 || len(clp.TokenLogprobs) != len(clp.Tokens) || len(clp.TopLogprobs) != len(clp.Tokens) || len(clp.TextOffset) != len(clp.Tokens) {
			t.Errorf("completion logprobs %+v", clp)
		}
	})

	t.Run("completions", func(t *testing.T) {
		resp, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:     "raw",
			Prompt:    openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"Once upon a time", "The cat"}},
			MaxTokens: openai.Int(8), Echo: openai.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Choices) != 2 || !strings.HasPrefix(resp.Choices[0].Text, "Once upon a time") ||
			!strings.HasPrefix(resp.Choices[1].Text, "The cat") || resp.Usage.CompletionTokens == 0 {
			t.Errorf("choices %+v usage %+v", resp.Choices, resp.Usage)
		}
	})

	t.Run("embeddings", func(t *testing.T) {
		for _, format := range []openai.EmbeddingNewParamsEncodingFormat{"", openai.EmbeddingNewParamsEncodingFormatFloat} {
			resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model: "emb", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a cat", "a dog"}},
				EncodingFormat: format,
			})
			if err != nil {
				t.Fatalf("%q: %v", format, err)
			}
			if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 64 || resp.Usage.PromptTokens == 0 {
				t.Fatalf("%q: %d vectors of %d, usage %+v", format, len(resp.Data), len(resp.Data[0].Embedding), resp.Usage)
			}
			var norm float64
			for _, v := range resp.Data[1].Embedding {
				norm += v * v
			}
			if norm < 0.98 || norm > 1.02 {
				t.Errorf("%q: squared norm %f, want 1", format, norm)
			}
		}
	})

	t.Run("embeddings base64", func(t *testing.T) {
		// The Go SDK does not decode base64 itself, so this one is raw HTTP.
		resp := post(t, live.url+"/v1/embeddings", `{"model":"emb","input":"a cat","encoding_format":"base64"}`)
		var got struct{ Data []struct{ Embedding string } }
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Data) != 1 {
			t.Fatalf("decode: %v %+v", err, got)
		}
		raw, err := base64.StdEncoding.DecodeString(got.Data[0].Embedding)
		if err != nil || len(raw) != 4*64 {
			t.Fatalf("base64: %v, %d bytes", err, len(raw))
		}
		var norm float64
		for i := 0; i < len(raw); i += 4 {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
			norm += v * v
		}
		if norm < 0.98 || norm > 1.02 {
			t.Errorf("squared norm %f, want 1", norm)
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]openai.Model{}
		for _, m := range page.Data {
			byID[m.ID] = m
		}
		if len(byID) != 4 || byID["chat"].Object != "model" || byID["chat"].OwnedBy == "" {
			t.Fatalf("models %+v", page.Data)
		}
		var extra struct {
			ContextLength int    `json:"context_length"`
			Type          string `json:"type"`
			Status        string `json:"status"`
			DisplayName   string `json:"display_name"`
			Pricing       struct {
				InputPer1K float64 `json:"input_per_1k"`
			} `json:"pricing"`
		}
		if err := json.Unmarshal([]byte(byID["chat"].RawJSON()), &extra); err != nil {
			t.Fatal(err)
		}
		if extra.ContextLength != 256 || extra.Type != "chat" || extra.Status != "loaded" || extra.DisplayName != "Tiny Stories" || extra.Pricing.InputPer1K != 0.5 {
			t.Errorf("chat model fields %+v", extra)
		}
		if !strings.Contains(byID["emb"].RawJSON(), `"type":"embeddings"`) {
			t.Errorf("emb %s", byID["emb"].RawJSON())
		}
		m, err := client.Models.Get(ctx, "chat-alias")
		if err != nil || m.ID != "chat" {
			t.Errorf("get alias: %+v %v", m, err)
		}
	})

	t.Run("llm_api paths", func(t *testing.T) {
		for _, tc := range []struct{ base, model string }{
			{"/llm_api/oid-1/uid-1/chat/v1/", "not-a-model"},
			{"/llm_api/oid-1/uid-1//v1/", "chat"},
		} {
			c := live.client(tc.base)
			resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: tc.model, Messages: userMsg("Hi"), MaxTokens: openai.Int(4),
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.base, err)
			}
			if resp.Model != "chat" {
				t.Errorf("%s: model %q", tc.base, resp.Model)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		long := strings.Repeat("Once upon a time there was a cat. ", 40)
		tests := []struct {
			name   string
			call   func() error
			status int
			code   string
			param  string
		}{
			{"unknown model", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chta", Messages: userMsg("x")})
				return err
			}, 404, "model_not_found", "model"},
			{"bad temperature", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: userMsg("x"), Temperature: openai.Float(7)})
				return err
			}, 400, "invalid_value", "temperature"},
			{"prompt too long", func() error {
				_, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "raw",
					Prompt: openai.CompletionNewParamsPromptUnion{OfString: param.NewOpt(long)}})
				return err
			}, 400, "context_length_exceeded", "prompt"},
			{"chat too long", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: userMsg(long)})
				return err
			}, 400, "context_length_exceeded", "messages"},
			{"no chat template", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "raw", Messages: userMsg("x")})
				return err
			}, 400, "no_chat_template", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("want *openai.Error, got %v", err)
				}
				if apiErr.StatusCode != tc.status || apiErr.Code != tc.code || apiErr.Param != tc.param {
					t.Errorf("got %d %q %q: %s", apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Message)
				}
			})
		}
	})

	t.Run("sse framing", func(t *testing.T) {
		resp := post(t, live.url+"/v1/completions", `{"model":"raw","prompt":"Once","max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}`)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
		}
		data, _ := sseEvents(t, resp.Body)
		n := len(data)
		if n < 3 || data[n-1] != "[DONE]" || !strings.Contains(data[n-2], `"choices":[]`) || !strings.Contains(data[n-2], `"completion_tokens":`) {
			t.Fatalf("events %q", data)
		}
		if !strings.Contains(data[n-3], `"finish_reason":"length"`) {
			t.Errorf("last choice chunk %q", data[n-3])
		}
	})

	t.Run("sse framing chat", func(t *testing.T) {
		resp := post(t, live.url+"/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}`)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
		}
		data, _ := sseEvents(t, resp.Body)
		n := len(data)
		if n < 4 || data[n-1] != "[DONE]" {
			t.Fatalf("events %q", data)
		}
		if !strings.Contains(data[0], `"delta":{"role":"assistant","content":""}`) {
			t.Errorf("first chunk has no role: %s", data[0])
		}
		if !strings.Contains(data[n-2], `"choices":[]`) || !strings.Contains(data[n-2], `"total_tokens":`) {
			t.Errorf("usage chunk %s", data[n-2])
		}
		if !strings.Contains(data[n-3], `"finish_reason":"length"`) {
			t.Errorf("last choice chunk %s", data[n-3])
		}
		for _, d := range data[1 : n-3] {
			if strings.Contains(d, `"role"`) || strings.Contains(d, `"finish_reason":"`) {
				t.Errorf("middle chunk %s", d)
			}
		}
	})

	t.Run("disconnect cancels generation", func(t *testing.T) {
		lease, err := live.mgr.Acquire(ctx, "long")
		if err != nil {
			t.Fatal(err)
		}
		model := lease.Model()
		lease.Release()
		before := model.Stats().TokensOut
		const maxTokens = 2000
		rctx, rcancel := context.WithCancel(ctx)
		req, _ := http.NewRequestWithContext(rctx, "POST", live.url+"/v1/completions", strings.NewReader(
			fmt.Sprintf(`{"model":"long","prompt":"Hello","max_tokens":%d,"ignore_eos":true,"stream":true}`, maxTokens)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1)
		if _, err := resp.Body.Read(buf); err != nil {
			t.Fatal(err)
		}
		rcancel()
		resp.Body.Close()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := modelStatus(t, live.mgr, "long")
			if st.BusySlots == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("slot still busy after disconnect: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Cancelled right after it started, it cannot have run to the end.
		out := model.Stats().TokensOut - before
		t.Logf("%d of %d tokens generated before the cancel took effect", out, maxTokens)
		if out >= maxTokens {
			t.Errorf("generated %d tokens: the disconnect did not cancel it", out)
		}
	})

	t.Run("utility endpoints", func(t *testing.T) {
		resp := post(t, live.url+"/tokenize", `{"model":"raw","content":"Once upon"}`)
		var tok struct{ Tokens []int }
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || len(tok.Tokens) == 0 {
			t.Fatalf("tokenize: %v %+v", err, tok)
		}
		b, _ := json.Marshal(map[string]any{"model": "raw", "tokens": tok.Tokens})
		resp = post(t, live.url+"/detokenize", string(b))
		var detok struct{ Content string }
		if err := json.NewDecoder(resp.Body).Decode(&detok); err != nil || strings.TrimSpace(detok.Content) != "Once upon" {
			t.Errorf("detokenize: %v %q", err, detok.Content)
		}
		resp = post(t, live.url+"/apply-template", `{"model":"chat","messages":[{"role":"user","content":"Hi"}]}`)
		var tmpl struct{ Prompt string }
		if err := json.NewDecoder(resp.Body).Decode(&tmpl); err != nil || !strings.Contains(tmpl.Prompt, "<|im_start|>user\nHi<|im_end|>") ||
			!strings.HasSuffix(tmpl.Prompt, "<|im_start|>assistant\n") {
			t.Errorf("apply-template: %v %q", err, tmpl.Prompt)
		}
	})
}

func modelStatus(t *testing.T, mgr *models.Manager, name string) models.Status {
	t.Helper()
	st, err := mgr.Status(name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFillInMiddleLive: /v1/completions with a suffix on a model whose
// vocabulary has fill-in-the-middle tokens generates from the infill
// prompt: prompt and suffix tokens, BOS and the three markers.
func TestFillInMiddleLive(t *testing.T) {
	fimID := func(key string, id uint32) gguf.KV {
		return gguf.KV{Key: "tokenizer.ggml.fim_" + key + "_token_id", Type: gguf.TypeUint32, Value: id}
	}
	src := withmeta.Model(t, "stories260K.gguf", fimID("pre", 500), fimID("suf", 501), fimID("mid", 502))
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, filepath.Join(dir, "models", "fim.gguf")); err != nil {
		t.Fatal(err)
	}
	live := serveConfig(t, dir, "listen: 127.0.0.1:0\nmodels_dir: models\nauth: {mode: none}\n"+
		"models:\n  fim:\n    file: fim.gguf\n    context: 256\n    parallel: 1\n    threads: 1\n")
	count := func(text string) int {
		resp := post(t, live.url+"/tokenize", `{"model":"fim","content":"`+text+`"}`)
		return len(decodeResp[struct{ Tokens []int }](t, resp).Tokens)
	}
	resp := post(t, live.url+"/v1/completions", `{"model":"fim","prompt":"Once upon","suffix":" they lived happily.","max_tokens":4,"temperature":0}`)
	got := decodeResp[textCompletion](t, resp)
	if want := 4 + count("Once upon") + count(" they lived happily."); resp.StatusCode != 200 || got.Usage.PromptTokens != want ||
		got.Usage.CompletionTokens == 0 {
		t.Fatalf("status %d, usage %+v; want %d prompt tokens", resp.StatusCode, got.Usage, want)
	}
}

// TestTopPZeroIsGreedy: OpenAI documents top_p in [0, 1] as nucleus
// sampling ("0.1 means only the tokens comprising the top 10% probability
// mass are considered"), so top_p 0 keeps only the most likely token: the
// output is the greedy one whatever the temperature or seed (llama-server
// does the same: llama.cpp's top_p sampler keeps min_keep = 1 token).
// ggufd passed 0 to the engine, whose sampler reads TopP 0 as "off", so a
// client asking for the most deterministic output got full-distribution
// sampling instead.
func TestTopPZeroIsGreedy(t *testing.T) {
	live := startLiveOne(t, "raw", "stories260K.gguf", 128)
	text := func(body string) string {
		t.Helper()
		resp := post(t, live.url+"/v1/completions", body)
		b, _ := io.ReadAll(resp.Body)
		var out struct{ Choices []struct{ Text string } }
		if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Choices) != 1 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return out.Choices[0].Text
	}
	greedy := text(`{"model":"raw","prompt":"Once upon","max_tokens":24,"temperature":0}`)
	for seed := 1; seed <= 4; seed++ {
		got := text(fmt.Sprintf(`{"model":"raw","prompt":"Once upon","max_tokens":24,"temperature":1,"top_p":0,"seed":%d}`, seed))
		if got != greedy {
			t.Errorf("top_p 0, seed %d: %q; want the greedy output %q", seed, got, greedy)
		}
	}
}

// TestGrammarParameter: llama-server's "grammar" (GBNF) shapes chat and
// completions output; the daemon ignored it. A grammar the Go check refuses
// (one that would crash llama.cpp) is a 400 on "grammar", as is sending it
// with a JSON response_format.
func TestGrammarParameter(t *testing.T) {
	live := startLiveOne(t, "chat", "stories260K-chatml.gguf", 256)
	tests := []struct {
		name, path, body string
		status           int
		want             *regexp.Regexp // of the answer's text
	}{
		{"chat", "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"yes or no?"}],"grammar":"root ::= \"yes\" | \"no\""}`,
			200, regexp.MustCompile(`^(yes|no)$`)},
		{"completions", "/v1/completions", `{"model":"chat","prompt":"Count:","max_tokens":20,"grammar":"root ::= [0-9]{3}"}`,
			200, regexp.MustCompile(`^[0-9]{3}$`)},
		{"a grammar that would crash llama.cpp", "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"x"}],"grammar":"root ::= (\"a\"?)+ \"b\""}`,
			400, nil},
		{"grammar and a JSON response_format", "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"x"}],"grammar":"root ::= \"a\"","response_format":{"type":"json_object"}}`,
			400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, live.url+tt.path, tt.body)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if tt.want == nil {
				if !strings.Contains(string(b), `"param":"grammar"`) {
					t.Errorf("error %s: want it on 'grammar'", b)
				}
				return
			}
			var out struct {
				Choices []struct {
					Text    string
					Message struct{ Content string }
				}
			}
			if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) != 1 {
				t.Fatalf("%s (%v)", b, err)
			}
			if got := out.Choices[0].Text + out.Choices[0].Message.Content; !tt.want.MatchString(got) {
				t.Errorf("answer %q does not follow the grammar", got)
			}
		})
	}
}
