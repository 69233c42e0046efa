package engine

import (
	"encoding/json"
	"errors"

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
	if err := checkSchemaDepth(schema); err != nil {
		return "", err
	}
	if err := checkSchema(schema); err != nil {
		return "", err
	}
	g := ollamallama.SchemaToGrammar(schema)
	if len(g) == 0 {
		return "", errors.New("the JSON schema could not be turned into a grammar")
	}
	return string(g), nil
}
