// Command loadgen drives N concurrent streaming clients against an
// OpenAI-compatible or Ollama server and prints one JSON report: aggregate
// generated tokens/s, time to first token and per-stream decode rate.
//
//	go run ./scripts/loadgen -url http://127.0.0.1:8080 -api openai-completions \
//	    -model bench -concurrency 8 -requests 32 -max-tokens 128 -prompt "Once upon a time"
//
// Token counts come from the server (usage with include_usage, or Ollama's
// eval_count), never from counting chunks, so that servers which merge or
// split chunks differently are compared on the same quantity; the chunk
// count is reported as a cross-check.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "server base URL (loopback)")
	flag.StringVar(&cfg.api, "api", "openai-completions", "openai-chat, openai-completions or ollama-generate")
	flag.StringVar(&cfg.model, "model", "", "model name")
	flag.IntVar(&cfg.concurrency, "concurrency", 1, "concurrent streaming clients")
	flag.IntVar(&cfg.requests, "requests", 0, "total requests (default 4 × concurrency)")
	flag.IntVar(&cfg.maxTokens, "max-tokens", 128, "tokens to generate per request")
	prompt := flag.String("prompt", "", "prompt text")
	promptFile := flag.String("prompt-file", "", "file holding the prompt text")
	flag.BoolVar(&cfg.vary, "vary-prompt", true, "prefix each prompt with the round, concurrency and request number, so no request finds its prompt cached")
	flag.Int64Var(&cfg.seed, "seed", 42, "sampling seed")
	// Every sampler setting is sent explicitly so that neither server's
	// defaults decide (Ollama's differ from ggufd's: top_p 0.9, repeat
	// penalty 1.1). Greedy decoding is a poor default for random-weight
	// models: it falls into one-token loops, which Ollama aborts after 30
	// repeats, ending the stream without a final chunk.
	flag.Float64Var(&cfg.temperature, "temperature", 0.8, "sampling temperature (0: greedy)")
	flag.IntVar(&cfg.topK, "top-k", 40, "top_k (sent as an extension field; Ollama's OpenAI layer ignores it: set it in the Modelfile)")
	flag.Float64Var(&cfg.topP, "top-p", 0.95, "top_p")
	flag.Float64Var(&cfg.minP, "min-p", 0.05, "min_p (extension field, as top_k)")
	flag.Float64Var(&cfg.repeatPenalty, "repeat-penalty", 1, "repeat_penalty (extension field, as top_k; 1: off)")
	flag.BoolVar(&cfg.ignoreEOS, "ignore-eos", false, "send ignore_eos (llama-server/ggufd extension; not understood by Ollama)")
	label := flag.String("label", "", "name of the server under test, recorded in the report for -summarize")
	round := flag.Int("round", 0, "round number, recorded in the report for -summarize")
	summarize := flag.String("summarize", "", "instead of generating load, read the *.json reports in this folder and print a comparison table")
	compare := flag.String("compare", "ggufd,ollama", "with -summarize: the two labels to compare, subject first")
	engineRate := flag.Float64("engine-tok-s", 0, "with -summarize: the engine's in-process single-stream decode tok/s, to state what HTTP costs")
	flag.IntVar(&cfg.cpuPGID, "cpu-pgid", 0, "process group of the server (Linux): report the CPU time it and the rest of the machine spent during the run")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound on the whole run")
	flag.Parse()

	if *summarize != "" {
		labels := strings.Split(*compare, ",")
		if len(labels) != 2 {
			fatalf("-compare wants two labels, got %q", *compare)
		}
		if err := printSummary(os.Stdout, *summarize, labels[0], labels[1], *engineRate); err != nil {
			fatalf("%v", err)
		}
		return
	}

	if *promptFile != "" {
		b, err := os.ReadFile(*promptFile)
		if err != nil {
			fatalf("%v", err)
		}
		*prompt = string(b)
	}
	cfg.prompt = strings.TrimSpace(*prompt)
	cfg.label, cfg.round = *label, *round
	if cfg.requests == 0 {
		cfg.requests = 4 * cfg.concurrency
	}
	if err := cfg.validate(); err != nil {
		fatalf("%v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rep := run(ctx, cfg)
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(rep); err != nil {
		fatalf("%v", err)
	}
	if rep.Errors > 0 {
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}

type config struct {
	url, api, model, prompt string
	label                   string
	cpuPGID                 int
	round                   int
	concurrency, requests   int
	maxTokens               int
	vary, ignoreEOS         bool
	seed                    int64
	temperature, topP, minP float64
	repeatPenalty           float64
	topK                    int
}

func (c config) validate() error {
	switch {
	case c.model == "":
		return errors.New("-model is required")
	case c.prompt == "":
		return errors.New("-prompt or -prompt-file is required")
	case c.concurrency < 1 || c.concurrency > 256:
		return fmt.Errorf("-concurrency %d is not in [1, 256]", c.concurrency)
	case c.requests < 1 || c.requests > 10000:
		return fmt.Errorf("-requests %d is not in [1, 10000]", c.requests)
	case c.maxTokens < 1:
		return fmt.Errorf("-max-tokens %d must be positive", c.maxTokens)
	}
	if _, ok := apis[c.api]; !ok {
		return fmt.Errorf("-api %q: want openai-chat, openai-completions or ollama-generate", c.api)
	}
	return nil
}

// run sends cfg.requests requests from cfg.concurrency workers, each
// starting its next request as soon as its previous stream ends, so the
// server holds exactly cfg.concurrency streams until the queue drains.
func run(ctx context.Context, cfg config) Report {
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.concurrency,
		// Uncompressed, as a local client would; gzip would add CPU
		// work on a machine whose cores the server needs.
		DisableCompression: true,
	}}
	var before cpuSample
	if cfg.cpuPGID > 0 {
		before = sampleCPU(cfg.cpuPGID)
	}
	jobs := make(chan int)
	results := make([]result, cfg.requests)
	var wg sync.WaitGroup
	for w := 0; w < cfg.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = doRequest(ctx, client, cfg, i)
			}
		}()
	}
	for i := 0; i < cfg.requests; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	rep := aggregate(results, cfg.maxTokens)
	if cfg.cpuPGID > 0 {
		rep.addCPU(before, sampleCPU(cfg.cpuPGID))
	}
	rep.API, rep.URL, rep.Model, rep.Concurrency = cfg.api, cfg.url, cfg.model, cfg.concurrency
	rep.Label, rep.Round = cfg.label, cfg.round
	return rep
}

func promptFor(cfg config, i int) string {
	if !cfg.vary {
		return cfg.prompt
	}
	// Round and concurrency too, so that a later run (or the other
	// server's warm-up) never finds this exact prompt cached.
	return fmt.Sprintf("Round %d, %d streams, request %d. %s", cfg.round, cfg.concurrency, i, cfg.prompt)
}
