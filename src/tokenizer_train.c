/* Byte-level BPE training (see tokenizer_train.h): a port of the HF
 * tokenizers library's BpeTrainer::do_train, so that a corpus gives the same
 * vocabulary and merges as there.
 *   - Ids: the special tokens, then the alphabet (every byte's character) by
 *     code point, then each new token in the order it is made.
 *   - The queue is a max-heap of candidate merges ordered by count, then by
 *     the pair's ids, lowest first. Each candidate holds the words in which
 *     its pair had formed when it was queued; one whose count has changed
 *     since is queued again with the current count.
 *   - Merging a pair in a word changes the counts of the pairs around it,
 *     not its own (as in HF), and queues the pairs it forms with the words
 *     they formed in.
 * HF leaves the order of two candidates of one pair with one count to its
 * heap; here the one queued first comes first. */
#include "tokenizer_train.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "error.h"
#include "json_util.h"
#include "tokenizer.h"

typedef struct {
    int *items;
    int count, capacity;
} IntList;

static void int_list_push(IntList *list, int value)
{
    if (list->count == list->capacity) {
        list->capacity = 2 * list->capacity + 4;
        list->items = xrealloc(list->items, (size_t)list->capacity * sizeof *list->items);
    }
    list->items[list->count++] = value;
}

typedef struct {
    int *symbols;  /* token ids */
    int length;
    int64_t count;  /* occurrences in the corpus */
} Word;

typedef struct {
    uint64_t pair;   /* left id << 32 | right id */
    int64_t count;   /* occurrences, each weighted by its word's count */
    IntList formed;  /* words the pair formed in since it was last queued, ascending */
    int last_merge;  /* index of its last merge in Trainer.merges, or -1 */
} PairStat;

typedef struct {
    int64_t count;
    uint64_t pair;
    uint64_t order;  /* queueing order, the last tie-break */
    IntList words;   /* where to merge the pair: ascending word indices */
} Candidate;

typedef struct {
    json_t *word_index;  /* pre-token -> index into words */
    Word *words;
    int num_words, word_capacity;

    json_t *vocab;  /* token -> id, in id order */
    char **tokens;  /* id -> token */
    int num_tokens, token_capacity;

    PairStat *pairs;
    int num_pairs, pair_capacity;
    int *slots;  /* open addressing, pair -> index into pairs; -1 is free */
    size_t mask;
    IntList formed_pairs;  /* pairs with formed words, in the order they first formed */

    Candidate *heap;
    int heap_count, heap_capacity;
    uint64_t next_order;

    uint64_t *merges;  /* the pairs merged, in order */
    int num_merges, merge_capacity;
} Trainer;

