package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzRoutes are the endpoints whose request bodies reach a model.
var fuzzRoutes = []string{
	"/v1/chat/completions",
	"/v1/completions",
	"/v1/embeddings",
	"/tokenize",
	"/detokenize",
	"/apply-template",
}

// fuzzLive is one live server per fuzzing process: loading the models for
// every input would make the fuzzer a model-loading benchmark.
var fuzzLive = struct {
	once sync.Once
	l    *liveServer
}{}

// FuzzAPI sends arbitrary bodies to the model endpoints of a live server
// over the real test models. Whatever the body holds, the answer must be a
// success or an OpenAI error object with a 4xx status: a 5xx means a bad
// input got past validation, and a crash (llama.cpp's asserts abort the
// process) fails the fuzzer.
//
//	go test ./server -run '^$' -fuzz FuzzAPI -fuzztime 10m
func FuzzAPI(f *testing.F) {
	if testing.Short() {
		f.Skip("loads real models")
	}
	for _, s := range []struct {
		route uint8
		body  string
	}{
		{0, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8}`},
		{0, `{"model":"chat","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true},"n":2,"logprobs":true,"top_logprobs":3}`},
		{0, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}}}`},
		{0, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"string"}}}}}],"tool_choice":"required"}`},
		{0, `{"model":"long","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"r"}],"max_tokens":4,"logit_bias":{"5":-100},"seed":7,"temperature":1.5,"top_p":0.5,"frequency_penalty":2,"presence_penalty":-2,"stop":["a","b"]}`},
		{1, `{"model":"raw","prompt":"Once upon a time","max_tokens":8,"echo":true,"logprobs":2,"suffix":"end"}`},
		{1, `{"model":"raw","prompt":[1,2,3],"max_tokens":4,"best_of":2,"n":1}`},
		{1, `{"model":"raw","prompt":["a","b"],"max_tokens":4,"stream":true}`},
		{2, `{"model":"emb","input":["hello","world"],"encoding_format":"base64","dimensions":8}`},
		{2, `{"model":"emb","input":[[1,2,3]]}`},
		{3, `{"model":"chat","content":"Once upon a time","add_special":true,"with_pieces":true}`},
		{4, `{"model":"chat","tokens":[1,2,3,32000,-1]}`},
		{5, `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`},
	} {
		f.Add(s.route, s.body)
	}
	fuzzLive.once.Do(func() { fuzzLive.l = startLive(f) })
	live := fuzzLive.l
	client := &http.Client{Timeout: 2 * time.Minute}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		resp, err := client.Post(live.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			t.Fatalf("POST %s: read: %v", path, err)
		}
		if resp.StatusCode < 400 {
			// A streamed answer may still end in an error event; it must
			// be a client error too, never a server error.
			if bytes.Contains(got, []byte(`"type":"server_error"`)) {
				t.Fatalf("POST %s %s: %d with a server error in the stream: %.2000s", path, body, resp.StatusCode, got)
			}
			return
		}
		var e struct {
			Error *struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		if err := json.Unmarshal(got, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
			t.Fatalf("POST %s %s: %d without an OpenAI error object: %.2000s", path, body, resp.StatusCode, got)
		}
		// 503 is a full queue or a loading model: load, not input.
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("POST %s %s: %d %s", path, body, resp.StatusCode, got)
		}
	})
}
