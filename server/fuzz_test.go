package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
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

// fuzzClient waits for an answer as long as a slow generation may take; a
// request past it hangs.
var fuzzClient = &http.Client{Timeout: 2 * time.Minute}

// fuzzPost sends req and checks the answer by checkAnswer; what names the
// input in failures is desc.
func fuzzPost(t *testing.T, req *http.Request, desc string) (int, []byte) {
	t.Helper()
	resp, err := fuzzClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", req.URL.Path, err)
	}
	got, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		t.Fatalf("POST %s: read: %v", req.URL.Path, err)
	}
	checkAnswer(t, req.URL.Path, desc, resp.StatusCode, got)
	return resp.StatusCode, got
}

// postJSON is a POST of body to url.
func postJSON(t *testing.T, url, body string) *http.Request {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Skip("not a URL the client can send")
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

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
		{0, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"grammar":"root ::= (\"a\" | [0-9]+)* \"b\""}`},
		{1, `{"model":"raw","prompt":"x","max_tokens":8,"grammar":"root ::= item{2,4}\nitem ::= [a-z]+ \" \""}`},
		{0, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"^\\d{2}-[\\w.]+$"}}}}`},
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
	// One live server per run of the target, outside f.Fuzz: a fuzzing
	// worker runs the target once and then feeds it inputs, so the models
	// load once per worker, not per input.
	live := startLive(f)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		fuzzPost(t, postJSON(t, live.url+path, body), body)
	})
}

// checkAnswer fails t unless an answer is a success (with no server error
// inside a stream) or an OpenAI error object with a 4xx status or 503.
func checkAnswer(t *testing.T, path, body string, status int, got []byte) {
	t.Helper()
	if status < 400 {
		// A streamed answer may still end in an error event; it must
		// be a client error too, never a server error.
		if bytes.Contains(got, []byte(`"type":"server_error"`)) {
			t.Fatalf("POST %s %s: %d with a server error in the stream: %.2000s", path, body, status, got)
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
		t.Fatalf("POST %s %s: %d without an OpenAI error object: %.2000s", path, body, status, got)
	}
	// 503 is a full queue or a loading model: load, not input.
	if status >= 500 && status != http.StatusServiceUnavailable {
		t.Fatalf("POST %s %s: %d %s", path, body, status, got)
	}
}

// fuzzBillingConfig serves a per-token model, a per-second variant of it
// and a priced embedding model behind API keys.
const fuzzBillingConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: key}
queue_depth: 16
models:
  story:
    file: story.gguf
    context: 256
    parallel: 4
    threads: 1
    pricing: {input_per_1k: 1, output_per_1k: 2, cached_input_per_1k: 0.5}
  story-t:
    base: story
    system_prompt: You tell stories.
    pricing: {per_second: 1, max_seconds: 5}
  emb:
    file: emb.gguf
    embeddings: true
    context: 128
    threads: 1
    pricing: {input_per_1k: 1}