static uint64_t pair_key(int left, int right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static int pair_left(uint64_t pair) { return (int)(pair >> 32); }
static int pair_right(uint64_t pair) { return (int)(uint32_t)pair; }

/* ---- Vocabulary ---- */

static int token_id(const Trainer *trainer, const char *token)
{
    const json_t *id = json_object_get(trainer->vocab, token);
    return id ? (int)json_integer_value(id) : -1;
}

/* The id of token, added at the end of the vocabulary when new. */
static int add_token(Trainer *trainer, const char *token)
{
    int id = token_id(trainer, token);
    if (id >= 0)
        return id;
    if (trainer->num_tokens == trainer->token_capacity) {
        trainer->token_capacity = 2 * trainer->token_capacity + 512;
        trainer->tokens = xrealloc(trainer->tokens,
                                   (size_t)trainer->token_capacity * sizeof *trainer->tokens);
    }
    id = trainer->num_tokens++;
    trainer->tokens[id] = xstrdup(token);
    json_object_set_new(trainer->vocab, token, json_integer(id));
    return id;
}

/* The special tokens, then GPT-2's byte characters by code point: U+0021 to
 * U+00FF but U+007F..U+00A0 and U+00AD, then U+0100 to U+0143. */
static void add_alphabet(Trainer *trainer, const BpeTrainOptions *options)
{
    for (int i = 0; i < options->num_special_tokens; i++)
        add_token(trainer, options->special_tokens[i]);
    for (uint32_t code = 0x21; code < 0x144; code++) {
        if ((code >= 0x7f && code <= 0xa0) || code == 0xad)
            continue;
        char utf8[3] = {0};
        if (code < 0x80) {
            utf8[0] = (char)code;
        } else {
            utf8[0] = (char)(0xc0 | code >> 6);
            utf8[1] = (char)(0x80 | (code & 0x3f));
        }
        add_token(trainer, utf8);
    }
}

/* ---- Counting words ---- */

static int count_word(void *context, const char *piece, size_t length)
{
    Trainer *trainer = context;
    json_t *index = json_object_getn(trainer->word_index, piece, length);
    if (index) {
        trainer->words[json_integer_value(index)].count++;
        return 0;
    }
    if (trainer->num_words == trainer->word_capacity) {
        trainer->word_capacity = 2 * trainer->word_capacity + 1024;
        trainer->words = xrealloc(trainer->words,
                                  (size_t)trainer->word_capacity * sizeof *trainer->words);
    }
    /* One symbol per character, each a byte character of the alphabet. */
    Word *word = &trainer->words[trainer->num_words];
    *word = (Word){.symbols = xmalloc(length * sizeof *word->symbols), .count = 1};
    for (size_t i = 0; i < length;) {
        size_t n = (unsigned char)piece[i] < 0x80 ? 1 : 2;
        char character[3] = {piece[i], n == 2 ? piece[i + 1] : '\0', '\0'};
        int id = token_id(trainer, character);
        CHECK(id >= 0);
        word->symbols[word->length++] = id;
        i += n;
    }
    json_object_setn_new(trainer->word_index, piece, length, json_integer(trainer->num_words++));
    return 0;
}

/* ---- Pair statistics ---- */

/* The slot of pair, or the free slot where it would go. */
static size_t pair_slot(const Trainer *trainer, uint64_t pair)
{
    size_t i = (size_t)((pair * 0x9e3779b97f4a7c15u) >> 20) & trainer->mask;
    while (trainer->slots[i] >= 0 && trainer->pairs[trainer->slots[i]].pair != pair)
        i = (i + 1) & trainer->mask;
    return i;
}

static void rehash_pairs(Trainer *trainer, size_t capacity)
{
    free(trainer->slots);
    trainer->slots = xmalloc(capacity * sizeof *trainer->slots);
    memset(trainer->slots, 0xff, capacity * sizeof *trainer->slots);
    trainer->mask = capacity - 1;
    for (int p = 0; p < trainer->num_pairs; p++)
        trainer->slots[pair_slot(trainer, trainer->pairs[p].pair)] = p;
}

/* The statistics of pair, created with count 0 when new. Creating one may
 * move the others. */
static PairStat *pair_stat(Trainer *trainer, uint64_t pair)
{
    if (2 * ((size_t)trainer->num_pairs + 1) > trainer->mask + 1)
        rehash_pairs(trainer, trainer->slots ? 2 * (trainer->mask + 1) : 1024);
    size_t i = pair_slot(trainer, pair);
    if (trainer->slots[i] >= 0)
        return &trainer->pairs[trainer->slots[i]];
    if (trainer->num_pairs == trainer->pair_capacity) {
        trainer->pair_capacity = 2 * trainer->pair_capacity + 1024;
        trainer->pairs = xrealloc(trainer->pairs,
                                  (size_t)trainer->pair_capacity * sizeof *trainer->pairs);
    }
    trainer->slots[i] = trainer->num_pairs;
    PairStat *stat = &trainer->pairs[trainer->num_pairs++];
    *stat = (PairStat){.pair = pair, .last_merge = -1};
    return stat;
}

/* One occurrence of pair in word w appears (+1) or goes (-1). */
static void count_pair(Trainer *trainer, uint64_t pair, int change, int w)
{
    PairStat *stat = pair_stat(trainer, pair);
    stat->count += change * trainer->words[w].count;
    if (change < 0)
        return;
    if (stat->formed.count == 0)
        int_list_push(&trainer->formed_pairs, (int)(stat - trainer->pairs));
    /* Words are visited in ascending order, so a repeat is the last one. */
    if (stat->formed.count == 0 || stat->formed.items[stat->formed.count - 1] != w)
        int_list_push(&stat->formed, w);
}

/* ---- The queue ---- */

static bool candidate_before(const Candidate *a, const Candidate *b)
{
    if (a->count != b->count)
        return a->count > b->count;
    if (a->pair != b->pair)
        return a->pair < b->pair;
    return a->order < b->order;
}

static void queue_candidate(Trainer *trainer, Candidate candidate)
{
    if (trainer->heap_count == trainer->heap_capacity) {
        trainer->heap_capacity = 2 * trainer->heap_capacity + 1024;
        trainer->heap = xrealloc(trainer->heap,
                                 (size_t)trainer->heap_capacity * sizeof *trainer->heap);
    }
    candidate.order = trainer->next_order++;
    Candidate *heap = trainer->heap;
    int i = trainer->heap_count++;
    heap[i] = candidate;
    for (; i > 0 && candidate_before(&heap[i], &heap[(i - 1) / 2]); i = (i - 1) / 2) {
        Candidate swap = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = swap;
    }
}

static Candidate next_candidate(Trainer *trainer)
{
    Candidate *heap = trainer->heap;
    Candidate top = heap[0];
    int count = --trainer->heap_count;
    heap[0] = heap[count];
    for (int i = 0;;) {
        int best = i, left = 2 * i + 1, right = left + 1;
        if (left < count && candidate_before(&heap[left], &heap[best]))
            best = left;
        if (right < count && candidate_before(&heap[right], &heap[best]))
            best = right;
        if (best == i)
            break;
        Candidate swap = heap[i];
        heap[i] = heap[best];
        heap[best] = swap;
        i = best;
    }
    return top;
}

/* Queues every pair that formed since the last call, with the words it
 * formed in, if its count is positive. */
static void queue_formed_pairs(Trainer *trainer)
{
    for (int k = 0; k < trainer->formed_pairs.count; k++) {
        PairStat *stat = &trainer->pairs[trainer->formed_pairs.items[k]];
        if (stat->count > 0)
            queue_candidate(trainer, (Candidate){stat->count, stat->pair, 0, stat->formed});
        else
            free(stat->formed.items);
        stat->formed = (IntList){0};
    }
    trainer->formed_pairs.count = 0;
}

/* ---- Merging ---- */

/* HF's Word::merge: replaces each (left, right) in the word, left to
 * right, and counts the pairs that go and come around it. */
static void merge_in_word(Trainer *trainer, int w, int left, int right, int merged)
{
    Word *word = &trainer->words[w];
    int *s = word->symbols;
    for (int i = 0; i < word->length; i++) {
        if (s[i] != left || i + 1 >= word->length || s[i + 1] != right)
            continue;
        if (i > 0) {
            count_pair(trainer, pair_key(s[i - 1], left), -1, w);
            count_pair(trainer, pair_key(s[i - 1], merged), +1, w);
        }
        s[i] = merged;
        memmove(&s[i + 1], &s[i + 2], (size_t)(word->length - i - 2) * sizeof *s);
        word->length--;
        if (i + 1 < word->length) {
            count_pair(trainer, pair_key(right, s[i + 1]), -1, w);
            count_pair(trainer, pair_key(merged, s[i + 1]), +1, w);
        }
    }
}

static void record_merge(Trainer *trainer, uint64_t pair)
{
    if (trainer->num_merges == trainer->merge_capacity) {
        trainer->merge_capacity = 2 * trainer->merge_capacity + 512;
        trainer->merges = xrealloc(trainer->merges,
                                   (size_t)trainer->merge_capacity * sizeof *trainer->merges);
    }
    pair_stat(trainer, pair)->last_merge = trainer->num_merges;
    trainer->merges[trainer->num_merges++] = pair;
}

static void learn_merges(Trainer *trainer, int vocab_size)
{
    for (int w = 0; w < trainer->num_words; w++) {
        const int *s = trainer->words[w].symbols;
        for (int i = 0; i + 1 < trainer->words[w].length; i++)
            count_pair(trainer, pair_key(s[i], s[i + 1]), +1, w);
    }
    queue_formed_pairs(trainer);
    while (trainer->num_tokens < vocab_size && trainer->heap_count > 0) {
        Candidate top = next_candidate(trainer);
        int64_t count = pair_stat(trainer, top.pair)->count;
        if (top.count != count) {
            top.count = count;
            queue_candidate(trainer, top);
            continue;
        }
        if (top.count < 1) {
            free(top.words.items);
            break;
        }
        int left = pair_left(top.pair), right = pair_right(top.pair);
        size_t left_length = strlen(trainer->tokens[left]);
        size_t right_length = strlen(trainer->tokens[right]);
        char *joined = xmalloc(left_length + right_length + 1);
        memcpy(joined, trainer->tokens[left], left_length);
        memcpy(joined + left_length, trainer->tokens[right], right_length + 1);
        int merged = add_token(trainer, joined);
        free(joined);
        record_merge(trainer, top.pair);
        for (int k = 0; k < top.words.count; k++)
            merge_in_word(trainer, top.words.items[k], left, right, merged);
        free(top.words.items);
        queue_formed_pairs(trainer);
    }
}

/* ---- Output ---- */

/* The ByteLevel component; add_prefix_space matters to the pre-tokenizer
 * only, and is true in the decoder as HF's defaults write it. */
static json_t *byte_level(bool add_prefix_space)
{
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space",
                     add_prefix_space, "trim_offsets", 1, "use_regex", 1);
}

