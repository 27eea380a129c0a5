/* Hugging Face tokenizer.json: a byte-level BPE model with the ByteLevel
 * pre-tokenizer (its split regex: GPT-2's, Llama-3's or Qwen's), added and
 * special tokens, and the ByteLevel decoder. Encoding and decoding match the
 * HF `tokenizers` library token for token.
 *
 * Supported, as HF reads them:
 *   model          BPE: merges as "left right" or [left, right], ignore_merges,
 *                  unk_token and fuse_unk (without unk_token, characters
 *                  outside the vocabulary are dropped, as in HF);
 *   normalizer     null or NFC;
 *   pre_tokenizer  null, ByteLevel (add_prefix_space, use_regex), Split (a
 *                  Regex or String pattern, behavior Isolated, not inverted),
 *                  Digits, or a Sequence of these; regexes are Oniguruma
 *                  syntax as in HF, rewritten for PCRE2, and the few
 *                  constructs the two engines read differently are refused;
 *   added_tokens   special or not, with single_word, lstrip, rstrip and
 *                  normalized;
 *   decoder        ByteLevel;
 *   post_processor any (it only adds special tokens, which encoding here
 *                  never asks for).
 * Not supported, and refused with an error: other models, normalizers,
 * pre-tokenizers and decoders, BPE dropout, byte_fallback, subword
 * prefixes and suffixes, and truncation or padding. */
#ifndef UOE_TOKENIZER_H
#define UOE_TOKENIZER_H

#include <jansson.h>
#include <stddef.h>

typedef struct Tokenizer Tokenizer;

/* path is a tokenizer.json file or a directory that holds one. Unsupported
 * models, pre-tokenizers or decoders give an error naming the file and the
 * component. */
int tokenizer_load(Tokenizer **tokenizer, const char *path);
/* The same from the parsed file; errors name the component only. */
int tokenizer_from_json(Tokenizer **tokenizer, const json_t *root);
void tokenizer_free(Tokenizer *tokenizer);

/* Encodes UTF-8 text as HF's encode(text, add_special_tokens=False) does:
 * added and special tokens written in the text are recognised. *ids is
 * allocated (free() it); invalid UTF-8 is an error. */
int tokenizer_encode(const Tokenizer *tokenizer, const char *text, size_t length, int **ids,
                     int *count);
/* Decodes as HF's decode(ids, skip_special_tokens=False); *text is allocated
 * and NUL-terminated. An id outside the vocabulary is an error. */
int tokenizer_decode(const Tokenizer *tokenizer, const int *ids, int count, char **text);

/* Receives one pre-token (piece, length bytes, not NUL-terminated);
 * returns 0, or -1 to stop with an error set. */
typedef int (*PreTokenFn)(void *context, const char *piece, size_t length);

/* Calls pre_token for each pre-token of text as HF's trainers see them:
 * normalized and pre-tokenized (for a ByteLevel tokenizer, in the byte
 * alphabet), with added tokens not split out. Invalid UTF-8 is an error. */
int tokenizer_pre_tokenize(const Tokenizer *tokenizer, const char *text, size_t length,
                           PreTokenFn pre_token, void *context);

/* Number of ids, the model vocabulary and the added tokens together: the
 * highest id + 1. */
int tokenizer_vocab_size(const Tokenizer *tokenizer);
/* The id of a token string (vocabulary or added), or -1. */
int tokenizer_token_id(const Tokenizer *tokenizer, const char *token);

#endif
