package toolformat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var weatherTools = []Tool{
	{Name: "get_weather", Parameters: []byte(`{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "zip": {"type": "string"}, "tags": {"type": "array"}}, "required": ["city"]}`)},
	{Name: "get_time", Parameters: []byte(`{"type": "object", "properties": {"tz": {"type": "string"}}}`)},
	{Name: "python", Parameters: []byte(`{"type": "object", "properties": {"code": {"type": "string"}}}`)},
}

type parseCase struct {
	name   string
	format Format
	opts   Options
	text   string
	want   Result
	// whole: the result is only right for the whole text (code after
	// <|python_tag|> runs to the end), so cuts are not checked.
	whole bool
}

func format(family string, think *tags) Format { return Format{family: families[family], think: think} }

func call(name, args string) Call { return Call{Name: name, Arguments: args} }

var (
	withTools = Options{Tools: weatherTools, Reasoning: true}
	thinking  = Options{Tools: weatherTools, Reasoning: true, InReasoning: true}
	noTools   = Options{Reasoning: true}
	// withBuiltin offers one of Llama 3.1's built-in tools as well.
	withBuiltin = Options{Tools: append(slices.Clone(weatherTools), Tool{Name: "brave_search"}), Reasoning: true}
	// noCode offers no tool that runs code after <|python_tag|>.
	noCode = Options{Tools: weatherTools[:2], Reasoning: true}
)