/* The tokenizer.json document around a vocabulary and merges, in the key
 * order HF writes. */
static json_t *tokenizer_document(const BpeTrainOptions *options, json_t *vocab, json_t *merges)
{
    json_t *added = json_array();
    json_t *seen = json_object();
    for (int i = 0; i < options->num_special_tokens; i++) {
        const char *content = options->special_tokens[i];
        if (json_object_get(seen, content))
            continue;
        json_object_set_new(seen, content, json_true());
        json_array_append_new(added, json_pack(
            "{s:O, s:s, s:b, s:b, s:b, s:b, s:b}", "id", json_object_get(vocab, content),
            "content", content, "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
            "special", 1));
    }
    json_decref(seen);
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                              "dropout", "unk_token", "continuing_subword_prefix",
                              "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                              "ignore_merges", 0, "vocab", vocab, "merges", merges);
    return json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:n, s:o, s:o}", "version", "1.0",
                     "truncation", "padding", "added_tokens", added, "normalizer",
                     "pre_tokenizer", byte_level(false), "post_processor",
                     "decoder", byte_level(true), "model", model);
}

/* The merges as [left, right] pairs; a pair merged twice keeps only its
 * last place, as HF's map of merges does when it is written out. */
static json_t *merges_json(const Trainer *trainer)
{
    json_t *merges = json_array();
    for (int i = 0; i < trainer->num_merges; i++) {
        uint64_t pair = trainer->merges[i];
        if (trainer->pairs[trainer->slots[pair_slot(trainer, pair)]].last_merge != i)
            continue;
        json_array_append_new(merges, json_pack("[s, s]", trainer->tokens[pair_left(pair)],
                                                trainer->tokens[pair_right(pair)]));
    }
    return merges;
}

