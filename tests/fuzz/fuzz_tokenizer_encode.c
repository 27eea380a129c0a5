/* libFuzzer harness: arbitrary bytes encoded with the fixture tokenizers
 * (tests/fixtures/tokenizer/ and the MCQ fixture model). The first byte
 * picks the tokenizer, the rest is the text. Every id must be inside the
 * vocabulary and decode; with the plain byte-level tokenizer of the fixture
 * model (no normalizer, no stripping added tokens), decoding must give the
 * text back, byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer.h"

#ifndef FUZZ_FIXTURES
#define FUZZ_FIXTURES "tests/fixtures"
#endif

static const char *const names[] = {
    "mcq/model", "tokenizer/gpt2", "tokenizer/llama3", "tokenizer/qwen2", "tokenizer/digits",
};
#define COUNT (sizeof names / sizeof names[0])
static Tokenizer *tokenizers[COUNT];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *root = getenv("UOE_FUZZ_FIXTURES");
    for (size_t i = 0; i < COUNT; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/tokenizer.json", root ? root : FUZZ_FIXTURES, names[i]);
        if (tokenizer_load(&tokenizers[i], path) != 0) {
            fprintf(stderr, "fuzz_tokenizer_encode: %s\n", error_message());
            exit(1);
        }
    }
    return 0;
}

static int count_piece(void *context, const char *piece, size_t length)
{
    (void)piece;
    *(size_t *)context += length;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t which = data[0] % COUNT;
    const Tokenizer *tokenizer = tokenizers[which];
    const char *text = (const char *)data + 1;
    size_t length = size - 1;

    int vocab = tokenizer_vocab_size(tokenizer);
    int *ids = NULL, count = 0;
    error_clear();
    if (tokenizer_encode(tokenizer, text, length, &ids, &count) != 0) {
        if (strcmp(error_message(), "unknown error") == 0)
            abort();
        free(ids);
        return 0;
    }
    for (int i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            abort();
    char *decoded = NULL;
    if (tokenizer_decode(tokenizer, ids, count, &decoded) != 0)
        abort();
    if (which == 0 && !memchr(text, 0, length)
        && (strlen(decoded) != length || memcmp(decoded, text, length) != 0))
        abort();  /* the plain byte-level tokenizer is lossless */
    free(decoded);
    free(ids);
    size_t bytes = 0;
    if (tokenizer_pre_tokenize(tokenizer, text, length, count_piece, &bytes) != 0)
        abort();  /* the text encoded, so it pre-tokenizes */
    return 0;
}
