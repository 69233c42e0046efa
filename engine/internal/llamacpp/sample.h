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

int32_t ggufd_sample(struct llama_sampler *chain, struct llama_sampler *selector,
                     struct llama_context *ctx, int32_t idx, llama_token_data *buf, int32_t n_vocab);
bool ggufd_grammar_accepts_end(struct llama_sampler *grammar, const llama_token *eogs, int32_t n);

#ifdef __cplusplus
}
#endif

#endif
