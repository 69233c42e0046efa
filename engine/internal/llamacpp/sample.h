#ifndef GGUFD_SAMPLE_H
#define GGUFD_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "llama.h"

#ifdef __cplusplus
extern "C" {
#endif

// ggufd_sample results below zero (token ids are >= 0).
#define GGUFD_SAMPLE_NONE (-1)   // no candidate is left after the chain
#define GGUFD_SAMPLE_FAILED (-2) // llama.cpp failed (no logits, an exception)
#define GGUFD_SAMPLE_AMBIGUOUS (-3) // the token left the grammar with more than max_stacks stacks

// grammar (may be NULL) is the chain's grammar stage; with max_stacks > 0
// its stack count is checked after each accepted token.
int32_t ggufd_sample(struct llama_sampler *chain, struct llama_sampler *selector,
                     struct llama_sampler *grammar, int64_t max_stacks,
                     struct llama_context *ctx, int32_t idx, llama_token_data *buf, int32_t n_vocab);
// ggufd_grammar_layout_ok reports whether grammar, made by
// llama_sampler_init_grammar from a grammar of grammar_len bytes and root
// "root", has the private layout sample.cpp reads; ggufd_grammar_stacks is
// its current number of parse stacks (-1 when unreadable).
bool ggufd_grammar_layout_ok(struct llama_sampler *grammar, size_t grammar_len);
int64_t ggufd_grammar_stacks(struct llama_sampler *grammar);
bool ggufd_grammar_accepts_end(struct llama_sampler *grammar, const llama_token *eogs, int32_t n);

#ifdef __cplusplus
}
#endif

#endif
