package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	ollamallama "github.com/ollama/ollama/llama"
)

// SchemaToGrammar converts a JSON schema into a GBNF grammar (rule "root")
// with llama.cpp's converter (common/json-schema-to-grammar). The schema
// is checked first (checkSchema): the converter crashes or spins on some
// inputs, inside a cgo call nothing can stop.
func SchemaToGrammar(schema []byte) (string, error) {
	if !json.Valid(schema) {
		return "", errors.New("the JSON schema is not valid JSON")
	}
	if err := checkSchema(schema); err != nil { // its decoding bounds the depth too
		return "", err
	}
	schema, err := rewritePatterns(schema)
	if err != nil {
		return "", err
	}
	return convertSchema(schema)
}

// convertSchema runs the converter with room for a grammar of
// maxSchemaGrammarBytes and refuses larger ones instead of using them cut.
//
// The binding (ollama's llama.SchemaToGrammar, v0.17.4) sizes its output
// buffer as max(32 KiB, min(1 MiB, 4*len(schema))) and, when the grammar
// does not fit, returns its first buffer-1 bytes as if complete. Trailing
// whitespace, which the JSON parser skips, makes the buffer large enough;
// an answer that fills it is then a grammar we refuse anyway.
func convertSchema(schema []byte) (string, error) {
	if want := (maxSchemaGrammarBytes+2)/4 + 1; len(schema) < want {
		schema = append(bytes.Clone(schema), bytes.Repeat([]byte{' '}, want-len(schema))...)
	}
	buf := max(32<<10, min(1<<20, 4*len(schema)))
	g := ollamallama.SchemaToGrammar(schema)
	switch {
	case len(g) == 0:
		return "", errors.New("the JSON schema could not be turned into a grammar")
	case len(g) >= buf-1 || len(g) > maxSchemaGrammarBytes:
		return "", fmt.Errorf("the JSON schema's grammar is larger than %d bytes", maxSchemaGrammarBytes)
	case bytes.IndexByte(g, 0) >= 0:
		// The binding copies with strncpy: a NUL (from a \u0000 in a
		// pattern) ends the C string and leaves the rest zeroed.
		return "", errors.New("the JSON schema contains a NUL character where the grammar cannot hold one (a pattern?)")
	}
	return string(g), nil
}
