package chattemplate

import (
	"testing"
)

func TestToolMessageForms(t *testing.T) {
	args, err := DecodeJSON([]byte(`{"b": 1, "a": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	fn := NewMap()
	fn.Set("name", "f")
	fn.Set("arguments", args)
	call := NewMap()
	call.Set("id", "call_1")
	call.Set("function", fn)
	msgs := []map[string]any{
		{"role": "user", "content": "hi"},
		{"role": "assistant", "content": nil, "tool_calls": []any{call}},
	}

	text, changed, err := StringArguments(msgs)
	if err != nil || !changed {
		t.Fatalf("StringArguments: %v %v", changed, err)
	}
	gotFn, _ := text[1]["tool_calls"].([]any)[0].(*Map).Get("function")
	gotArgs, _ := gotFn.(*Map).Get("arguments")
	if gotArgs != `{"b": 1, "a": "x"}` {
		t.Errorf("arguments as text: %q (key order and Python's separators kept)", gotArgs)
	}
	if orig, _ := fn.Get("arguments"); orig != args {
		t.Error("StringArguments changed the caller's messages")
	}
	if _, again, _ := StringArguments(text); again {
		t.Error("text arguments converted twice")
	}

	empty, changed := EmptyContent(msgs)
	if !changed || empty[1]["content"] != "" || msgs[1]["content"] != nil || empty[0]["content"] != "hi" {
		t.Errorf("EmptyContent: %v (original %v)", empty, msgs)
	}

	for src, want := range map[string]bool{
		"{% if message['content'] is none %}":   true,
		"{% if message.content is not none %}":  true,
		"{{ message.content }}":                 false,
		"{% if message['content'] is string %}": false,
	} {
		if TestsNullContent(src) != want {
			t.Errorf("TestsNullContent(%q) = %v", src, !want)
		}
	}
}
