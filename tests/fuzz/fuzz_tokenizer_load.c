/* libFuzzer harness: tokenizer_load on arbitrary bytes as tokenizer.json
 * (model, merges, added tokens, normalizer, pre-tokenizer regexes). A
 * tokenizer that loads is then used: a few texts encoded, decoded and
 * pre-tokenized, and every id it returns must be inside its vocabulary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz_util.h"
#include "tokenizer.h"

static int count_piece(void *context, const char *piece, size_t length)
{
    (void)piece;
    *(size_t *)context += length;
    return 0;
}

static void exercise(const Tokenizer *tokenizer, const char *text)
{
    int vocab = tokenizer_vocab_size(tokenizer);
    int *ids = NULL, count = 0;
    if (tokenizer_encode(tokenizer, text, strlen(text), &ids, &count) == 0) {
        for (int i = 0; i < count; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                abort();
        char *decoded = NULL;
        if (tokenizer_decode(tokenizer, ids, count, &decoded) != 0)
            abort();  /* ids the tokenizer made must decode */
        free(decoded);
    }
    free(ids);
    size_t bytes = 0;
    tokenizer_pre_tokenize(tokenizer, text, strlen(text), count_piece, &bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Tokenizer *tokenizer = NULL;
    error_clear();
    if (tokenizer_load(&tokenizer, fuzz_file(data, size)) != 0) {
        if (strcmp(error_message(), "unknown error") == 0)
            abort();
        return 0;
    }
    static const char *const texts[] = {
        "", "Hello, world! It's 2024.", "  naïve <|endoftext|> café\n\n\t12345",
        "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80", "<mask>zz<|im_start|>",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        exercise(tokenizer, texts[i]);
    int vocab = tokenizer_vocab_size(tokenizer);
    if (vocab > 0) {
        int probe[] = {0, vocab - 1, vocab / 2};
        char *decoded = NULL;
        if (tokenizer_decode(tokenizer, probe, 3, &decoded) == 0)
            free(decoded);
    }
    (void)tokenizer_token_id(tokenizer, "<|endoftext|>");
    tokenizer_free(tokenizer);
    return 0;
}
