package gguf

import (
	"fmt"
	"strings"
)

// Token types of tokenizer.ggml.token_type (enum llama_token_type).
const (
	tokenNormal  = 1
	tokenUnknown = 2
	tokenControl = 3
	tokenByte    = 6
)

// Special token ids of the built-in vocabulary.
const (
	builtinUnk = 0
	builtinBOS = 1
	builtinEOS = 2
)

// spaceMarker is SentencePiece's visible space: llama.cpp's "llama"
// tokenizer turns spaces into it (and prefixes the text with one) before
// looking pieces up.
const spaceMarker = "\u2581"

// commonWords are the words the built-in vocabulary spells as whole tokens
// (with a leading space marker), so that ordinary English text does not
// fall back to one token per character.
var commonWords = strings.Fields(`
the of and to a in is it you that he was for on are with as I his they be at
one have this from or had by not word but what some we can out other were all
there when up use your how said an each she which do their time if will way
about many then them write would like so these her long make thing see him two
has look more day could go come did number sound no most people my over know
water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good
me give our under name very through just form sentence great think say help low
line differ turn cause much mean before move right boy old too same tell does set
three want air well also play small end put home read hand port large spell add
even land here must big high such follow act why ask men change went light kind
off need house picture try us again animal point mother world near build self
earth father head stand own page should country found answer school grow study
still learn plant cover food sun four between state keep eye never last let
thought city tree cross farm hard start might story saw far sea draw left late
run don't while press close night real life few north open seem together next
white children begin got walk example ease paper group always music those both
mark often letter until mile river car feet care second book carry took science
eat room friend began idea fish mountain stop once base hear horse cut sure watch
color face wood main enough plain girl usual young ready above ever red list
though feel talk bird soon body dog family direct pose leave song measure door
product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space
heard best hour better true during hundred five remember step early hold west
ground interest reach fast verb sing listen six table travel less morning ten
simple several vowel toward war lay against pattern slow center love person money
serve appear road map rain rule govern pull cold notice voice unit power town
fine certain fly fall lead cry dark machine note wait plan figure star box noun
field rest correct able pound done beauty drive stood contain front teach week
final gave green oh quick develop ocean warm free minute strong special mind
behind clear tail produce fact street inch multiply nothing course stay wheel
full force blue object decide surface deep moon island foot system busy test
record boat common gold possible plane stead dry wonder laugh thousand ago ran
check game shape equate hot miss brought heat snow tire bring yes distant fill
east paint language among hello assistant user system model answer question
you're it's I'm today thanks please
`)

// builtinVocab builds the built-in SentencePiece-style vocabulary: the
// special tokens, the 256 byte-fallback tokens (so any text tokenizes), the
// ChatML control tokens, every printable ASCII character, and each common
// word with all its prefixes. llama.cpp's SPM tokenizer builds tokens by
// merging adjacent symbols whose concatenation is in the vocabulary, so a
// whole word is reachable only if every prefix on the way is a token too.
func builtinVocab() (tokens []string, scores []float32, types []int32) {
	seen := make(map[string]bool)
	add := func(tok string, score float32, typ int32) {
		if seen[tok] {
			return
		}
		seen[tok] = true
		tokens = append(tokens, tok)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, tokenUnknown)
	add("<s>", 0, tokenControl)
	add("</s>", 0, tokenControl)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, tokenByte)
	}
	add("<|im_start|>", 0, tokenControl)
	add("<|im_end|>", 0, tokenControl)

	// Scores decide the merge order (higher first); longer pieces score
	// higher so that words merge completely before their leftovers do.
	add(spaceMarker, -1000, tokenNormal)
	for c := byte(' ' + 1); c < 0x7f; c++ {
		add(string(c), -1000, tokenNormal)
	}
	// Capitalised forms too: sentences start with them.
	for i, w := range commonWords {
		for _, form := range []string{w, strings.ToUpper(w[:1]) + w[1:]} {
			piece := spaceMarker + form
			for n := len(spaceMarker) + 1; n <= len(piece); n++ {
				add(piece[:n], float32(n)-float32(i)/1000, tokenNormal)
			}
		}
	}
	return tokens, scores, types
}

// builtinTokenizerKVs is the tokenizer metadata of the built-in vocabulary.
func builtinTokenizerKVs() []KV {
	tokens, scores, types := builtinVocab()
	return []KV{
		{Key: "tokenizer.ggml.model", Type: TypeString, Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Type: TypeArray, Value: Array{Type: TypeString, Len: len(tokens), Values: tokens}},
		{Key: "tokenizer.ggml.scores", Type: TypeArray, Value: Array{Type: TypeFloat32, Len: len(scores), Values: scores}},
		{Key: "tokenizer.ggml.token_type", Type: TypeArray, Value: Array{Type: TypeInt32, Len: len(types), Values: types}},
		{Key: "tokenizer.ggml.unknown_token_id", Type: TypeUint32, Value: uint32(builtinUnk)},
		{Key: "tokenizer.ggml.bos_token_id", Type: TypeUint32, Value: uint32(builtinBOS)},
		{Key: "tokenizer.ggml.eos_token_id", Type: TypeUint32, Value: uint32(builtinEOS)},
		{Key: "tokenizer.ggml.add_bos_token", Type: TypeBool, Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Type: TypeBool, Value: false},
	}
}
