package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// api is one wire protocol: where to post, what to send, and how to read
// one line of the streamed answer.
type api struct {
	path string
	body func(cfg config, prompt string) any
	// line consumes one line of the response body; it returns done once
	// the stream has said its last word.
	line func(line []byte, st *streamState) (done bool, err error)
}

// streamState accumulates what a stream has said so far.
type streamState struct {
	text         bool // the current line carried generated text
	tokens       int
	promptTokens int
	gotCount     bool // the server reported a token count
	serverGen    time.Duration
}

var apis = map[string]api{
	"openai-completions": {
		path: "/v1/completions",
		body: func(cfg config, prompt string) any {
			b := openaiBody(cfg)
			b["prompt"] = prompt
			return b
		},
		line: sseLine,
	},
	"openai-chat": {
		path: "/v1/chat/completions",
		body: func(cfg config, prompt string) any {
			b := openaiBody(cfg)
			b["messages"] = []map[string]string{{"role": "user", "content": prompt}}
			return b
		},
		line: sseLine,
	},
	"ollama-generate": {
		path: "/api/generate",
		body: func(cfg config, prompt string) any {
			// raw: the prompt goes to the model as is, as with
			// /v1/completions on a model without a template.
			return map[string]any{
				"model": cfg.model, "prompt": prompt, "stream": true, "raw": true,
				"options": map[string]any{
					"num_predict": cfg.maxTokens, "seed": cfg.seed, "temperature": cfg.temperature,
					"top_k": cfg.topK, "top_p": cfg.topP, "min_p": cfg.minP, "repeat_penalty": cfg.repeatPenalty,
				},
			}
		},
		line: ndjsonLine,
	},
}

func openaiBody(cfg config) map[string]any {
	b := map[string]any{
		"model": cfg.model, "stream": true, "stream_options": map[string]bool{"include_usage": true},
		"max_tokens": cfg.maxTokens, "seed": cfg.seed,
		"temperature": cfg.temperature, "top_p": cfg.topP,
		// Extensions (llama-server's names) that ggufd reads; a server
		// without them ignores them, so they must be set there otherwise.
		"top_k": cfg.topK, "min_p": cfg.minP, "repeat_penalty": cfg.repeatPenalty,
	}
	if cfg.ignoreEOS {
		b["ignore_eos"] = true
	}
	return b
}

// sseLine reads OpenAI server-sent events: "data: {chunk}" lines, the last
// chunk (with include_usage) carrying usage, then "data: [DONE]".
func sseLine(line []byte, st *streamState) (bool, error) {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return false, nil // blank separators, comments, event names
	}
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		return true, nil
	}
	var chunk struct {
		Choices []struct {
			Text  *string `json:"text"`
			Delta struct {
				Content *string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &chunk); err != nil {
		return false, fmt.Errorf("bad chunk %.200q: %v", data, err)
	}
	if len(chunk.Error) > 0 && string(chunk.Error) != "null" {
		return false, fmt.Errorf("error in stream: %.300s", chunk.Error)
	}
	for _, c := range chunk.Choices {
		if (c.Text != nil && *c.Text != "") || (c.Delta.Content != nil && *c.Delta.Content != "") {
			st.text = true
		}
	}
	// Ollama sends usage as an empty object on every chunk when
	// include_usage is set; only a nonzero count is the final one.
	if u := chunk.Usage; u != nil && (u.CompletionTokens > 0 || u.PromptTokens > 0) {
		st.tokens, st.promptTokens, st.gotCount = u.CompletionTokens, u.PromptTokens, true
	}
	return false, nil
}

// ndjsonLine reads Ollama's native stream: one JSON object a line, the
// last with done and the counts and durations.
func ndjsonLine(line []byte, st *streamState) (bool, error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return false, nil
	}
	var msg struct {
		Response        string `json:"response"`
		Done            bool   `json:"done"`
		EvalCount       int    `json:"eval_count"`
		EvalDuration    int64  `json:"eval_duration"`
		PromptEvalCount int    `json:"prompt_eval_count"`
		Error           string `json:"error"`
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return false, fmt.Errorf("bad line %.200q: %v", line, err)
	}
	if msg.Error != "" {
		return false, fmt.Errorf("error in stream: %s", msg.Error)
	}
	st.text = msg.Response != ""
	if msg.Done {
		st.tokens, st.promptTokens, st.gotCount = msg.EvalCount, msg.PromptEvalCount, true
		st.serverGen = time.Duration(msg.EvalDuration)
	}
	return msg.Done, nil
}

// doRequest sends request i and reads its stream to the end.
func doRequest(ctx context.Context, client *http.Client, cfg config, i int) (res result) {
	a := apis[cfg.api]
	body, err := json.Marshal(a.body(cfg, promptFor(cfg, i)))
	if err != nil {
		return result{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(cfg.url, "/")+a.path, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")

	res.start = time.Now()
	defer func() { res.total = time.Since(res.start) }()
	resp, err := client.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		res.err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		return res
	}

	var st streamState
	var last []byte // the last non-blank line, for error messages
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			last = line
		}
		if len(line) > 0 {
			st.text = false
			done, perr := a.line(bytes.TrimRight(line, "\r\n"), &st)
			if perr != nil {
				res.err = perr
				return res
			}
			if st.text {
				res.chunks++
				if res.ttft == 0 {
					res.ttft = time.Since(res.start)
				}
			}
			if done {
				break
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			return res
		}
	}
	if !st.gotCount {
		res.err = fmt.Errorf("stream ended without a token count (usage or eval_count) after %d text chunks; last line %.300q", res.chunks, last)
		return res
	}
	res.tokens, res.promptTokens, res.serverGen = st.tokens, st.promptTokens, st.serverGen
	return res
}
