/* Byte-level BPE training, as the HF tokenizers library's BpeTrainer does it,
 * into a tokenizer.json that both tokenizer.h and HF's library load. */
#ifndef UOE_TOKENIZER_TRAIN_H
#define UOE_TOKENIZER_TRAIN_H

#include <jansson.h>

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

#endif
