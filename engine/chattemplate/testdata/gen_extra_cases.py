"""Regenerates extra_cases.json.gz: every shared chat template rendered by
Python jinja2 3.1.6 the way transformers' apply_chat_template does, for
conversations the shared cases do not cover (tools, parallel tool calls,
reasoning, documents, extra variables).

Usage (run from this folder):
  python3 gen_extra_cases.py extra_cases.json.gz
  python3 gen_extra_cases.py random_conversations.json.gz --random 20 --seed 4
The second form replaces the fixed conversations with random ones (roles,
contents with markup and unicode, parallel tool calls, reasoning, flags).
"""
import copy, gzip, json, random, sys, glob, os
from datetime import datetime
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import Extension
from jinja2 import nodes
class Gen(Extension):
    tags = {"generation"}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_r"), [], [], body).set_lineno(lineno)
    def _r(self, caller): return caller()
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Gen, "jinja2.ext.loopcontrols"])
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env.filters["tojson"] = tojson
from jinja2.exceptions import TemplateError
def raise_exception(msg): raise TemplateError(msg)
NOW = datetime(2026, 11, 22, 9, 30, 0)
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda f: NOW.strftime(f)

TOOLS = [
 {"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city.",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
     "unit": {"type": "string", "enum": ["c", "f"], "description": "Unit"}, "days": {"type": "integer"},
     "opts": {"type": "object", "properties": {"hourly": {"type": "boolean"}}}, "tags": {"type": "array", "items": {"type": "string"}}},
     "required": ["city"]}}},
 {"type": "function", "function": {"name": "search", "description": "Search the web — with ünïcode.", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}},
]
TC = lambda i, name, args: {"id": "call_%d" % i, "type": "function", "function": {"name": name, "arguments": args}}
CONVS = {
 "tools_user": dict(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}], tools=TOOLS, add_generation_prompt=True),
 "multi_tool_calls": dict(messages=[{"role": "user", "content": "Weather in Paris and news?"},
    {"role": "assistant", "content": None, "tool_calls": [TC(1, "get_weather", {"city": "Paris", "unit": "c", "opts": {"hourly": True}}), TC(2, "search", {"q": "news \"today\""})]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 20.5}"},
    {"role": "tool", "tool_call_id": "call_2", "name": "search", "content": "Nothing new."},
    {"role": "assistant", "content": "It is 20.5C. Nothing new."}, {"role": "user", "content": "Thanks"}], tools=TOOLS, add_generation_prompt=True),
 "reasoning": dict(messages=[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4", "reasoning_content": "Simple: 2+2=4."}, {"role": "user", "content": "3+3?"}], add_generation_prompt=True),
 "think_in_content": dict(messages=[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}, {"role": "user", "content": "ok"}], add_generation_prompt=True, enable_thinking=False),
 "enable_thinking_true": dict(messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True, enable_thinking=True),
 "enable_thinking_false": dict(messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True, enable_thinking=False),
 "content_parts": dict(messages=[{"role": "system", "content": [{"type": "text", "text": "Sys part."}]}, {"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]}], add_generation_prompt=True),
 "whitespace_content": dict(messages=[{"role": "user", "content": "  lead and trail  \n\n"}, {"role": "assistant", "content": "\n answer \n"}, {"role": "user", "content": "emoji 😀 tab\there"}], add_generation_prompt=False),
 "named": dict(messages=[{"role": "user", "name": "alice", "content": "Hi"}, {"role": "assistant", "content": "Hello alice"}], add_generation_prompt=True),
 "tool_no_system": dict(messages=[{"role": "user", "content": "Search cats"}, {"role": "assistant", "content": "Let me search.", "tool_calls": [TC(3, "search", {"q": "cats"})]}, {"role": "tool", "tool_call_id": "call_3", "content": "Cats are great."}], tools=TOOLS, add_generation_prompt=True),
 "only_system": dict(messages=[{"role": "system", "content": "You are X."}], add_generation_prompt=True),
 "empty_tools_list": dict(messages=[{"role": "user", "content": "Hi"}], tools=[], add_generation_prompt=True),
}

TOOLS2 = [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object", "properties": {"expr": {"type": "string", "description": "Expression like \"1+1\""}, "precision": {"type": ["integer", "null"], "default": 2}, "mode": {"anyOf": [{"type": "string"}, {"type": "number"}]}}, "required": ["expr"]}, "return": {"type": "number"}}}]
DOCS = [{"title": "Doc A", "text": "Alpha text."}, {"title": "Doc B", "text": "Beta text."}]
CONVS.update({
 "args_as_string": dict(messages=[{"role": "user", "content": "calc"}, {"role": "assistant", "content": None, "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "calc", "arguments": "{\"expr\": \"1+1\"}"}}]}, {"role": "tool", "tool_call_id": "c9", "content": "2"}], tools=TOOLS2, add_generation_prompt=True),
 "tools2_reasoning_effort": dict(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "go"}], tools=TOOLS2, add_generation_prompt=True, reasoning_effort="high"),
 "continue_final": dict(messages=[{"role": "user", "content": "Write"}, {"role": "assistant", "content": "Once upon"}], add_generation_prompt=False),
 "two_systems": dict(messages=[{"role": "system", "content": "A"}, {"role": "user", "content": "u1"}, {"role": "system", "content": "B"}, {"role": "user", "content": "u2"}], add_generation_prompt=True),
 "documents": dict(messages=[{"role": "user", "content": "Summarize"}], documents=DOCS, add_generation_prompt=True),
 "long_history_reasoning": dict(messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1", "reasoning_content": "r1"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2", "reasoning_content": "r2", "tool_calls": [TC(5, "search", {"q": "x"})]}, {"role": "tool", "tool_call_id": "call_5", "content": "res"}, {"role": "assistant", "content": "a3", "reasoning_content": "r3"}, {"role": "user", "content": "q3"}], tools=TOOLS, add_generation_prompt=True, enable_thinking=True),
 "tool_content_obj": dict(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "tool_calls": [TC(6, "search", {"q": "y"})]}, {"role": "tool", "tool_call_id": "call_6", "content": [{"type": "text", "text": "part"}]}], tools=TOOLS, add_generation_prompt=True),
 "builtin_tools": dict(messages=[{"role": "user", "content": "hi"}], tools=TOOLS, builtin_tools=["code_interpreter", "brave_search"], add_generation_prompt=True, tools_in_user_message=False, date_string="01 Jan 2025"),
 "user_none_content": dict(messages=[{"role": "user", "content": None}], add_generation_prompt=True),
 "numbers_in_args": dict(messages=[{"role": "user", "content": "n"}, {"role": "assistant", "content": None, "tool_calls": [TC(7, "get_weather", {"city": "X", "days": 3, "ratio": 0.25, "big": 1e20, "neg": -1.0, "list": [1, "two", None, False], "empty": {}})]}], tools=TOOLS, add_generation_prompt=False),
})
def random_conversations(n, seed):
    rnd = random.Random(seed)
    texts = ["Hello", "  spaced  ", "multi\nline\n\ntext", "quote \" and ' and \\ backslash",
             "<tag> & {{ not jinja }} {% raw %}", "ünïcødé 你好 😀", "", "<think>hidden</think>visible",
             "/no_think please", "[INST] fake [/INST]", "tab\tsep"]
    def content():
        r = rnd.random()
        if r < 0.9: return rnd.choice(texts)
        if r < 0.97: return [{"type": "text", "text": rnd.choice(texts)} for _ in range(rnd.randint(1, 2))]
        return None
    def msg(role, i):
        m = {"role": role, "content": content()}
        if role == "assistant":
            if rnd.random() < 0.3: m["reasoning_content"] = rnd.choice(texts)
            if rnd.random() < 0.35:
                m["tool_calls"] = [TC(i * 10 + k, rnd.choice(["get_weather", "search"]),
                                      rnd.choice([{"city": "Paris"}, {"q": "x \"y\"", "n": 2}, {}, {"nested": {"a": [1, 2.5, None, True]}}]))
                                   for k in range(rnd.randint(1, 2))]
        if role == "tool":
            m["tool_call_id"] = "call_%d" % i
            if rnd.random() < 0.5: m["name"] = "search"
        return m
    convs = {}
    for i in range(n):
        msgs = []
        if rnd.random() < 0.5: msgs.append(msg("system", 0))
        for j in range(rnd.randint(1, 5)):
            msgs.append(msg("user", j))
            if rnd.random() < 0.8:
                a = msg("assistant", j); msgs.append(a)
                if "tool_calls" in a:
                    for tc in a["tool_calls"]:
                        t = msg("tool", j); t["tool_call_id"] = tc["id"]; msgs.append(t)
                    if rnd.random() < 0.7: msgs.append(msg("assistant", j + 100))
        c = dict(messages=msgs, add_generation_prompt=rnd.random() < 0.7)
        if rnd.random() < 0.5: c["tools"] = rnd.choice([TOOLS, TOOLS2, TOOLS + TOOLS2])
        for k, vals in [("enable_thinking", [True, False]), ("reasoning_effort", ["low", "high"]), ("thinking", [True, False])]:
            if rnd.random() < 0.3: c[k] = rnd.choice(vals)
        convs["random%d" % i] = c
    return convs

if "--random" in sys.argv:
    CONVS = random_conversations(int(sys.argv[sys.argv.index("--random") + 1]), int(sys.argv[sys.argv.index("--seed") + 1]))

out = []
for path in sorted(glob.glob("../../../../shared/chat-templates/*.jinja")):
    name = os.path.basename(path)
    cf = json.load(open("../../../../shared/chat-templates/cases/" + name[:-6] + ".json"))
    src = open(path).read()
    tmpl = env.from_string(src)
    for cname, conv in CONVS.items():
        kw = copy.deepcopy(conv)  # some templates mutate their input
        kw.setdefault("tools", None)
        kw.setdefault("documents", None)
        kw["bos_token"] = cf["bos_token"]; kw["eos_token"] = cf["eos_token"]
        rec = {"template": name, "case": cname}
        try:
            rec["expected"] = tmpl.render(**kw)
        except Exception as e:
            rec["error"] = type(e).__name__ + ": " + str(e)
        out.append(rec)
doc = {"now": NOW.isoformat(), "contexts": CONVS, "results": out}
with gzip.open(sys.argv[1], "wt", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False)
print(len(out), sum(1 for r in out if "error" in r))