// Outputs written from each family's documented format (model cards, the
// families' chat templates in ../shared/chat-templates).
var parseCases = []parseCase{
	// Hermes 2 Pro / Qwen 2.5.
	{name: "hermes one call", format: format("hermes", nil), opts: withTools,
		text: "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>",
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris", "days": 3}`)}}},
	{name: "hermes text then two calls", format: format("hermes", nil), opts: withTools,
		text: "I'll check both cities.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Tokyo\"}}\n</tool_call>",
		want: Result{Content: "I'll check both cities.", Calls: []Call{call("get_weather", `{"city": "Paris"}`), call("get_weather", `{"city": "Tokyo"}`)}}},
	{name: "hermes arguments as a string, no closing tag", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_time", "arguments": "{\"tz\": \"CET\"}"}`,
		want: Result{Calls: []Call{call("get_time", `{"tz": "CET"}`)}}},
	{name: "hermes arguments before name", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"arguments": {"tz": "UTC"}, "name": "get_time"}</tool_call>`,
		want: Result{Calls: []Call{call("get_time", `{"tz": "UTC"}`)}}},
	{name: "hermes markup that is not a call stays text", format: format("hermes", nil), opts: withTools,
		text: "<tool_call>call a()</tool_call> done",
		want: Result{Content: "<tool_call>call a()</tool_call> done"}},
	{name: "hermes angle brackets in plain text", format: format("hermes", nil), opts: withTools,
		text: "if a < b then <tool> is <tool_cal fine",
		want: Result{Content: "if a < b then <tool> is <tool_cal fine"}},
	{name: "hermes without tools offered leaves markup", format: format("hermes", nil), opts: noTools,
		text: "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>",
		want: Result{Content: "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>"}},
	// Qwen 3 and QwQ.
	{name: "qwen3 thinks then calls", format: format("hermes", thinkTags), opts: withTools,
		text: "<think>\nThe user wants the weather in Paris. I should call get_weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
		want: Result{Reasoning: "The user wants the weather in Paris. I should call get_weather.",
			Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "qwen3 thinking, no tools", format: format("hermes", thinkTags), opts: noTools,
		text: "<think>\nA greeting.\n</think>\n\nHello! How can I help?",
		want: Result{Reasoning: "A greeting.", Content: "Hello! How can I help?"}},
	{name: "qwen3 with thinking disabled", format: format("hermes", thinkTags), opts: noTools,
		text: "Hello! <b>bold</b>",
		want: Result{Content: "Hello! <b>bold</b>"}},
	{name: "qwen3 reasoning kept raw", format: format("hermes", thinkTags), opts: Options{},
		text: "<think>\nA greeting.\n</think>\n\nHello!",
		want: Result{Content: "<think>\nA greeting.\n</think>\n\nHello!"}},
	{name: "qwq starts inside reasoning", format: format("hermes", thinkTags), opts: thinking,
		text: "Okay, 2+2 is 4.\n</think>\n\nThe answer is 4.",
		want: Result{Reasoning: "Okay, 2+2 is 4.", Content: "The answer is 4."}},
	{name: "r1 repeating the opened tag", format: format("deepseek", thinkTags), opts: thinking,
		text: "<think>\nHmm.\n</think>\n\nHi.",
		want: Result{Reasoning: "Hmm.", Content: "Hi."}},
	{name: "r1 repeating the opened tag twice", format: format("deepseek", thinkTags), opts: thinking,
		text: "<think><think>Let me see.</think>Answer.",
		want: Result{Reasoning: "Let me see.", Content: "Answer."}},
	{name: "qwq reasoning cut by max_tokens", format: format("hermes", thinkTags), opts: thinking,
		text: "Let me think about <tool_call> markup",
		want: Result{Reasoning: "Let me think about <tool_call> markup"}},
	// Llama 3.1 – 3.3.
	{name: "llama json call", format: format("llama3", nil), opts: withTools,
		text: `{"name": "get_weather", "parameters": {"city": "Paris"}}`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "llama json call with type", format: format("llama3", nil), opts: withTools,
		text: `{"type": "function", "name": "get_weather", "parameters": {"city": "Paris", "days": 2}}`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris", "days": 2}`)}}},
	{name: "llama python tag json", format: format("llama3", nil), opts: withTools,
		text: `<|python_tag|>{"name": "get_time", "parameters": {"tz": "PST"}}`,
		want: Result{Calls: []Call{call("get_time", `{"tz": "PST"}`)}}},
	{name: "llama builtin tool", format: format("llama3", nil), opts: withBuiltin,
		text: `<|python_tag|>brave_search.call(query="weather in Paris", count=3)`,
		want: Result{Calls: []Call{call("brave_search", `{"query": "weather in Paris", "count": 3}`)}}},
	{name: "llama code interpreter", format: format("llama3", nil), opts: withTools, whole: true,
		text: "<|python_tag|>print(2 + 2)\n",
		want: Result{Calls: []Call{call("python", `{"code": "print(2 + 2)"}`)}}},
	{name: "llama JSON answer that is not a call", format: format("llama3", nil), opts: withTools,
		text: `{"name": "Bob", "age": 3}`,
		want: Result{Content: `{"name": "Bob", "age": 3}`}},
	{name: "llama JSON without parameters is not a call", format: format("llama3", nil), opts: withTools,
		text: `{"name": "get_time", "tz": "x"} is what you asked`,
		want: Result{Content: `{"name": "get_time", "tz": "x"} is what you asked`}},
	{name: "llama plain answer", format: format("llama3", nil), opts: withTools,
		text: "The weather in Paris is sunny {really}.",
		want: Result{Content: "The weather in Paris is sunny {really}."}},
	// Mistral and Devstral.
	{name: "mistral nemo list", format: format("mistral", nil), opts: withTools,
		text: `[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}]`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "mistral small 3.1 parallel", format: format("mistral", nil), opts: withTools,
		text: `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {"tz": "CET"}}]`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`), call("get_time", `{"tz": "CET"}`)}}},
	{name: "devstral args", format: format("devstral", nil), opts: withTools,
		text: `Let me look that up.[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}`,
		want: Result{Content: "Let me look that up.", Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "devstral parallel", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{"tz": "JST"}`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`), call("get_time", `{"tz": "JST"}`)}}},
	{name: "mistral small 3.2 call id", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{"city": "Paris"}`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "devstral space after the name", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_weather [ARGS]{"city": "Paris"}`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "devstral call id that is prose", format: format("devstral", nil), opts: withTools,
		text: `Use [TOOL_CALLS]get_time[CALL_ID] and then nothing.`,
		want: Result{Content: `Use [TOOL_CALLS]get_time[CALL_ID] and then nothing.`}},
	{name: "magistral reasoning", format: format("devstral", mistralMind), opts: withTools,
		text: `[THINK]Weather needs a tool.[/THINK][TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}`,
		want: Result{Reasoning: "Weather needs a tool.", Calls: []Call{call("get_weather", `{"city": "Oslo"}`)}}},
	// DeepSeek R1 / V3 and V3.1.
	{name: "deepseek r1 thinks then calls", format: format("deepseek", thinkTags), opts: thinking,
		text: "I need the weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		want: Result{Reasoning: "I need the weather.", Calls: []Call{call("get_weather", `{"city": "Paris"}`)}}},
	{name: "deepseek v3 parallel", format: format("deepseek", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{\"tz\": \"CET\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`), call("get_time", `{"tz": "CET"}`)}}},
	{name: "deepseek call without the calls marker", format: format("deepseek", thinkTags), opts: withTools,
		text: "Checking.<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{\"tz\": \"UTC\"}\n```<｜tool▁call▁end｜>",
		want: Result{Content: "Checking.", Calls: []Call{call("get_time", `{"tz": "UTC"}`)}}},
	{name: "deepseek v3.1", format: format("deepseek3.1", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{\"tz\": \"CET\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris"}`), call("get_time", `{"tz": "CET"}`)}}},
	{name: "deepseek call marker in text", format: format("deepseek", thinkTags), opts: withTools,
		text: "Here: <｜tool▁call▁begin｜>{\"tz\": \"CET\"}<｜tool▁sep｜>x, and the rest of the answer.",
		want: Result{Content: "Here: <｜tool▁call▁begin｜>{\"tz\": \"CET\"}<｜tool▁sep｜>x, and the rest of the answer."}},
	{name: "deepseek call marker before prose", format: format("deepseek", thinkTags), opts: withTools,
		text: "Note <｜tool▁call▁begin｜>function<｜tool▁sep｜>see below, this is not a call.",
		want: Result{Content: "Note <｜tool▁call▁begin｜>function<｜tool▁sep｜>see below, this is not a call."}},
	{name: "deepseek r1 answer", format: format("deepseek", thinkTags), opts: thinking,
		text: "Simple arithmetic.\n</think>\n\n2 + 2 = 4.",
		want: Result{Reasoning: "Simple arithmetic.", Content: "2 + 2 = 4."}},
	// GLM-4.5 / 4.6.
	{name: "glm thinks then calls", format: format("glm4.5", thinkTags), opts: withTools,
		text: "\n<think>The user wants a forecast.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n<arg_key>zip</arg_key>\n<arg_value>75001</arg_value>\n<arg_key>tags</arg_key>\n<arg_value>[\"rain\", \"wind\"]</arg_value>\n</tool_call>",
		want: Result{Reasoning: "The user wants a forecast.",
			Calls: []Call{call("get_weather", `{"city": "Paris", "days": 3, "zip": "75001", "tags": ["rain", "wind"]}`)}}},
	{name: "glm two calls after text", format: format("glm4.5", thinkTags), opts: withTools,
		text: "\n<think></think>\nOne moment.\n<tool_call>get_time\n<arg_key>tz</arg_key>\n<arg_value>CET</arg_value>\n</tool_call>\n<tool_call>get_time\n</tool_call>",
		want: Result{Content: "One moment.", Calls: []Call{call("get_time", `{"tz": "CET"}`), call("get_time", `{}`)}}},
	{name: "glm answer", format: format("glm4.5", thinkTags), opts: withTools,
		text: "\n<think>Easy.</think>\nParis is the capital of France.",
		want: Result{Reasoning: "Easy.", Content: "Paris is the capital of France."}},
	{name: "glm markup before prose", format: format("glm4.5", thinkTags), opts: withTools,
		text: "Compare: <tool_call>a < b holds.",
		want: Result{Content: "Compare: <tool_call>a < b holds."}},
	{name: "glm call to a tool not offered", format: format("glm4.5", thinkTags), opts: withTools,
		text: "<tool_call>get_date\n<arg_key>tz</arg_key>\n<arg_value>CET</arg_value>\n</tool_call>",
		want: Result{Content: "<tool_call>get_date\n<arg_key>tz</arg_key>\n<arg_value>CET</arg_value>\n</tool_call>"}},
	{name: "glm space after the name", format: format("glm4.5", thinkTags), opts: withTools,
		text: "<tool_call>get_time \n<arg_key>tz</arg_key>\n<arg_value>CET</arg_value>\n</tool_call>",
		want: Result{Calls: []Call{call("get_time", `{"tz": "CET"}`)}}},
	// Command R7B.
	{name: "command-r thinks then acts", format: format("command-r", cohereThink), opts: withTools,
		text: "<|START_THINKING|>I will look up the weather in Paris.<|END_THINKING|><|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}},\n    {\"tool_call_id\": \"1\", \"tool_name\": \"get_time\", \"parameters\": {\"tz\": \"CET\"}}\n]<|END_ACTION|>",
		want: Result{Reasoning: "I will look up the weather in Paris.",
			Calls: []Call{call("get_weather", `{"city": "Paris"}`), call("get_time", `{"tz": "CET"}`)}}},
	// Text around a call keeps a space between its words: the one written
	// before the call, or else the one after it.
	{name: "hermes text around a call", format: format("hermes", nil), opts: withTools,
		text: "Let me check.\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\nDone.",
		want: Result{Content: "Let me check.\nDone.", Calls: []Call{call("get_time", `{}`)}}},
	{name: "hermes space only after the call", format: format("hermes", nil), opts: withTools,
		text: "Checking.<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call> \nDone.",
		want: Result{Content: "Checking. \nDone.", Calls: []Call{call("get_time", `{}`)}}},
	{name: "hermes text around two calls", format: format("hermes", nil), opts: withTools,
		text: "A <tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>\n<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>\tB",
		want: Result{Content: "A B", Calls: []Call{call("get_time", `{}`), call("get_time", `{}`)}}},
	{name: "mistral text around a call", format: format("mistral", nil), opts: withTools,
		text: `Let me check. [TOOL_CALLS][{"name": "get_time", "arguments": {}}] Done.`,
		want: Result{Content: "Let me check. Done.", Calls: []Call{call("get_time", `{}`)}}},
	{name: "devstral text around a call", format: format("devstral", nil), opts: withTools,
		text: `Let me check. [TOOL_CALLS]get_time[ARGS]{} Done.`,
		want: Result{Content: "Let me check. Done.", Calls: []Call{call("get_time", `{}`)}}},
	// Arguments are always a JSON object, which clients json.loads: a
	// call keeps the valid part of what the model wrote, and the markup
	// after a break is dropped with the call, not shown as text.
	{name: "hermes arguments as a plain string", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_weather", "arguments": "Paris"}</tool_call>`,
		want: Result{Calls: []Call{call("get_weather", `{}`)}}},
	{name: "hermes arguments a broken literal", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_weather", "arguments": tru}</tool_call> Done.`,
		want: Result{Content: "Done.", Calls: []Call{call("get_weather", `{}`)}}},
	{name: "hermes arguments with a bare word", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_weather", "arguments": {"city": Paris}}</tool_call>`,
		want: Result{Calls: []Call{call("get_weather", `{}`)}}},
	{name: "hermes arguments broken after a member", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "tags": ["a", b], "days": 3}}</tool_call>`,
		want: Result{Calls: []Call{call("get_weather", `{"city": "Paris", "tags": ["a"]}`)}}},
	{name: "hermes object broken after the arguments", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_time", "arguments": {"tz": "CET"}, oops { </tool_call> After.`,
		want: Result{Content: "After.", Calls: []Call{call("get_time", `{"tz": "CET"}`)}}},
	{name: "hermes arguments string of broken JSON", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_time", "arguments": "{\"tz\": CET}"}</tool_call>`,
		want: Result{Calls: []Call{call("get_time", `{}`)}}},
	{name: "hermes raw newline in a string", format: format("hermes", nil), opts: withTools,
		text: "<tool_call>{\"name\": \"python\", \"arguments\": {\"code\": \"a = 1\nprint(a)\"}}</tool_call>",
		want: Result{Calls: []Call{call("python", `{"code": "a = 1\nprint(a)"}`)}}},
	{name: "mistral list arguments broken", format: format("mistral", nil), opts: withTools,
		text: `[TOOL_CALLS][{"name": "get_time", "arguments": {"tz": CET}}, {"name": "get_weather", "arguments": {}}]`,
		want: Result{Calls: []Call{call("get_time", `{}`), call("get_weather", `{}`)}}},
	{name: "devstral arguments a string", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_weather[ARGS]"Paris"`,
		want: Result{Calls: []Call{call("get_weather", `{}`)}}},
	{name: "devstral arguments broken", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_time[ARGS]{"tz": "CET", x} Done.`,
		want: Result{Content: "Done.", Calls: []Call{call("get_time", `{"tz": "CET"}`)}}},
	{name: "deepseek arguments not JSON", format: format("deepseek", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\nnot json\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>Done.",
		want: Result{Content: "Done.", Calls: []Call{call("get_weather", `{}`)}}},
	{name: "deepseek v3.1 arguments broken", format: format("deepseek3.1", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{\"tz\": CET}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		want: Result{Calls: []Call{call("get_time", `{}`), call("get_weather", `{}`)}}},
	{name: "command-r parameters broken", format: format("command-r", cohereThink), opts: withTools,
		text: `<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "get_time", "parameters": {"tz": CET}}]<|END_ACTION|>`,
		want: Result{Calls: []Call{call("get_time", `{}`)}}},
	// A call to a function the request did not offer stays text as the
	// model wrote it: a client could not run it. Once a block of markup
	// made a call, a later call that is not one is dropped whole.
	{name: "hermes call to a tool not offered", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"name": "get_date", "arguments": {}}</tool_call>`,
		want: Result{Content: `<tool_call>{"name": "get_date", "arguments": {}}</tool_call>`}},
	{name: "hermes arguments before a name not offered", format: format("hermes", nil), opts: withTools,
		text: `<tool_call>{"arguments": {"tz": "UTC"}, "name": "get_date"}</tool_call>`,
		want: Result{Content: `<tool_call>{"arguments": {"tz": "UTC"}, "name": "get_date"}</tool_call>`}},
	{name: "mistral list call to a tool not offered", format: format("mistral", nil), opts: withTools,
		text: `[TOOL_CALLS][{"name": "get_date", "arguments": {}}]`,
		want: Result{Content: `[TOOL_CALLS][{"name": "get_date", "arguments": {}}]`}},
	{name: "mistral list with one call not offered", format: format("mistral", nil), opts: withTools,
		text: `[TOOL_CALLS][{"name": "get_time", "arguments": {}}, {"name": "get_date", "arguments": {"a": [1]}}, {"name": "get_weather", "arguments": {}}]`,
		want: Result{Calls: []Call{call("get_time", `{}`), call("get_weather", `{}`)}}},
	{name: "devstral call to a tool not offered", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_date[ARGS]{}`,
		want: Result{Content: `[TOOL_CALLS]get_date[ARGS]{}`}},
	{name: "devstral name longer than a tool's", format: format("devstral", nil), opts: withTools,
		text: `[TOOL_CALLS]get_weathers[ARGS]{}`,
		want: Result{Content: `[TOOL_CALLS]get_weathers[ARGS]{}`}},
	{name: "deepseek call to a tool not offered", format: format("deepseek", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_date\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		want: Result{Content: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_date\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"}},
	{name: "deepseek second call not offered", format: format("deepseek", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_date\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>Done.",
		want: Result{Content: "Done.", Calls: []Call{call("get_time", `{}`)}}},
	{name: "deepseek v3.1 call to a tool not offered", format: format("deepseek3.1", thinkTags), opts: withTools,
		text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_date<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		want: Result{Content: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_date<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"}},
	{name: "command-r call to a tool not offered", format: format("command-r", cohereThink), opts: withTools,
		text: `<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "get_date", "parameters": {}}]<|END_ACTION|>`,
		want: Result{Content: `<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "get_date", "parameters": {}}]<|END_ACTION|>`}},
	{name: "llama builtin not offered", format: format("llama3", nil), opts: noCode,
		text: `<|python_tag|>brave_search.call(query="x")`,
		want: Result{Content: `<|python_tag|>brave_search.call(query="x")`}},
	{name: "llama builtin not offered is code", format: format("llama3", nil), opts: withTools, whole: true,
		text: `<|python_tag|>brave_search.call(query="x")`,
		want: Result{Calls: []Call{call("python", `{"code": "brave_search.call(query=\"x\")"}`)}}},
	{name: "llama python tag JSON call not offered", format: format("llama3", nil), opts: withTools,
		text: `<|python_tag|>{"name": "get_date", "parameters": {}}`,
		want: Result{Content: `<|python_tag|>{"name": "get_date", "parameters": {}}`}},
	{name: "command-r response", format: format("command-r", cohereThink), opts: noTools,
		text: "<|START_RESPONSE|>It is sunny in Paris.<|END_RESPONSE|>",
		want: Result{Content: "It is sunny in Paris."}},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.format.Parse(tc.text, tc.opts)
			checkResult(t, "whole", got, tc.want)
			for _, c := range got.Calls {
				var obj map[string]any
				if json.Unmarshal([]byte(c.Arguments), &obj) != nil {
					t.Errorf("arguments of %s are not a JSON object: %q", c.Name, c.Arguments)
				}
			}
		})
	}
}

// TestParseStreaming feeds every case split at every byte, and byte by
// byte: the deltas must add up to the same result.
func TestParseStreaming(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i <= len(tc.text); i++ {
				got := feed(tc.format, tc.opts, tc.text[:i], tc.text[i:])
				checkResult(t, "split at "+itoa(i), got, tc.want)
			}
			checkResult(t, "byte by byte", feed(tc.format, tc.opts, strings.Split(tc.text, "")...), tc.want)
		})
	}
}

// TestParseCut ends the output at every byte, as max_tokens or a client
// going away does: what was parsed must be a beginning of the whole result
// (so no markup leaks into the content or the reasoning, and no call is
// made up).
func TestParseCut(t *testing.T) {
	for _, tc := range parseCases {
		if tc.whole {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < len(tc.text); i++ {
				got := tc.format.Parse(tc.text[:i], tc.opts)
				if !strings.HasPrefix(tc.want.Content, got.Content) || !strings.HasPrefix(tc.want.Reasoning, got.Reasoning) ||
					len(got.Calls) > len(tc.want.Calls) {
					t.Fatalf("cut at %d (%q): %+v is not a beginning of %+v", i, tc.text[:i], got, tc.want)
				}
				for j, c := range got.Calls {
					w := tc.want.Calls[j]
					if c.Name != w.Name || !strings.HasPrefix(w.Arguments, c.Arguments) {
						t.Fatalf("cut at %d (%q): call %d %+v is not a beginning of %+v", i, tc.text[:i], j, c, w)
					}
				}
			}
		})
	}
}

// TestParseAnySplit is the promise of Parser checked on outputs nobody
// wrote: random strings of every family's markers, pieces of calls and
// plain text, parsed whole, byte by byte and split at random, must give
// the same result in every format. The cases above check what a result
// should be; this finds where the answer depends on how the text arrived
// (a decision taken on a piece that the rest of the text would change).
func TestParseAnySplit(t *testing.T) {
	frags := []string{"{", "}", "[", "]", ":", ",", " ", "\t", "\n", "\"", "\\", "<", "é", "hi", "a < b", "function",
		`"name"`, `"arguments"`, `"parameters"`, `"tool_name"`, `"type"`, `"function"`, `"get_time"`, `{"tz": "CET"}`,
		"get_time", "get_", "python", "tz", "3", ".call(", "x=1", ")", "```json\n", "```", "[CALL_ID]",
		// Names of tools not offered, whole and as what begins an offered one.
		"get_date", `"get_date"`, "get_times", `"get_times"`, "brave_search",
		// Arguments that break JSON.
		"tru", "Paris", `"Paris"`, "\\q", "\x01"}
	for _, name := range Names() {
		fam := families[name]
		frags = append(frags, fam.preserved...)
		frags = append(frags, fam.strip...)
	}
	for _, th := range []*tags{thinkTags, cohereThink, mistralMind} {
		frags = append(frags, th.open, th.close)
	}
	fails := 0
	for fi, name := range Names() {
		for _, think := range []*tags{nil, families[name].think, thinkTags} {
			for _, opts := range []Options{withTools, thinking, noTools} {
				f := format(name, think)
				// A third of the pieces are the format's own markers, so
				// that they meet each other often.
				own := append(slices.Clone(f.PreservedTokens()), f.family.strip...)
				rng := rand.New(rand.NewPCG(uint64(fi), uint64(len(frags))))
				for i := 0; i < 1000 && fails < 5; i++ {
					var b strings.Builder
					for j := rng.IntN(14); j >= 0; j-- {
						if rng.IntN(3) == 0 {
							b.WriteString(own[rng.IntN(len(own))])
						} else {
							b.WriteString(frags[rng.IntN(len(frags))])
						}
					}
					text := b.String()
					var bytes, pieces []string
					for i := range len(text) {
						bytes = append(bytes, text[i:i+1])
					}
					for rest := text; rest != ""; {
						n := 1 + rng.IntN(min(len(rest), 8))
						pieces = append(pieces, rest[:n])
						rest = rest[n:]
					}
					whole := f.Parse(text, opts)
					if whole.Calls == nil {
						whole.Calls = []Call{}
					}
					for _, split := range [][]string{bytes, pieces} {
						got := feed(f, opts, split...)
						how := "byte by byte"
						if len(split) < len(text) {
							how = fmt.Sprintf("in pieces %q", split)
						}
						if got.Calls == nil {
							got.Calls = []Call{}
						}
						if !reflect.DeepEqual(got, whole) {
							fails++
							t.Errorf("%s (think %v, in reasoning %v, tools %v) %q fed %s:\n  got %+v\nwhole %+v",
								name, think != nil, opts.InReasoning, opts.Tools != nil, text, how, got, whole)
							break
						}
					}
				}
			}
		}
	}
}

// feed streams pieces through a parser and checks the deltas' shape.
func feed(f Format, opts Options, pieces ...string) Result {
	p := f.NewParser(opts)
	var r Result
	for _, s := range pieces {
		r.add(p.Push(s))
	}
	r.add(p.Finish())
	return r
}

func checkResult(t *testing.T, what string, got, want Result) {
	t.Helper()
	if got.Calls == nil {
		got.Calls = []Call{}
	}
	if want.Calls == nil {
		want.Calls = []Call{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestDeltaOrder checks what a streaming client sees: a call's name comes
// before its arguments, arguments arrive in fragments while the model
// writes them, and the text before the call is sent before the call.
func TestDeltaOrder(t *testing.T) {
	p := format("hermes", nil).NewParser(withTools)
	var kinds []Kind
	var argPieces int
	for _, s := range []string{"Sure.", " <tool_", "call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": ", "\"Par", "is\"}}\n</tool_call>"} {
		for _, d := range p.Push(s) {
			if d.Kind == CallArgs {
				argPieces++
			}
			if len(kinds) == 0 || kinds[len(kinds)-1] != d.Kind {
				kinds = append(kinds, d.Kind)
			}
		}
	}
	p.Finish()
	if want := []Kind{Content, CallStart, CallArgs}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("delta kinds %v, want %v", kinds, want)
	}
	if argPieces < 3 {
		t.Errorf("arguments came in %d pieces; they should stream as written", argPieces)
	}
}