`

// fuzzBilledRoutes are paths under the server; %s is the fuzzed userid of
// the provider-style URLs.
var fuzzBilledRoutes = []string{
	"/v1/chat/completions",
	"/v1/completions",
	"/v1/embeddings",
	"/llm_api/acme/%s/story/v1/chat/completions",
	"/llm_api/acme/%s/story-t/v1/chat/completions",
	"/llm_api/acme/%s//v1/completions",
}

// FuzzBilledAPI sends arbitrary bodies and userids to the billed endpoints
// of a server with accounts. Besides FuzzAPI's rules, every request must
// leave the books exact: no reservation left held, the balance lowered by
// exactly the cost of the ledger rows the request wrote, no negative cost,
// and a successful answer billed in one row for the tokens its usage
// reports (a JSON body's, or a stream's usage event). Some clients hang up
// part way through the answer, and some requests are suspended by their
// account; the books must be exact for them too.
//
//	go test ./server -run '^$' -fuzz FuzzBilledAPI -fuzztime 10m
func FuzzBilledAPI(f *testing.F) {
	if testing.Short() {
		f.Skip("loads real models")
	}
	for _, s := range []struct {
		route  uint8
		userid string
		hangUp uint16
		body   string
	}{
		{0, "", 0, `{"model":"story","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"n":3}`},
		{0, "", 0, `{"model":"story-t","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}`},
		{1, "", 0, `{"model":"story","prompt":["a","b"],"max_tokens":4,"n":2,"echo":true,"logprobs":1}`},
		{2, "", 0, `{"model":"emb","input":["hello","world"]}`},
		{3, "u1", 0, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":6,"user":"u2"}`},
		{4, "u%2F..", 0, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":1000}`},
		{5, "", 0, `{"model":"story","prompt":"Once","max_tokens":3}`},
		{0, "", 700, `{"model":"story","messages":[{"role":"user","content":"hi"}],"max_tokens":200,"n":2,"stream":true,"ignore_eos":true}`},
		{4, "u", 1, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":200,"ignore_eos":true}`},
		{0, "", 2, `{"model":"story","messages":[{"role":"user","content":"hi"}],"max_tokens":250,"n":2,"ignore_eos":true}`},
		{3, "u", 5, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":250,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`},
		// The account under a tokens-per-minute limit ((hangUp/3)%2 == 1):
		// no max_tokens, so the limit grants what its minute has left.
		{0, "", 3, `{"model":"story","messages":[{"role":"user","content":"hi"}],"n":3,"ignore_eos":true}`},
		{1, "", 3, `{"model":"story","prompt":["a","b"],"n":2,"stream":true,"ignore_eos":true}`},
		{4, "u", 4, `{"messages":[{"role":"user","content":"hi"}],"ignore_eos":true,"stream":true}`},
		{3, "u", 5, `{"messages":[{"role":"user","content":"hi"}],"ignore_eos":true}`},
	} {
		f.Add(s.route, s.userid, s.hangUp, s.body)
	}
	cfg, _, mgr := startManager(f, fuzzBillingConfig, map[string]string{
		"story.gguf": "stories260K-chatml.gguf",
		"emb.gguf":   "stories260K.gguf",
	})
	svc := newAccounts(f)
	url := serveWithAccounts(f, cfg, mgr, svc)
	keys := map[string]string{"acme": fundedKey(f, svc, "acme", 1e6), "tpm": fundedKey(f, svc, "tpm", 1e6)}
	// Requests of "tpm" run under a tokens-per-minute limit: those without
	// max_tokens are granted what the minute has left and stopped there.
	if err := svc.SetLimits(context.Background(), "tpm", accounts.Limits{TokensPerMinute: 3000}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, route uint8, userid string, hangUp uint16, body string) {
		ctx := context.Background()
		openid := "acme"
		if (hangUp/3)%2 == 1 {
			openid = "tpm"
		}
		path := strings.Replace(fuzzBilledRoutes[int(route)%len(fuzzBilledRoutes)], "/acme/", "/"+openid+"/", 1)
		if strings.Contains(path, "%s") {
			path = fmt.Sprintf(path, userid)
		}
		req := postJSON(t, url+path, body)
		req.Header.Set("Authorization", "Bearer "+keys[openid])
		before, err := svc.GetAccount(ctx, openid)
		if err != nil {
			t.Fatal(err)
		}
		since := svc.Now()
		// A client that hangs up after hangUp bytes (when that is 1 more
		// than a multiple of 3) pays for what was done until the server
		// noticed; one whose account suspends its generations (2 more)
		// gets and pays what was generated until then.
		var status int
		var got []byte
		switch hangUp % 3 {
		case 1:
			resp, err := fuzzClient.Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			io.CopyN(io.Discard, resp.Body, int64(hangUp))
			resp.Body.Close()
		case 2:
			stop := suspendUntil(svc, openid)
			status, got = fuzzPost(t, req, body)
			stop()
		default:
			status, got = fuzzPost(t, req, body)
		}

		// Settlement ends with the request; a stream's may trail its last
		// byte, so wait for the hold to go.
		if held := awaitNoHold(t, svc, openid, 10*time.Second); held != 0 {
			t.Fatalf("POST %s %s: %v still reserved 10 s after the answer", path, body, held)
		}
		after, err := svc.GetAccount(ctx, openid)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: openid, Since: since})
		if err != nil {
			t.Fatal(err)
		}
		var charged accounts.Money
		for _, r := range rows {
			if r.Cost < 0 {
				t.Fatalf("POST %s %s: negative cost in %+v", path, body, r)
			}
			charged += r.Cost
		}
		if before.Balance-after.Balance != charged {
			t.Fatalf("POST %s %s: balance %v → %v, ledger rows %+v charge %v", path, body, before.Balance, after.Balance, rows, charged)
		}
		t.Logf("POST %s: %d, %d ledger rows, charged %v", path, status, len(rows), charged)
		// A request suspended before any work reports no tokens and
		// writes no row: the ledger records billable work only.
		if usage := reportedUsage(t, got); status == http.StatusOK && usage != nil && *usage != (reported{}) {
			if len(rows) != 1 || rows[0].PromptTokens != usage.PromptTokens || rows[0].CompletionTokens != usage.CompletionTokens {
				t.Fatalf("POST %s %s: usage %+v, ledger rows %+v", path, body, *usage, rows)
			}
		}
	})
}

