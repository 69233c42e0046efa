package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ggufd/ggufd/engine/gguf"
)

const devUsage = "usage: ggufd dev synth [flags]   (write a synthetic GGUF model; -h for flags)"

func dev(_ context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && args[0] == "synth":
		return synth(args[1:], stdout, stderr)
	case len(args) > 0 && isHelpWord(args[0]):
		fmt.Fprintln(stdout, devUsage)
		return nil
	}
	fmt.Fprintln(stderr, devUsage)
	return errUsage
}

// synth writes a llama-architecture model with real shapes and random
// weights: benchmark material that needs no download. The vision preset
// also writes a projector beside the model (NAME.mmproj.gguf).
func synth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ggufd dev synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	preset := fs.String("preset", "110m", "shape preset: "+strings.Join(gguf.PresetNames(), ", "))
	out := fs.String("out", "", "output file (default: <preset>.gguf)")
	donor := fs.String("vocab-donor", "", "copy the tokenizer of this GGUF (e.g. a Llama-2 model) instead of the built-in vocabulary")
	seed := fs.Int64("seed", 1, "random seed (same seed, same file)")
	weightType := fs.String("weight-type", "", "q8_0 (default), f16 or f32")
	ctxLen := fs.Int("context", 0, "trained context length to record (default: the preset's)")
	name := fs.String("name", "", "general.name (default: the preset's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec, err := gguf.Preset(*preset)
	if err != nil {
		return err
	}
	if *donor != "" {
		spec.Vocab = gguf.VocabSource{DonorPath: *donor}
	}
	spec.Seed = *seed
	if *weightType != "" {
		spec.WeightType = *weightType
	}
	if *ctxLen > 0 {
		spec.ContextLength = *ctxLen
	}
	if *name != "" {
		spec.Name = *name
	}
	path := *out
	if path == "" {
		path = *preset + ".gguf"
	}
	start := time.Now()
	if err := gguf.Synthesize(path, spec); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s shapes, random weights) in %v\n", path, *preset, time.Since(start).Round(time.Millisecond))
	if spec.Projector != nil {
		fmt.Fprintf(stdout, "wrote its vision projector %s (served with the model when both are in models_dir)\n", gguf.ProjectorPath(path))
	}
	return nil
}
