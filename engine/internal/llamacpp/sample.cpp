// Safe sampling: llama.cpp's own llama_sampler_sample asserts (and so aborts
// the whole process) when the sampler chain leaves no token that can be
// drawn, e.g. a finished grammar whose only allowed token is EOS while
// logit_bias or ignore_eos bans EOS. Here the chain's result is checked
// before the final selector runs, and C++ exceptions from the grammar are
// caught instead of unwinding through cgo.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "llama.h"
#include "sample.h"

// The grammar stage keeps one parse stack per way to read the output so
// far; an ambiguous grammar doubles them per token, and each sampling step
// walks all of them (see engine/gbnfcheck.go). llama.cpp has no API for
// their number, so these views repeat the private layouts of the pinned
// version (ollama v0.17.4's llama.cpp): struct llama_sampler_grammar in
// src/llama-sampling.cpp and the start of struct llama_grammar in
// src/llama-grammar.h. ggufd_grammar_layout_ok checks them against what
// the sampler was made from, and TestGrammarStacksReadable fails when they
// no longer match.
namespace {
struct grammar_element_view {
    int32_t type; // enum llama_gretype
    uint32_t value;
};

struct grammar_view {
    const void *vocab;
    const void *o_vocab;
    const std::vector<std::vector<grammar_element_view>> rules;
    std::vector<std::vector<const grammar_element_view *>> stacks;
};

struct sampler_grammar_view {
    const void *vocab;
    std::string grammar_str;
    std::string grammar_root;
    grammar_view *grammar;
};

const grammar_view *grammar_of(struct llama_sampler *smpl) {
    if (smpl == nullptr || smpl->ctx == nullptr || std::strcmp(llama_sampler_name(smpl), "grammar") != 0) {
        return nullptr;
    }
    return static_cast<const sampler_grammar_view *>(smpl->ctx)->grammar;
}
} // namespace

extern "C" bool ggufd_grammar_layout_ok(struct llama_sampler *grammar, size_t grammar_len) {
    const grammar_view *g = grammar_of(grammar);
    if (g == nullptr) {
        return false;
    }
    const auto *view = static_cast<const sampler_grammar_view *>(grammar->ctx);
    if (view->grammar_root != "root" || view->grammar_str.size() != grammar_len || g->stacks.empty()) {
        return false;
    }
    // Every stack entry points into a rule's elements.
    for (const auto &stack : g->stacks) {
        for (const auto *pos : stack) {
            bool inside = false;
            for (const auto &rule : g->rules) {
                if (!rule.empty() && pos >= rule.data() && pos < rule.data() + rule.size()) {
                    inside = true;
                    break;
                }
            }
            if (!inside) {
                return false;
            }
        }
    }
    return true;
}

extern "C" int64_t ggufd_grammar_stacks(struct llama_sampler *grammar) {
    const grammar_view *g = grammar_of(grammar);
    return g == nullptr ? -1 : (int64_t)g->stacks.size();
}

extern "C" int32_t ggufd_sample(struct llama_sampler *chain, struct llama_sampler *selector,
                                struct llama_sampler *grammar, int64_t max_stacks,
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
        if (max_stacks > 0 && ggufd_grammar_stacks(grammar) > max_stacks) {
            return GGUFD_SAMPLE_AMBIGUOUS;
        }
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
