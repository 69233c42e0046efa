package jinja

// Code generated from Python jinja2 3.1.6 with transformers' settings
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
// transformers' tojson); edit by regenerating, not by hand.

var referenceVars = `{"xs": [1, 2, 3], "d": {"b": 1, "a": 2}, "s": "  Héllo World  ", "n": null, "t": true, "f": 1.5, "words": ["b", "A", "c", "a"], "msgs": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1, "y": "ü<&>'"}}}]}], "nested": {"a": {"b": {"c": 5}}, "l": [[1, 2], [3, 4]]}, "empty": [], "es": ""}`

var referenceCases = []referenceCase{
	{name: "ws_trim_blocks", src: `{% if t %}
yes
{% endif %}
after`, want: `yes
after`},
	{name: "ws_lstrip", src: `a
    {% if t %}
    x
    {% endif %}
b`, want: `a
    x
b`},
	{name: "ws_lstrip_var_not", src: `a
    {{ 1 }}
b`, want: `a
    1
b`},
	{name: "ws_minus", src: `a   {%- if t -%}   b   {%- endif -%}   c`, want: `abc`},
	{name: "ws_var_minus", src: `a 
 {{- 1 -}} 
 b`, want: `a1b`},
	{name: "ws_plus", src: `a
    {%+ if t %}x{% endif %}
`, want: `a
    x`},
	{name: "ws_plus_end", src: `{% if t +%}
x{% endif %}`, want: `
x`},
	{name: "ws_comment", src: `a
  {# c #}
b {#- x -#}  c`, want: `a
bc`},
	{name: "ws_comment_trim", src: `{# c #}
line`, want: `line`},
	{name: "ws_trailing_newline", src: `x
`, want: `x`},
	{name: "ws_two_trailing", src: `x

`, want: `x
`},
	{name: "ws_crlf", src: "a\r\nb\r\n", want: `a
b`},
	{name: "ws_raw", src: `{% raw %}{{ x }}{% endraw %}`, want: `{{ x }}`},
	{name: "ws_raw_strip", src: `a {%- raw -%} {{ x }} {%- endraw -%} b`, want: `a{{ x }}b`},
	{name: "ws_line_start_after_tag", src: `{% for x in xs %}
  {% if x %}{{ x }}{% endif %}
{% endfor %}`, want: `123`},
	{name: "ws_tab_lstrip", src: `	{% if t %}x{% endif %}`, want: `x`},
	{name: "ws_text_before_tag_same_line", src: `ab  {% if t %}x{% endif %}`, want: `ab  x`},
	{name: "lit_repr", src: `{{ [1, 'a', "b'c", none, true, 1.5, (1,), (1, 2), {'k': [1]}] }}`, want: `[1, 'a', "b'c", None, True, 1.5, (1,), (1, 2), {'k': [1]}]`},
	{name: "lit_floats", src: `{{ 1.0 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1.5e-7 }} {{ 3.14159 }} {{ -0.0 }} {{ 1/3 }} {{ 2.5e3 }}`, want: `1.0 1e+20 1e+16 1000000000000000.0 0.0001 1e-05 1.5e-07 3.14159 -0.0 0.3333333333333333 2500.0`},
	{name: "lit_escapes", src: `{{ 'a\nb\tc\\d\'e\u00e9\x41' }}`, want: `a
b	c\d'eéA`},
	{name: "lit_concat_strings", src: `{{ 'a' 'b' "c" }}`, want: `abc`},
	{name: "lit_bools", src: `{{ True }} {{ false }} {{ None }} {{ none }}`, want: `True False None None`},
	{name: "lit_dict_order", src: `{{ {'z': 1, 'a': 2} }}`, want: `{'z': 1, 'a': 2}`},
	{name: "print_nested", src: `{{ nested }}`, want: `{'a': {'b': {'c': 5}}, 'l': [[1, 2], [3, 4]]}`},
	{name: "print_str_repr_quotes", src: `{{ ['it\'s', 'say "hi"', 'both \' "', 'nl\n'] }}`, want: `["it's", 'say "hi"', 'both \' "', 'nl\n']`},
	{name: "lit_underscore_int", src: `{{ 1_000 }}`, want: `1000`},
	{name: "arith", src: `{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 1.5 }} {{ 3 * 'ab' }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 7.5 // 2 }} {{ -2 ** 2 }}`, want: `3.5 3 -4 1 2 1024 0.5 2.5 ababab [1, 1] [1, 2] 3.0 4`},
	{name: "arith_mixed_err", src: `{{ 1 + 'a' }}`, err: `TypeError: unsupported operand type(s) for +: 'int' and 'str'`},
	{name: "concat_tilde", src: `{{ 1 ~ 'a' ~ none ~ true ~ [1] }}`, want: `1aNoneTrue[1]`},
	{name: "div_zero", src: `{{ 1 / 0 }}`, err: `ZeroDivisionError: division by zero`},
	{name: "unary", src: `{{ -xs[0] }} {{ +1 }} {{ not t }} {{ -1|abs }}`, want: `-1 1 False 1`},
	{name: "str_mod", src: `{{ '%s-%d-%05.2f-%r' % ('a', 3, 1.5, 'q') }} {{ '%s' % xs }} {{ '%(a)s' % {'a': 1} }}`, want: `a-3-01.50-'q' [1, 2, 3] 1`},
	{name: "compare", src: `{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ 1 != 2 }} {{ true == 1 }} {{ none == none }} {{ 'a' in 'abc' }} {{ 2 not in xs }} {{ 'a' in d }} {{ 1 in d }}`, want: `True True True True True True True True False True False`},
	{name: "compare_err", src: `{{ 1 < 'a' }}`, err: `TypeError: '<' not supported between instances of 'int' and 'str'`},
	{name: "logic_values", src: `{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ '' and 1 }}`, want: `x y [] `},
	{name: "condexpr", src: `{{ 'a' if t else 'b' }} {{ 'a' if not t else 'b' }} {{ ('x' if t else '') ~ 'y' }} [{{ 'a' if false }}]`, want: `a b xy []`},
	{name: "condexpr_nested", src: `{{ 1 if false else 2 if false else 3 }}`, want: `3`},
	{name: "attr_item", src: `{{ d.a }} {{ d['b'] }} {{ nested.a.b.c }} {{ nested['l'][1][0] }} {{ nested.l.0 }} {{ xs[-1] }} {{ msgs[0].role }}`, want: `2 1 5 3 [1, 2] 3 system`},
	{name: "attr_missing", src: `[{{ d.zz }}] {{ d.zz is defined }} {{ msgs[0].tool_calls is defined }}`, want: `[] False False`},
	{name: "attr_of_undefined_err", src: `{{ zz.foo }}`, err: `UndefinedError: 'zz' is undefined`},
	{name: "item_of_undefined_err", src: `{{ zz['foo'] }}`, err: `UndefinedError: 'zz' is undefined`},
	{name: "attr_of_none", src: `[{{ n.foo }}] {{ n.foo is defined }}`, want: `[] False`},
	{name: "index_out_of_range", src: `[{{ xs[10] }}]`, want: `[]`},
	{name: "undefined_print", src: `[{{ zz }}] {{ zz is defined }} {{ zz is undefined }} {{ zz|length }} {{ zz|default('dflt') }}`, want: `[] False True 0 dflt`},
	{name: "undefined_iter", src: `{% for x in zz %}{{ x }}{% else %}empty{% endfor %}`, want: `empty`},
	{name: "undefined_arith_err", src: `{{ zz + 1 }}`, err: `UndefinedError: 'zz' is undefined`},
	{name: "undefined_call_err", src: `{{ zz() }}`, err: `UndefinedError: 'zz' is undefined`},
	{name: "undefined_eq", src: `{{ zz == none }} {{ zz != 1 }}`, want: `False True`},
	{name: "str_index", src: `{{ s[2] }} {{ s[-3] }} {{ 'héllo'[1] }}`, want: `H d é`},
	{name: "slice", src: `{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ s[2:7] }} {{ 'héllo'[::-1] }} {{ xs[-2:] }} {{ xs[5:] }} {{ xs[1:2:] }} {{ msgs[1:][0].role }}`, want: `[2, 3] [1, 2] [3, 2, 1] [1, 3] Héllo olléh [2, 3] [] [2] user`},
	{name: "slice_neg_step", src: `{{ xs[2:0:-1] }} {{ xs[-1:-4:-1] }} {{ (1,2,3)[1:] }}`, want: `[3, 2] [3, 2, 1] (2, 3)`},
	{name: "tests", src: `{{ s is string }} {{ d is mapping }} {{ xs is sequence }} {{ xs is iterable }} {{ 1 is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ 1 is float }} {{ t is boolean }} {{ 1 is boolean }} {{ n is none }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'a' is equalto 'a' }} {{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ t is true }} {{ t is false }} {{ d is not mapping }} {{ s is not none }}`, want: `True True True True True True True False True False True True True True False True True True True True True False False True`},
	{name: "tests_more", src: `{{ xs.append is callable }} {{ range is callable }} {{ 'a' is in 'abc' }} {{ 2 is gt 1 }} {{ 2 is lt 1 }} {{ n is sameas none }} {{ d is iterable }} {{ 1 is iterable }} {{ s is sequence }} {{ xs is mapping }}`, want: `True True True True False True True False True False`},
	{name: "test_unknown_err", src: `{{ 1 is frobnicated }}`, err: `TemplateAssertionError: No test named 'frobnicated'.`},
	{name: "not_is", src: `{{ not n is none }} {{ not zz is defined }}`, want: `False True`},
	{name: "f_trim", src: `[{{ s|trim }}] [{{ 'xxhixx'|trim('x') }}] [{{ zz|trim }}]`, want: `[Héllo World] [hi] []`},
	{name: "f_case", src: `{{ s|upper }} {{ s|lower }} {{ 'hello wORLD-foo (bar)'|title }} {{ 'hELLO world'|capitalize }}`, want: `  HÉLLO WORLD     héllo world   Hello World-Foo (Bar) Hello world`},
	{name: "f_length", src: `{{ xs|length }} {{ d|length }} {{ 'héllo'|length }} {{ xs|count }}`, want: `3 2 5 3`},
	{name: "f_first_last", src: `{{ xs|first }} {{ xs|last }} {{ 'abc'|first }} [{{ empty|first }}] {{ d|first }}`, want: `1 3 a [] b`},
	{name: "f_join", src: `{{ xs|join(', ') }} {{ words|join }} {{ msgs|join(',', attribute='role') }} {{ d|join('-') }}`, want: `1, 2, 3 bAca system,user,assistant b-a`},
	{name: "f_default", src: `{{ zz|default('a') }} {{ ''|default('b') }} {{ ''|default('b', true) }} {{ none|default('c') }} {{ zz|d('e') }} {{ 0|default(5, boolean=true) }}`, want: `a  b None e 5`},
	{name: "f_replace", src: `{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 1|replace('1','2') }}`, want: `bbb bba 2`},
	{name: "f_list", src: `{{ 'abc'|list }} {{ d|list }} {{ xs|list }}`, want: `['a', 'b', 'c'] ['b', 'a'] [1, 2, 3]`},
	{name: "f_tojson", src: `{{ msgs|tojson }}`, want: `[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1, "y": "ü<&>'"}}}]}]`},
	{name: "f_tojson_indent", src: `{{ nested|tojson(indent=2) }} {{ empty|tojson(indent=2) }} {{ {}|tojson(indent=4) }}`, want: `{
  "a": {
    "b": {
      "c": 5
    }
  },
  "l": [
    [
      1,
      2
    ],
    [
      3,
      4
    ]
  ]
} [] {}`},
	{name: "f_tojson_opts", src: `{{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ 'é\n"<>&\''|tojson }} {{ [1.0, 1e20, none, true]|tojson }} {{ 'é'|tojson(ensure_ascii=true) }}`, want: `{"a": 2, "b": 1} {"b":1,"a":2} "é\n\"<>&'" [1.0, 1e+20, null, true] "\u00e9"`},
	{name: "f_tojson_undefined_err", src: `{{ zz|tojson }}`, err: `TypeError: Object of type Undefined is not JSON serializable`},
	{name: "f_string_int_float", src: `{{ 1|string ~ 'x' }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '1.5'|float }} {{ 2|float }} {{ 'q'|float }} {{ xs|string }}`, want: `1x 43 4 0 7 3 1.5 2.0 0.0 [1, 2, 3]`},
	{name: "f_round_abs", src: `{{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ -3|abs }} {{ -2.5|abs }} {{ 5|round }}`, want: `2.0 4.0 2.57 3.0 2.0 3 2.5 5`},
	{name: "f_items", src: `{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}`, want: `b=1;a=2; b=1;a=2;`},
	{name: "f_dictsort", src: `{{ d|dictsort }} {{ d|dictsort(by='value') }} {{ d|dictsort(reverse=true) }}`, want: `[('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('b', 1), ('a', 2)]`},
	{name: "f_select", src: `{{ msgs|selectattr('role', 'equalto', 'user')|list }} {{ msgs|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }} {{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }} {{ msgs|selectattr('tool_calls')|list|length }} {{ msgs|selectattr('tool_calls', 'defined')|list|length }}`, want: `[{'role': 'user', 'content': 'hi'}] ['system', 'assistant'] [1, 3] [2] [1, 'a'] 1 1`},
	{name: "f_map", src: `{{ xs|map('string')|join('+') }} {{ msgs|map(attribute='role')|join }} {{ msgs|map(attribute='name', default='anon')|list }} {{ ['a','b']|map('upper')|list }} {{ nested.l|map('first')|list }}`, want: `1+2+3 systemuserassistant ['anon', 'anon', 'anon'] ['A', 'B'] [1, 3]`},
	{name: "f_unique_sort_reverse", src: `{{ [3, 1, 3, 2]|unique|list }} {{ words|sort }} {{ words|sort(case_sensitive=true) }} {{ words|sort(reverse=true) }} {{ msgs|sort(attribute='role')|map(attribute='role')|list }} {{ xs|reverse|list }} {{ 'abc'|reverse }} {{ words|unique|list }}`, want: `[3, 1, 2] ['A', 'a', 'b', 'c'] ['A', 'a', 'b', 'c'] ['c', 'b', 'A', 'a'] ['assistant', 'system', 'user'] [3, 2, 1] cba ['b', 'A', 'c']`},
	{name: "f_batch", src: `{{ xs|batch(2)|list }} {{ xs|batch(2, 'x')|list }}`, want: `[[1, 2], [3]] [[1, 2], [3, 'x']]`},
	{name: "f_indent", src: `{{ 'a\nb\n\nc'|indent }} | {{ 'a\nb'|indent(2, true) }} | {{ 'a\n\nb'|indent(2, blank=true) }} | {{ 'a\nb'|indent('>>') }}`, want: `a
    b

    c |   a
  b | a
  
  b | a
>>b`},
	{name: "f_center_safe_escape", src: `[{{ 'ab'|center(7) }}] {{ '<a href="x">&\'</a>'|e }} {{ '<b>'|safe }} {{ '<i>'|escape }}`, want: `[   ab  ] &lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt; <b> &lt;i&gt;`},
	{name: "f_wordcount_minmax_sum", src: `{{ 'hello big  world'|wordcount }} {{ xs|min }} {{ xs|max }} {{ xs|sum }} {{ words|min }} {{ msgs|map(attribute='role')|max }}`, want: `3 1 3 6 A user`},
	{name: "f_filter_unknown_err", src: `{{ 1|nosuchfilter }}`, err: `TemplateAssertionError: No filter named 'nosuchfilter'.`},
	{name: "f_filter_chain_args", src: `{{ s|trim|replace('World', 'There')|upper }}`, want: `HÉLLO THERE`},
	{name: "f_format", src: `{{ '%s=%d'|format('a', 3) }}`, want: `a=3`},
	{name: "f_length_err", src: `{{ 5|length }}`, err: `TypeError: object of type 'int' has no len()`},
	{name: "f_generator_tojson_err", src: `{{ xs|map('string')|tojson }}`, err: `TypeError: Object of type generator is not JSON serializable`},
	{name: "f_generator_len_err", src: `{{ xs|select('odd')|length }}`, err: `TypeError: object of type 'generator' has no len()`},
	{name: "f_generator_once", src: `{% set g = xs|map('string') %}{{ g|join }}|{{ g|join }}`, want: `123|`},
	{name: "f_generator_truthy", src: `{{ 'yes' if empty|select else 'no' }}`, want: `yes`},
	{name: "m_strip", src: `[{{ s.strip() }}] [{{ s.lstrip() }}] [{{ s.rstrip() }}] [{{ 'xxaxx'.strip('x') }}] [{{ '\n a \n'.strip() }}]`, want: `[Héllo World] [Héllo World  ] [  Héllo World] [a] [a]`},
	{name: "m_split", src: `{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ' a b c '.split(none, 1) }} {{ 'a b c'.rsplit(none, 1) }} {{ ''.split(',') }} {{ ''.split() }}`, want: `['a', 'b', '', 'c'] ['a', 'b', 'c'] ['a', 'b,c'] ['a,b', 'c'] ['a', 'b c '] ['a b', 'c'] [''] []`},
	{name: "m_startswith", src: `{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.endswith(('x', 'y')) }}`, want: `True True True False`},
	{name: "m_misc_str", src: `{{ 'a-b'.replace('-', '+') }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'ab cd'.title() }} {{ 'ab CD'.capitalize() }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'a\nb\r\nc'.splitlines() }} {{ '123'.isdigit() }} {{ 'a1'.isdigit() }} {{ '{} is {x}'.format(1, x=2) }} {{ 'héllo'.find('l') }}`, want: `a+b AB ab Ab Cd Ab cd 2 3 -1 2 a-b ['a', 'b', 'c'] True False 1 is 2 2`},
	{name: "m_dict", src: `{{ d.keys() }} {{ d.values() }} {{ d.items() }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 9) }} {{ d.items()|list }} {{ d.keys()|list|length }}`, want: `dict_keys(['b', 'a']) dict_values([1, 2]) dict_items([('b', 1), ('a', 2)]) 2 None 9 [('b', 1), ('a', 2)] 2`},
	{name: "m_list", src: `{{ xs.index(2) }} {{ xs.count(1) }}`, want: `1 1`},
	{name: "m_append_err", src: `{% set l = [] %}{{ l.append(1) }}`, err: `SecurityError: access to attribute 'append' of 'list' object is unsafe.`},
	{name: "m_pop_err", src: `{{ d.pop('a') }}`, err: `SecurityError: access to attribute 'pop' of 'dict' object is unsafe.`},
	{name: "m_update_err", src: `{% set x = d.update({'c': 1}) %}`, err: `SecurityError: access to attribute 'update' of 'dict' object is unsafe.`},
	{name: "m_unknown_str_attr", src: `[{{ 'a'.nope }}]`, want: `[]`},
	{name: "m_unknown_call_err", src: `{{ 'a'.nope() }}`, err: `UndefinedError: 'str object' has no attribute 'nope'`},
	{name: "for_loop_vars", src: `{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}`, want: `1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|`},
	{name: "for_prev_next", src: `{% for x in xs %}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }} {% endfor %}`, want: `-2 13 2- `},
	{name: "for_else", src: `{% for x in empty %}x{% else %}none{% endfor %}`, want: `none`},
	{name: "for_filter", src: `{% for x in xs if x != 2 %}{{ x }}{{ loop.index }}{{ loop.length }}{% endfor %}`, want: `112322`},
	{name: "for_unpack", src: `{% for a, b in nested.l %}{{ a }}{{ b }}{% endfor %}`, want: `1234`},
	{name: "for_dict", src: `{% for k in d %}{{ k }}{% endfor %}`, want: `ba`},
	{name: "for_string", src: `{% for ch in 'héy' %}{{ ch }}.{% endfor %}`, want: `h.é.y.`},
	{name: "for_break_continue", src: `{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}end`, want: `1end`},
	{name: "for_nested_loop", src: `{% for a in xs %}{% for b in xs %}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}`, want: `1231;1232;1233;`},
	{name: "for_scope", src: `{% set x = 0 %}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }}`, want: `0`},
	{name: "for_scope_iter", src: `{% for i in xs %}{% if loop.first %}{% set y = 5 %}{% endif %}{{ y }},{% endfor %}`, want: `5,,,`},
	{name: "for_none_err", src: `{% for x in n %}{% endfor %}`, err: `TypeError: 'NoneType' object is not iterable`},
	{name: "for_cycle", src: `{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}`, want: `aba`},
	{name: "for_recursive", src: `{% for item in [[1, [2, 3]], 4] recursive %}{% if item is iterable %}[{{ loop(item) }}]{% else %}{{ item }}{{ loop.depth }}{% endif %}{% endfor %}`, want: `[12[2333]]41`},
	{name: "for_loop_changed", src: `{% for x in [1,1,2] %}{{ loop.changed(x) }}{% endfor %}`, want: `TrueFalseTrue`},
	{name: "if_elif", src: `{% for v in [1, 2, 3] %}{% if v == 1 %}a{% elif v == 2 %}b{% else %}c{% endif %}{% endfor %}`, want: `abc`},
	{name: "set_tuple", src: `{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}`, want: `12(1, 2)`},
	{name: "set_block", src: `{% set x %}
  hi {{ 1 }}
{% endset %}[{{ x }}]`, want: `[  hi 1
]`},
	{name: "set_block_filter", src: `{% set x | upper %}hi{% endset %}{{ x }}`, want: `HI`},
	{name: "namespace", src: `{% set ns = namespace(a=1, b=[]) %}{% for x in xs %}{% set ns.a = ns.a + x %}{% set ns.b = ns.b + [x] %}{% endfor %}{{ ns.a }} {{ ns.b }}`, want: `7 [1, 2, 3]`},
	{name: "namespace_err", src: `{% set x = 1 %}{% set x.a = 2 %}`, err: `TemplateRuntimeError: cannot assign attribute on non-namespace object`},
	{name: "macro", src: `{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('a') }} {{ greet('b', 'Hi') }} {{ greet(greeting='Yo', name='c') }}`, want: `Hello, a! Hi, b! Yo, c!`},
	{name: "macro_varargs", src: `{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}`, want: `1(2, 3){'x': 4}`},
	{name: "macro_closure", src: `{% set g = 'G' %}{% macro m() %}{{ g }}{% endmacro %}{% set g = 'H' %}{{ m() }}`, want: `H`},
	{name: "macro_recursive", src: `{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro %}{{ fact(4) }}`, want: `4*3*2*1`},
	{name: "macro_ws", src: `{%- macro m(x) -%}
  [{{ x }}]
{%- endmacro -%}
{{ m(1) }}
{{ m(2) }}`, want: `[1]
[2]`},
	{name: "call_block", src: `{% macro wrap(t) %}<{{ t }}>{{ caller() }}</{{ t }}>{% endmacro %}{% call wrap('b') %}inner{% endcall %}`, want: `<b>inner</b>`},
	{name: "call_block_args", src: `{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each(xs) %}[{{ x }}]{% endcall %}`, want: `[1][2][3]`},
	{name: "filter_block", src: `{% filter upper %}abc {{ 'd' }}{% endfilter %}`, want: `ABC D`},
	{name: "generation_block", src: `{% generation %}x{% endgeneration %}`, want: `x`},
	{name: "raise", src: `{{ raise_exception('boom') }}`, err: `TemplateError: boom`},
	{name: "range", src: `{{ range(3)|list }} {{ range(1, 10, 3)|list }} {% for i in range(2) %}{{ i }}{% endfor %} {{ range(3)|length }} {{ range(5)[-1] }}`, want: `[0, 1, 2] [1, 4, 7] 01 3 4`},
	{name: "dict_global", src: `{{ dict(a=1, b=2) }} {{ dict(a=1, b=2)|tojson }}`, want: `{'a': 1, 'b': 2} {"a": 1, "b": 2}`},
	{name: "syntax_err_line", src: `line1
{% if %}
`, err: `TemplateSyntaxError: Expected an expression, got 'end of statement block'`},
	{name: "syntax_unclosed", src: `{% if t %}x`, err: `TemplateSyntaxError: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.`},
	{name: "syntax_unknown_tag", src: `{% frob %}`, err: `TemplateSyntaxError: Encountered unknown tag 'frob'.`},
	{name: "syntax_bad_expr", src: `{{ 1 + }}`, err: `TemplateSyntaxError: unexpected 'end of print statement'`},
	{name: "dict_literal_in_tag", src: `{{ {'a': {'b': 1}} }}`, want: `{'a': {'b': 1}}`},
	{name: "test_arg_no_parens_in", src: `{{ 'a' if n is none else 'b' }}`, want: `a`},
	{name: "tuple_print", src: `{{ 1, 2 }}`, want: `(1, 2)`},
	{name: "is_defined_attr_chain", src: `{{ msgs[2].tool_calls[0].function.arguments|tojson }}`, want: `{"x": 1, "y": "ü<&>'"}`},
	{name: "tools_style", src: `{%- for m in msgs -%}
{%- if m.content is string -%}
{{ m.role }}: {{ m.content }}
{% endif -%}
{%- endfor -%}`, want: `system: sys
user: hi
assistant: yo
`},
	{name: "items_of_none_err", src: `{% for k, v in n.items() %}{% endfor %}`, err: `UndefinedError: 'None' has no attribute 'items'`},
	{name: "string_multiplication", src: `{{ '=' * 3 }}`, want: `===`},
	{name: "loop_outside_err", src: `{{ loop.index }}`, err: `UndefinedError: 'loop' is undefined`},
	{name: "neg_index_slice_str", src: `{{ 'abc'[-1] }}{{ 'abc'[:-1] }}`, want: `cab`},
	{name: "none_attr_call_err", src: `{{ n.strip() }}`, err: `UndefinedError: 'None' has no attribute 'strip'`},
	{name: "nested_ternary_paren", src: `{{ (('a' if t else 'b') ~ 'c') if t else 'd' }}`, want: `ac`},
	{name: "float_int_eq_in", src: `{{ 1.0 in xs }} {{ xs[0] == 1.0 }}`, want: `True True`},
	{name: "bool_arith", src: `{{ true + 1 }} {{ true * 2.0 }}`, want: `2 2.0`},
	{name: "dict_bool_keys", src: `{{ {1: 'a', 1.0: 'b', 'x': 1} }}`, want: `{1: 'b', 'x': 1}`},
	{name: "pow_assoc", src: `{{ 2 ** 3 ** 2 }}`, want: `64`},
	{name: "filter_precedence", src: `{{ -1|abs }} {{ 'a' ~ 'b'|upper }} {{ 1 + 2|string }}`, err: `TypeError: unsupported operand type(s) for +: 'int' and 'str'`},
	{name: "markup_ops", src: `{{ ('<' ~ 'a')|e }} {{ '<'|e ~ '<' }} {{ '<'|safe ~ '<' }} {{ '<a>'|e|e }} {{ '<'|e + '<' }} {{ ['<'|e, '<']|join }} {{ '<'|e|upper }} {{ '<' + '<'|safe }}`, want: `&lt;a &lt;< << &lt;a&gt; &lt;&lt; &lt;< &LT; &lt;<`},
	{name: "markup_tojson_concat", src: `{{ "use '"|safe + '<b>' + "'\n"|safe + {'a': '<&>'}|tojson }}`, want: `use '&lt;b&gt;'
{&#34;a&#34;: &#34;&lt;&amp;&gt;&#34;}`},
	{name: "markup_percent", src: `{{ '%s|%s'|safe % ('<', 1) }} {{ ('<'|safe) is string }} {{ '<'|safe|length }}`, want: `&lt;|1 True 1`},
	{name: "markup_macro", src: `{% macro m() %}<{% endmacro %}{{ m() ~ '<' }} {{ m()|e }} {{ m() + '<' }}`, want: `<< &lt; <<`},
	{name: "scope_outer_then_set", src: `{% set x = 1 %}{% for i in xs %}{{ x }}{% set x = i %}{{ x }};{% endfor %}{{ x }}`, want: `11;12;13;1`},
	{name: "scope_if", src: `{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}`, want: `2`},
	{name: "scope_macro", src: `{% macro m() %}{% set x = 5 %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{{ x }}`, want: `51`},
	{name: "scope_loop_leak", src: `{% for i in xs %}{% set ns = namespace(a=i) %}{% endfor %}{{ ns is defined }}`, want: `False`},
	{name: "shadow_global", src: `{% set msgs = xs %}{{ msgs }}`, want: `[1, 2, 3]`},
	{name: "nested_break", src: `{% for x in xs %}{% for y in xs %}{% if y == 2 %}{% break %}{% endif %}{{ x }}{{ y }} {% endfor %}{% endfor %}`, want: `11 21 31 `},
	{name: "sameas_list", src: `{% set a = [] %}{% set b = a %}{{ a is sameas b }} {{ [] is sameas [] }}`, want: `True False`},
	{name: "in_none_err", src: `{{ 'a' in n }}`, err: `TypeError: argument of type 'NoneType' is not iterable`},
	{name: "loop_in_macro_in_loop", src: `{% macro m(l) %}{% for x in l %}{{ loop.index }}{% endfor %}{% endmacro %}{% for y in xs %}{{ m(xs) }}{{ loop.index }} {% endfor %}`, want: `1231 1232 1233 `},
	{name: "set_ns_in_macro", src: `{% set ns = namespace(c=0) %}{% macro inc() %}{% set ns.c = ns.c + 1 %}{% endmacro %}{{ inc() }}{{ inc() }}{{ ns.c }}`, want: `2`},
	{name: "string_compare_unicode", src: `{{ 'é' > 'z' }} {{ ['b', 'é', 'a']|sort }}`, want: `True ['a', 'b', 'é']`},
	{name: "int_float_print", src: `{{ 10 / 5 }} {{ 2 * 3 }} {{ 2 * 3.0 }} {{ 10 // 2.0 }} {{ 2 ** 0.5 }}`, want: `2.0 6 6.0 5.0 1.4142135623730951`},
	{name: "big_json", src: `{{ {'a': [1, {'b': [true, none, 'x']}], 'c': {}}|tojson(indent=2, sort_keys=true) }}`, want: `{
  "a": [
    1,
    {
      "b": [
        true,
        null,
        "x"
      ]
    }
  ],
  "c": {}
}`},
	{name: "tojson_positional_indent_err", src: `{{ xs|tojson(2) }}`, want: `[1, 2, 3]`},
	{name: "dict_get_attr_vs_key", src: `{% set dd = {'items': 1, 'get': 2} %}{{ dd['items'] }} {{ dd.get('items') }}`, want: `1 1`},
	{name: "trailing_text_comments", src: `a{# one #}b{#- two -#} c {# three #}
`, want: `abc `},
	{name: "deep_whitespace", src: `<s>
{%- for m in msgs %}
  {%- if m.role == 'user' %}
    [U] {{ m.content }}
  {%- elif m.role == 'assistant' %}
    [A] {{ m.content }}
  {%- endif %}
{% endfor %}
</s>
`, want: `<s>    [U] hi    [A] yo</s>`},
	{name: "with_block", src: `{% with a = 1, b = xs %}{{ a }}{{ b }}{% endwith %}[{{ a }}]`, want: `1[1, 2, 3][]`},
	{name: "with_scope", src: `{% with %}{% set q = 1 %}{{ q }}{% endwith %}[{{ q }}]`, want: `1[]`},
	{name: "joiner", src: `{% set j = joiner(', ') %}{% for x in xs %}{{ j() }}{{ x }}{% endfor %}`, want: `1, 2, 3`},
	{name: "cycler", src: `{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}`, want: `abab`},
	{name: "octal_escape", src: `{{ '\101\x41\0' | length }}{{ '\101' }}`, want: `3A`},
	{name: "title_lt", src: `{{ 'a<b c'|title }}`, want: `A<B C`},
	{name: "dict_unsafe_key", src: `{% set dd = {'pop': 1} %}[{{ dd.pop }}]{{ dd['pop'] }}`, want: `[]1`},
	{name: "unpack_too_many_err", src: `{% set a, b = xs %}`, err: `ValueError: too many values to unpack (expected 2)`},
	{name: "lazy_generator_truthy", src: `{{ not (1|select) }} {{ 'y' if (1|map('string')) else 'n' }}`, want: `False y`},
	{name: "lazy_generator_err", src: `{{ 1|select|list }}`, err: `TypeError: 'int' object is not iterable`},
	{name: "int_times_seq", src: `{{ -3 * xs }} {{ 2 * xs }} {{ true * 'ab' }} {{ 2 * (1,) }}`, want: `[] [1, 2, 3, 1, 2, 3] ab (1, 1)`},
	{name: "float_floordiv", src: `{{ 1.0 // 0.1 }} {{ -7.5 // 2 }} {{ 7 // -2.0 }} {{ 0.0 // 3 }}`, want: `9.0 -4.0 -4.0 0.0`},
	{name: "odd_even_float", src: `{{ 2.5 is even }} {{ 3.0 is odd }} {{ 4.5 is divisibleby 1.5 }}`, want: `False True True`},
	{name: "round_bool", src: `{{ true|round }} {{ false|round(2) }}`, want: `1 0`},
	{name: "indent_nonstring_err", src: `{{ xs|indent }}`, err: `AttributeError: 'list' object has no attribute 'splitlines'`},
	{name: "safe_nonstring", src: `{{ (xs|safe) ~ '' }} {{ none|safe }} {{ xs|safe|length }}`, want: `[1, 2, 3] None 9`},
	{name: "percent_list_arg", src: `{{ 'abc' % xs }} {{ '%s' % xs }} {{ 'x' % d }}`, want: `abc [1, 2, 3] x`},
	{name: "zero_neg_pow_err", src: `{{ 0.0 ** -1 }}`, err: `ZeroDivisionError: 0.0 cannot be raised to a negative power`},
	{name: "items_undefined_truthy", src: `{{ 'yes' if zz|items else 'no' }}`, want: `yes`},
	{name: "in_unhashable_err", src: `{{ {} in d }}`, err: `TypeError: unhashable type: 'dict'`},
	{name: "unique_generator_len_err", src: `{{ xs|unique|length }}`, err: `TypeError: object of type 'generator' has no len()`},
	{name: "neg_const_pow_quirk", src: `{% set x = 2 %}{{ -2 ** x }} {{ -2 ** 2 }} {{ (-2) ** x }} {{ -2.0 ** x }} {{ x ** -1 }} {{ -x ** 2 }} {{ -1 * -2 ** x }} {{ -3|round ** x }}`, want: `-4 4 -4 -4.0 0.5 4 4 -9`},
	{name: "undefined_int_err", src: `{{ zz|int }}`, err: `UndefinedError: 'zz' is undefined`},
	{name: "undefined_float_err", src: `{{ zz|float }}`, err: `UndefinedError: 'zz' is undefined`},
	{name: "last_generator_err", src: `{{ xs|select|last }}`, err: `TypeError: 'generator' object is not reversible`},
	{name: "in_dict_hashables", src: `{{ (1, 2) in d }} {{ (xs|select) in d }}`, want: `False False`},
	{name: "str_mod_undefined", src: `[{{ 'abc' % zz }}] [{{ '%s' % zz }}]`, want: `[abc] []`},
	{name: "for_else_after_break_first", src: `{% for x in xs %}{% break %}{% else %}E{% endfor %}`, want: `E`},
	{name: "for_else_after_break_later", src: `{% for x in xs %}{% if x == 2 %}{% break %}{% endif %}{% else %}E{% endfor %}`, want: ``},
	{name: "for_else_all_continue", src: `{% for x in xs %}{% continue %}{% else %}E{% endfor %}`, want: `E`},
	{name: "break_outside_loop_err", src: `{% break %}`, err: `SyntaxError: 'break' outside loop (<template>, line 11)`},
	{name: "break_in_macro_err", src: `{% for x in xs %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}`, err: `SyntaxError: 'break' outside loop (<template>, line 19)`},
	{name: "break_in_else_err", src: `{% for x in xs %}{% else %}{% continue %}{% endfor %}`, err: `SyntaxError: 'continue' not properly in loop (<template>, line 20)`},
	{name: "break_in_set_block", src: `{% for x in xs %}{% set q %}a{% break %}{% endset %}{{ x }}{% endfor %}[{{ q }}]`, want: `[]`},
	{name: "set_block_scope", src: `{% set a = 0 %}{% set b %}{% set a = 1 %}{{ a }}{% endset %}{{ a }}{{ b }}`, want: `01`},
	{name: "filter_block_scope", src: `{% set a = 0 %}{% filter upper %}{% set a = 1 %}x{{ a }}{% endfilter %}{{ a }}`, want: `X10`},
	{name: "macro_local_shadow", src: `{% set a = 1 %}{% macro m() %}[{{ a }}]{% set a = 2 %}[{{ a }}]{% endmacro %}{{ m() }}`, want: `[1][2]`},
	{name: "loop_if_set", src: `{% set a = 1 %}{% for i in xs %}{% if i == 1 %}{% set a = 5 %}{% endif %}{{ a }}{% endfor %}`, want: `511`},
	{name: "loop_set_no_leak", src: `{% for i in xs %}{% set a = i %}{% endfor %}[{{ a }}]`, want: `[]`},
	{name: "nested_loop_set", src: `{% set a = 1 %}{% for i in xs %}{% for j in [0] %}{% set a = i %}{% endfor %}{{ a }}{% endfor %}`, want: `111`},
	{name: "if_set_leaks", src: `{% if true %}{% set z = 3 %}{% endif %}{{ z }}`, want: `3`},
}
