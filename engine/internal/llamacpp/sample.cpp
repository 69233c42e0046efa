// Safe sampling: llama.cpp's own llama_sampler_sample asserts (and so aborts
// the whole process) when the sampler chain leaves no token that can be
// drawn, e.g. a finished grammar whose only allowed token is EOS while
// logit_bias or ignore_eos bans EOS. Here the chain's result is checked
// before the final selector runs, and C++ exceptions from the grammar are
// caught instead of unwinding through cgo.

#include <cmath>
#include <cstdint>
#include <exception>

#include "llama.h"
#include "sample.h"

extern "C" int32_t ggufd_sample(struct llama_sampler *chain, struct llama_sampler *selector,
                                struct llama_context *ctx, int32_t idx, llama_token_data *buf,
                                int32_t n_vocab) {
    try {
        const float *logits = llama_get_logits_ith(ctx, idx);
        if (logits == nullptr) {
            return GGUFD_SAMPLE_FAILED;
        }
        for (int32_t i = 0; i < n_vocab; i++) {
            buf[i].id = i;
            buf[i].logit = logits[i];
            buf[i].p = 0.0f;
        }
        llama_token_data_array cur = {buf, (size_t)n_vocab, -1, false};
        llama_sampler_apply(chain, &cur);

        // NaN counts as banned; +inf (a huge penalty or a tiny temperature can
        // overflow) makes those tokens the only, equally likely, candidates:
        // softmax over +inf would be NaN, which is what trips the selector.
        size_t posinf = 0;
        for (size_t i = 0; i < cur.size; i++) {
            float l = cur.data[i].logit;
            if (std::isnan(l)) {
                cur.data[i].logit = -INFINITY;
            } else if (std::isinf(l) && l > 0) {
                posinf++;
            }
        }
        if (posinf > 0) {
            for (size_t i = 0; i < cur.size; i++) {
                float l = cur.data[i].logit;
                cur.data[i].logit = (std::isinf(l) && l > 0) ? 0.0f : -INFINITY;
            }
        }
        // Keep only drawable candidates, in order (a sorted array stays
        // sorted). With none left there is nothing to draw; the caller decides
        // whether that is a clean end (finished grammar) or a request error.
        size_t live = 0;
        for (size_t i = 0; i < cur.size; i++) {
            if (!std::isinf(cur.data[i].logit)) {
                cur.data[live++] = cur.data[i];
            }
        }
        if (live == 0) {
            return GGUFD_SAMPLE_NONE;
        }
        if (cur.selected >= 0) {
            cur.selected = -1;
        }
        cur.size = live;
        llama_sampler_apply(selector, &cur);
        if (cur.selected < 0 || cur.selected >= (int64_t)cur.size) {
            return GGUFD_SAMPLE_FAILED;
        }
        llama_token tok = cur.data[cur.selected].id;
        llama_sampler_accept(chain, tok);
        llama_sampler_accept(selector, tok);
        return tok;
    } catch (const std::exception &) {
        return GGUFD_SAMPLE_FAILED;
    } catch (...) {
        return GGUFD_SAMPLE_FAILED;
    }
}

extern "C" bool ggufd_grammar_accepts_end(struct llama_sampler *grammar, const llama_token *eogs, int32_t n) {
    try {
        for (int32_t i = 0; i < n; i++) {
            llama_token_data d = {eogs[i], 0.0f, 0.0f};
            llama_token_data_array one = {&d, 1, -1, false};
            llama_sampler_apply(grammar, &one);
            if (!std::isinf(d.logit)) {
                return true;
            }
        }
    } catch (...) {
    }
    return false;
}