// suspendUntil suspends the account's generations as soon as one runs, until
// stop is called; stop returns once it has ended.
func suspendUntil(svc *accounts.Service, openid string) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if n, _ := svc.Suspend(context.Background(), openid, ""); n > 0 {
				return
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-ended }
}

// awaitNoHold waits up to limit for the account to have nothing reserved and
// returns what is still reserved then.
func awaitNoHold(t *testing.T, svc *accounts.Service, openid string, limit time.Duration) accounts.Money {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(5 * time.Millisecond) {
		held, err := svc.Reserved(context.Background(), openid)
		if err != nil {
			t.Fatal(err)
		}
		if held == 0 || time.Now().After(deadline) {
			return held
		}
	}
}

type reported struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// reportedUsage is the usage an answer tells the client: a JSON body's, or
// the last one of a stream's events (sent when stream_options asks); nil if
// none.
func reportedUsage(t *testing.T, answer []byte) *reported {
	type withUsage struct {
		Usage *reported `json:"usage"`
	}
	var doc withUsage
	if json.Unmarshal(answer, &doc) == nil {
		return doc.Usage
	}
	var last *reported
	events, _ := sseEvents(t, bytes.NewReader(answer))
	for _, data := range events {
		var event withUsage
		if json.Unmarshal([]byte(data), &event) == nil && event.Usage != nil {
			last = event.Usage
		}
	}
	return last
}

// fuzzVisionConfig is visionConfig with the default image limits, so that
// pictures of every shape up to a megapixel reach the model.
const fuzzVisionConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: none}
defaults: {context: 256, parallel: 2, threads: 1}
models:
  text:
    file: text.gguf
    parallel: 1
`

// FuzzVision sends images to a vision model (the synthetic projector of
// the vision-demo preset): pictures of any shape from 1×1 to 4096×4096 and
// up to a megapixel (4096×1 and 1×4096 included) in PNG, JPEG or GIF, or
// arbitrary bytes as a data: URL, with up to three images and a text part.
// They are decoded in Go and reach llama.cpp's image preprocessing as
// bitmaps; whatever their shape, the answer must follow FuzzAPI's rules and
// nothing may crash.
//
//	go test ./server -run '^$' -fuzz FuzzVision -fuzztime 10m
func FuzzVision(f *testing.F) {
	if testing.Short() {
		f.Skip("loads real models")
	}
	for _, s := range []struct {
		w, h        uint16
		kind, count uint8
		raw         []byte
		text        string
	}{
		{w: 8, h: 8, count: 1, text: "What is this?"},
		{w: 1, h: 1, kind: 1, count: 1},
		{w: 511, h: 1, kind: 2, count: 2, text: "x"},
		{w: 1, h: 300, count: 3},
		{w: 99, h: 101, kind: 1, count: 1},
		{w: 4095, h: 0, count: 1},
		{w: 0, h: 4095, kind: 1, count: 1},
		{w: 1023, h: 1023, count: 1},
		{kind: 3, count: 1, raw: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02")},
		{kind: 3, count: 1, raw: []byte("GIF89a\x01\x00\x01\x00")},
		{kind: 3, count: 1, raw: []byte("RIFF\x00\x00\x00\x00WEBPVP8 ")},
	} {
		f.Add(s.w, s.h, s.kind, s.count, s.raw, s.text)
	}
	live := startVision(f, fuzzVisionConfig)
	f.Fuzz(func(t *testing.T, w, h uint16, kind, count uint8, raw []byte, text string) {
		img := raw
		width, height := int(w)%4096+1, int(h)%4096+1
		if width*height > 1<<20 {
			height = max(1, (1<<20)/width)
		}
		if kind%4 != 3 {
			img = fuzzPicture(t, width, height, kind%4)
		}
		url := dataURL(img)
		parts := []string{textPart(text)}
		for range int(count%3) + 1 {
			parts = append(parts, imagePart(url))
		}
		body := chatBody("eyes", `,"max_tokens":4`, parts...)
		desc := fmt.Sprintf("(%d×%d kind %d, %d bytes)", width, height, kind%4, len(img))
		status, got := fuzzPost(t, postJSON(t, live.url+"/v1/chat/completions", body), desc)
		t.Logf("%s: %d %.200s", desc, status, got)
	})
}

// fuzzPicture encodes a w×h picture as PNG (kind 0), JPEG (1) or GIF (2).
func fuzzPicture(t *testing.T, w, h int, kind uint8) []byte {
	im := picture(w, h, 0, false)
	var buf bytes.Buffer
	var err error
	switch kind {
	case 0:
		err = png.Encode(&buf, im)
	case 1:
		err = jpeg.Encode(&buf, im, nil)
	default:
		err = gif.Encode(&buf, im, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
