package toolformat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/internal/sharedtest"
)

// TestDetect reads the family and the reasoning tags from real templates.
func TestDetect(t *testing.T) {
	tests := []struct {
		file, family string
		think        *tags
	}{
		{"Qwen-Qwen2.5-7B-Instruct.jinja", "hermes", nil},
		{"Qwen-Qwen3-0.6B.jinja", "hermes", thinkTags},
		{"Qwen-QwQ-32B.jinja", "hermes", thinkTags},
		{"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", "hermes", nil},
		{"HuggingFaceTB-SmolLM3-3B.jinja", "hermes", thinkTags},
		{"meta-llama-Llama-3.3-70B-Instruct.jinja", "llama3", nil},
		{"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3", nil},
		{"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral", nil},
		{"mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja", "mistral", nil},
		{"mistralai-Mistral-Small-3.2-24B-Instruct-2506.jinja", "devstral", nil},
		{"unsloth-mistral-Devstral-Small-2507.jinja", "devstral", nil},
		{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek", thinkTags},
		{"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek", thinkTags},
		{"deepseek-ai-DeepSeek-V2.5.jinja", "deepseek", thinkTags},
		{"deepseek-ai-DeepSeek-V3.1.jinja", "deepseek3.1", thinkTags},
		{"glm_4_5.jinja", "glm4.5", thinkTags},
		{"GLM-4.6.jinja", "glm4.5", thinkTags},
		{"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", "command-r", cohereThink},
		{"meta-llama-Llama-2-7b-chat-hf.jinja", "hermes", nil},
		{"teknium-OpenHermes-2.5-Mistral-7B.jinja", "hermes", nil},
	}
	dir := filepath.Join(sharedtest.Dir(t), "chat-templates")
	for _, tc := range tests {
		src, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		f := Detect(string(src))
		if f.Name() != tc.family || f.think != tc.think {
			t.Errorf("%s: detected %s %v, want %s %v", tc.file, f.Name(), f.think, tc.family, tc.think)
		}
	}
	f, err := Detect("").WithFamily("glm4.5")
	if err != nil || f.Name() != "glm4.5" || f.think != thinkTags {
		t.Errorf("override: %v %v", f.Name(), err)
	}
	if _, err := Detect("").WithFamily("qwen"); err == nil || !Valid("") || Valid("qwen") {
		t.Error("unknown family accepted")
	}
}

// TestOpensReasoning reads the reference renderings of a first user turn:
// QwQ and R1 open <think> in the generation prompt, V3.1 closes it.
func TestOpensReasoning(t *testing.T) {
	dir := filepath.Join(sharedtest.Dir(t), "chat-templates")
	for file, want := range map[string]bool{
		"Qwen-QwQ-32B.jinja":                             true,
		"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": true,
		"deepseek-ai-DeepSeek-V3.1.jinja":                false,
		"Qwen-Qwen3-0.6B.jinja":                          false,
		"glm_4_5.jinja":                                  false,
	} {
		src, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "cases", strings.TrimSuffix(file, ".jinja")+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var cases struct {
			Cases []struct {
				Case     string `json:"case"`
				Expected string `json:"expected"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(raw, &cases); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases.Cases {
			if c.Case == "single_user" {
				if got := Detect(string(src)).OpensReasoning(c.Expected); got != want {
					t.Errorf("%s: OpensReasoning(%q) = %v", file, c.Expected, got)
				}
			}
		}
	}
}

func TestTemplateCallID(t *testing.T) {
	m := Detect("[TOOL_CALLS]")
	a, b := m.TemplateCallID("call_0123456789abcdef01234567"), m.TemplateCallID("call_0123456789abcdef01234568")
	if len(a) != 9 || !regexp.MustCompile(`^[0-9a-zA-Z]{9}$`).MatchString(a) || a == b ||
		m.TemplateCallID("call_0123456789abcdef01234567") != a || m.TemplateCallID("abcdef123") != "abcdef123" {
		t.Errorf("mistral ids %q %q", a, b)
	}
	if id := Detect("<tool_call>").TemplateCallID("call_x"); id != "call_x" {
		t.Errorf("hermes id changed: %q", id)
	}
}

// fakeConverter stands in for llama.cpp's converter with its shape of
// output: a root rule and shared helper rules.
func fakeConverter(schema []byte) (string, error) {
	return `char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})
root ::= "{" space  (city-kv)? "}" space
city-kv ::= "\"city\"" space ":" space string
space ::= | " " | "\n"{1,2} [ \t]{0,20}
string ::= "\"" char* "\"" space
`, nil
}

// TestGrammarRules builds each family's grammar for two tools and checks
// it hangs together: one root, unique rules, every reference defined, the
// family's markers and the tool names present.
func TestGrammarRules(t *testing.T) {
	tools := []Tool{
		{Name: "get_weather", Parameters: []byte(`{"type": "object", "properties": {"city": {"type": "string", "maxLength": 9}, "unit": {"type": "string", "enum": ["c", "f"]}, "days": {"type": "integer"}}, "required": ["city"]}`)},
		{Name: "now"},
	}
	for _, name := range Names() {
		for _, inReasoning := range []bool{false, true} {
			f := Format{family: families[name], think: thinkTags}
			g, err := f.Grammar(GrammarOptions{Tools: tools, Parallel: true, InReasoning: inReasoning}, fakeConverter)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkGBNF(t, name, g)
			for _, want := range []string{"get_weather", "now", f.family.markers[0]} {
				if name == "llama3" && want == "<|python_tag|>" {
					continue // forced calls are plain JSON
				}
				if !strings.Contains(g, lit(want)[1:len(lit(want))-1]) {
					t.Errorf("%s grammar lacks %q:\n%s", name, want, g)
				}
			}
			if inReasoning != strings.Contains(g, "</think>") {
				t.Errorf("%s: reasoning prefix %v:\n%s", name, inReasoning, g)
			}
		}
	}
	if _, err := Detect("").Grammar(GrammarOptions{}, fakeConverter); err == nil {
		t.Error("a grammar without tools")
	}
}

var ruleRef = regexp.MustCompile(`[a-zA-Z0-9_-]+`)

// checkGBNF checks rule names and references, skipping literals, classes
// and repetition counts.
func checkGBNF(t *testing.T, family, g string) {
	t.Helper()
	defined := map[string]bool{}
	var bodies []string
	for _, line := range strings.Split(strings.TrimSpace(g), "\n") {
		name, body, ok := strings.Cut(line, " ::= ")
		if !ok || !regexp.MustCompile(`^[a-zA-Z0-9-]+$`).MatchString(name) {
			t.Fatalf("%s: bad rule line %q", family, line)
		}
		if defined[name] {
			t.Fatalf("%s: rule %s defined twice", family, name)
		}
		defined[name] = true
		bodies = append(bodies, body)
	}
	if !strings.HasPrefix(g, "root ::= ") {
		t.Fatalf("%s: root is not first:\n%s", family, g)
	}
	for _, body := range bodies {
		stripped := prefixRules(body, "\x00") // marks every reference
		for _, ref := range strings.Split(stripped, "\x00")[1:] {
			name := ruleRef.FindString(ref)
			if !defined[name] {
				t.Errorf("%s: reference to undefined rule %q in %q", family, name, body)
			}
		}
	}
}

func TestPrefixRules(t *testing.T) {
	in := `root ::= "a-b [x]" [a-z\]]{1,3} ab-c # note root
ab-c ::= root?`
	want := `p-root ::= "a-b [x]" [a-z\]]{1,3} p-ab-c # note root
p-ab-c ::= p-root?`
	if got := prefixRules(in, "p-"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
