/* Byte-level BPE training, as the HF tokenizers library's BpeTrainer does it,
 * into a tokenizer.json that both tokenizer.h and HF's library load. */
#ifndef UOE_TOKENIZER_TRAIN_H
#define UOE_TOKENIZER_TRAIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    /* The vocabulary to reach: special tokens, then the 256 byte characters,
     * then one token per merge; training stops earlier when no pair is left. */
    int vocab_size;
    const char *const *special_tokens;  /* ids 0, 1, ... in this order */
    int num_special_tokens;
} BpeTrainOptions;

/* Learns merges from texts (UTF-8, NUL-terminated) pre-tokenized as GPT-2 is:
 * the ByteLevel pre-tokenizer with GPT-2's regex and no prefix space. Sets
 * *tokenizer_json to a new tokenizer.json document: the BPE model, the
 * special tokens as added tokens, the ByteLevel decoder. Invalid UTF-8 is an
 * error naming the text. */
int tokenizer_train(const char *const *texts, int num_texts, const BpeTrainOptions *options,
                    json_t **tokenizer_json);

/* What a training from files made. */
typedef struct {
    int texts;          /* the corpora's texts, all trained on */
    size_t tokens;      /* the vocabulary reached */
    size_t merges;
} BpeTrainSummary;

/* `uoe-wb tokenize --train` and uoe.train_tokenizer: trains on the "text" of
 * each line of the JSON Lines corpora, in order, and writes the
 * tokenizer.json to out. Errors name the corpus or out. */
int tokenizer_train_corpora(const char *const *corpora, int num_corpora,
                            const BpeTrainOptions *options, const char *out,
                            BpeTrainSummary *summary);
/* Their line: "OUT: N tokens, M merges, from K texts". */
void tokenizer_train_report(FILE *stream, const char *out, const BpeTrainSummary *summary);

#endif
