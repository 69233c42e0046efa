package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/internal/sharedtest"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/accountsapi"
)

// visionConfig serves a discovered vision model (eyes.gguf beside
// eyes.mmproj.gguf, written by the synth preset) and a text-only model,
// with image limits small enough to test.
const visionConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: none}
defaults: {context: 256, parallel: 2, threads: 1}
images: {max_bytes: 4KiB, max_pixels: 10000, max_per_request: 3}
models:
  text:
    file: text.gguf
    parallel: 1
`

func startVision(t testing.TB, configText string) *liveServer {
	t.Helper()
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	if err := os.Mkdir(models, 0o755); err != nil {
		t.Fatal(err)
	}
	spec, err := gguf.Preset("vision-demo")
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.Synthesize(filepath.Join(models, "eyes.gguf"), spec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sharedtest.Model(t, "stories260K-chatml.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "text.gguf"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return serveConfig(t, dir, configText)
}

// picture draws a w×h picture from seed (noise when noisy, which does not
// compress).
func picture(w, h int, seed byte, noisy bool) *image.NRGBA {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	state := uint32(seed) + 1
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: byte(x*9) + seed, G: byte(y * 5), B: byte(x ^ y), A: 255}
			if noisy {
				state = state*1664525 + 1013904223
				c.R, c.G, c.B = byte(state>>24), byte(state>>16), byte(state>>8)
			}
			im.SetNRGBA(x, y, c)
		}
	}
	return im
}

// pngURL is picture(w, h, seed, noisy) as a PNG data: URL.
func pngURL(t testing.TB, w, h int, seed byte, noisy bool) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, picture(w, h, seed, noisy)); err != nil {
		t.Fatal(err)
	}
	return dataURL(buf.Bytes())
}

// dataURL is b as an image data: URL; the server recognises the format
// from the bytes, not from the declared type.
func dataURL(b []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)
}

// chatBody is a chat request with the given content parts.
func chatBody(model string, extra string, parts ...string) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":[%s]}]%s}`, model, strings.Join(parts, ","), extra)
}

func textPart(s string) string { return fmt.Sprintf(`{"type":"text","text":%q}`, s) }
func imagePart(u string) string {
	return fmt.Sprintf(`{"type":"image_url","image_url":{"url":%q}}`, u)
}

type visionAnswer struct {
	Choices []struct {
		Message struct{ Content string }
	}
	Usage struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
			ImageTokens  int `json:"image_tokens"`
		} `json:"prompt_tokens_details"`
	}
	Error *struct {
		Message, Type string
		Param, Code   *string
	}
}

func postChat(t *testing.T, url, body string) (int, visionAnswer) {
	t.Helper()
	resp := post(t, url+"/v1/chat/completions", body)
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a visionAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	return resp.StatusCode, a
}

// imageTokensPerImage is what one image becomes with the preset's projector.
func imageTokensPerImage(t *testing.T) int {
	spec, err := gguf.Preset("vision-demo")
	if err != nil {
		t.Fatal(err)
	}
	return spec.Projector.Patches()
}

