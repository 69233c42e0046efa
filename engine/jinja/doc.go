// Package jinja is a pure-Go interpreter for the subset of Jinja2 that
// Hugging Face chat templates use. It follows Python jinja2's semantics as
// configured by transformers' apply_chat_template: trim_blocks and
// lstrip_blocks are on, the loop-controls extension (break/continue) is
// enabled, autoescaping is off, and the sandbox refuses methods that mutate
// lists and dicts.
//
// Values seen by templates are plain Go values: nil (None), bool, int64,
// float64, string, *List, *Dict (an insertion-ordered map), *Namespace,
// Undefined and callables (Func, macros). Parse once, render many: a parsed
// Template is immutable and safe for concurrent use.
package jinja