static void trainer_free(Trainer *trainer)
{
    json_decref(trainer->word_index);
    for (int w = 0; w < trainer->num_words; w++)
        free(trainer->words[w].symbols);
    free(trainer->words);
    json_decref(trainer->vocab);
    for (int i = 0; i < trainer->num_tokens; i++)
        free(trainer->tokens[i]);
    free(trainer->tokens);
    for (int p = 0; p < trainer->num_pairs; p++)
        free(trainer->pairs[p].formed.items);
    free(trainer->pairs);
    free(trainer->slots);
    free(trainer->formed_pairs.items);
    for (int i = 0; i < trainer->heap_count; i++)
        free(trainer->heap[i].words.items);
    free(trainer->heap);
    free(trainer->merges);
}

int tokenizer_train(const char *const *texts, int num_texts, const BpeTrainOptions *options,
                    json_t **tokenizer_json)
{
    *tokenizer_json = NULL;
    for (int i = 0; i < options->num_special_tokens; i++)
        if (!options->special_tokens[i][0])
            return error_set("special token %d is empty", i + 1);
    Trainer trainer = {.word_index = json_object(), .vocab = json_object()};
    add_alphabet(&trainer, options);

    /* The pre-tokenizer is the document's own, with the alphabet alone as
     * its vocabulary. */
    json_t *skeleton = tokenizer_document(options, json_deep_copy(trainer.vocab), json_array());
    Tokenizer *pre_tokenizer;
    int status = tokenizer_from_json(&pre_tokenizer, skeleton);
    json_decref(skeleton);
    CHECK(status == 0);
    for (int i = 0; i < num_texts && status == 0; i++) {
        status = tokenizer_pre_tokenize(pre_tokenizer, texts[i], strlen(texts[i]), count_word,
                                        &trainer);
        if (status < 0)
            error_prefix("text %d", i + 1);
    }
    tokenizer_free(pre_tokenizer);
    if (status == 0) {
        learn_merges(&trainer, options->vocab_size);
        *tokenizer_json = tokenizer_document(options, json_incref(trainer.vocab),
                                             merges_json(&trainer));
    }
    trainer_free(&trainer);
    return status;
}