func TestVisionLive(t *testing.T) {
	if testing.Short() {
		t.Skip("loads real models")
	}
	live := startVision(t, visionConfig)
	perImage := imageTokensPerImage(t)

	t.Run("models list marks vision models", func(t *testing.T) {
		resp, err := http.Get(live.url + "/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Data []struct {
				ID           string
				Capabilities *struct{ Vision bool }
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, m := range list.Data {
			if m.Capabilities == nil {
				t.Fatalf("model %s has no capabilities", m.ID)
			}
			got[m.ID] = m.Capabilities.Vision
		}
		if len(got) != 2 || !got["eyes"] || got["text"] {
			t.Errorf("vision by model = %v, want eyes: true, text: false (and no projector served as a model)", got)
		}
	})

	img := pngURL(t, 40, 30, 1, false)
	question := textPart("What is in this picture?")

	t.Run("image in, tokens out, image tokens counted, cache hit on repeat", func(t *testing.T) {
		body := chatBody("eyes", `,"max_tokens":6,"temperature":0.8,"seed":7`, question, imagePart(img))
		var answers []visionAnswer
		for range 3 {
			status, a := postChat(t, live.url, body)
			if status != http.StatusOK || len(a.Choices) != 1 || a.Usage.CompletionTokens == 0 {
				t.Fatalf("status %d, answer %+v", status, a)
			}
			if a.Usage.PromptTokensDetails.ImageTokens != perImage || a.Usage.PromptTokens <= perImage {
				t.Errorf("usage %+v: want %d image tokens within the prompt tokens", a.Usage, perImage)
			}
			answers = append(answers, a)
		}
		for i, a := range answers[1:] {
			if c := a.Usage.PromptTokensDetails.CachedTokens; c != a.Usage.PromptTokens-1 {
				t.Errorf("repeat %d: %d of %d prompt tokens cached, want all but the last", i+1, c, a.Usage.PromptTokens)
			}
		}
		if answers[1].Choices[0].Message.Content != answers[2].Choices[0].Message.Content {
			t.Errorf("same seed, same image, different answers: %q, %q", answers[1].Choices[0].Message.Content, answers[2].Choices[0].Message.Content)
		}
	})

	t.Run("several images per message and per conversation, through the SDK, streamed", func(t *testing.T) {
		other := pngURL(t, 24, 24, 9, false)
		part := func(u string) openai.ChatCompletionContentPartUnionParam {
			return openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: u})
		}
		msgs := []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("Compare"), part(img), part(other)}),
			openai.AssistantMessage("They differ."),
			openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{part(img), openai.TextContentPart("And this one?")}),
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		client := live.client("/v1/")
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: "eyes", Messages: msgs, MaxTokens: openai.Int(5), Temperature: openai.Float(0),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var text strings.Builder
		var usage string
		for stream.Next() {
			ch := stream.Current()
			if len(ch.Choices) > 0 {
				text.WriteString(ch.Choices[0].Delta.Content)
			}
			if ch.Usage.TotalTokens > 0 {
				usage = ch.Usage.RawJSON()
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.Len() == 0 || !strings.Contains(usage, fmt.Sprintf(`"image_tokens":%d`, 3*perImage)) {
			t.Errorf("text %q, usage %s: want text and %d image tokens", text.String(), usage, 3*perImage)
		}
	})

	tooWide := pngURL(t, 200, 100, 2, false)
	noisy := pngURL(t, 60, 60, 3, true)
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(img, "data:image/png;base64,"))
	truncated := "data:image/png;base64," + base64.StdEncoding.EncodeToString(raw[:len(raw)/2])
	bmp := "data:image/bmp;base64," + base64.StdEncoding.EncodeToString([]byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"))
	p0 := "messages[0].content[0].image_url"
	p1 := "messages[0].content[1].image_url"
	tests := []struct {
		name, body, code, param, msg string
	}{
		{"image to a text-only model", chatBody("text", "", question, imagePart(img)), "unsupported_content", p1, "does not take images"},
		{"http URL refused by default", chatBody("eyes", "", imagePart("http://images.lan/cat.png")), "image_url_not_allowed", p0, "images.remote_hosts"},
		{"truncated image", chatBody("eyes", "", imagePart(truncated)), "invalid_image", p0, "corrupt or truncated"},
		{"unsupported format", chatBody("eyes", "", imagePart(bmp)), "unsupported_image_format", p0, "BMP is not supported"},
		{"too many pixels", chatBody("eyes", "", imagePart(tooWide)), "image_too_large", p0, "200x100 = 20000 pixels, more than the limit of 10000"},
		{"too many bytes", chatBody("eyes", "", imagePart(noisy)), "image_too_large", p0, "limit of 4096 bytes"},
		{"too many images", chatBody("eyes", "", imagePart(img), imagePart(img), imagePart(img), imagePart(img)), "too_many_images", "messages", "at most 3"},
		{"not base64", chatBody("eyes", "", imagePart("data:image/png,abc")), "invalid_image_url", p0, "base64"},
		{"not a URL we read", chatBody("eyes", "", imagePart("ftp://images.lan/cat.png")), "invalid_image_url", p0, "data: URL"},
		{"marker in the text", chatBody("eyes", "", textPart("see "+engine.ImageMarker()), imagePart(img)), "invalid_value", "messages", "marks where images go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, a := postChat(t, live.url, tt.body)
			if status != http.StatusBadRequest || a.Error == nil || a.Error.Code == nil || *a.Error.Code != tt.code {
				t.Fatalf("status %d, error %+v; want 400 %s", status, a.Error, tt.code)
			}
			if a.Error.Param == nil || *a.Error.Param != tt.param || !strings.Contains(a.Error.Message, tt.msg) {
				t.Errorf("error %q (param %v), want param %s and %q", a.Error.Message, deref(a.Error.Param), tt.param, tt.msg)
			}
		})
	}
}

// The images of a chat request reach the engine decoded, in order, with a
// marker where each was; the gatekeeper sizes the prompt by its text and a
// fixed allowance per image, not by the images' base64.
func TestVisionRequestReachesEngine(t *testing.T) {
	cat := newFakeCatalog()
	cat.entries["eyes"] = models.Entry{Name: "eyes", ContextLength: 256, Projector: "eyes-mmproj.gguf"}
	cat.models["eyes"] = newFakeModel()
	gate := &recordingGate{calls: make(chan accountsapi.Request, 4)}
	_, url := newTestServer(t, cat, WithGatekeeper(gate))
	big, small := pngURL(t, 90, 90, 4, true), pngURL(t, 3, 2, 5, false)
	body := chatBody("eyes", "", textPart("first"), imagePart(big), textPart("then"), imagePart(small))
	resp := post(t, url+"/v1/chat/completions", body)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	req := cat.models["eyes"].lastRequest(t)
	if len(req.Images) != 2 || req.Images[0].Width != 90 || req.Images[1].Width != 3 || req.Images[1].Height != 2 ||
		len(req.Images[1].RGB) != 3*2*3 {
		t.Fatalf("images reaching the engine: %d", len(req.Images))
	}
	marker := engine.ImageMarker()
	if !strings.Contains(req.Prompt, "first\n"+marker+"\nthen\n"+marker) {
		t.Errorf("prompt %q does not hold the images where the parts were", req.Prompt)
	}
	call := <-gate.calls
	want := int64(len(body)-len(big)-len(small)) + 2*4*imageTokenEstimate
	if call.BodyBytes != want {
		t.Errorf("gatekeeper sized the prompt at %d bytes, want %d (text plus %d tokens an image)", call.BodyBytes, want, imageTokenEstimate)
	}
}

// TestImagesDoNotCountAsPromptText: prompt_limit bounds text to tokenize;
// a base64 image is bounded by images.max_bytes instead.
func TestImagesDoNotCountAsPromptText(t *testing.T) {
	big := strings.Repeat("A", 3<<20)
	for _, tc := range []struct {
		content string
		want    int
	}{
		{`"hello"`, len(`"hello"`)},
		{`[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + big + `"}}]`, 5},
		{`[{"type":"text","text":"ab"},{"type":"text","text":"cd"}]`, 4},
	} {
		if got := contentTextSize(json.RawMessage(tc.content)); got != tc.want {
			t.Errorf("contentTextSize(%.40q…) = %d, want %d", tc.content, got, tc.want)
		}
	}
}