int tokenizer_train_corpora(const char *const *corpora, int num_corpora,
                            const BpeTrainOptions *options, const char *out,
                            BpeTrainSummary *summary)
{
    TextCorpus *loaded = xcalloc((size_t)num_corpora, sizeof *loaded);
    const char **texts = NULL;
    int num_texts = 0, status = 0;
    for (int c = 0; c < num_corpora && status == 0; c++) {
        status = text_corpus_load(&loaded[c], corpora[c]);
        texts = xrealloc(texts, (size_t)(num_texts + loaded[c].count) * sizeof *texts);
        for (int i = 0; i < loaded[c].count; i++)
            texts[num_texts++] = loaded[c].texts[i];
    }
    json_t *document = NULL;
    if (status == 0)
        status = tokenizer_train(texts, num_texts, options, &document);
    if (status == 0)
        status = json_write_file(document, out);
    if (status == 0) {
        const json_t *model = json_object_get(document, "model");
        *summary = (BpeTrainSummary){
            .texts = num_texts,
            .tokens = json_object_size(json_object_get(model, "vocab")),
            .merges = json_array_size(json_object_get(model, "merges")),
        };
    }
    json_decref(document);
    free(texts);
    for (int c = 0; c < num_corpora; c++)
        text_corpus_free(&loaded[c]);
    free(loaded);
    return status;
}

void tokenizer_train_report(FILE *stream, const char *out, const BpeTrainSummary *summary)
{
    fprintf(stream, "%s: %zu tokens, %zu merges, from %d texts\n", out, summary->tokens,
            summary->merges, summary->texts);
    fflush(stream);
}
