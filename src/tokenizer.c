/* Hugging Face tokenizer.json, byte-level BPE (see tokenizer.h).
 *
 * Matching HF token for token depends on the exact rules of each step, so the
 * encoder follows the library's pipeline step by step:
 *   1. split the text on the added tokens that match raw text
 *      (normalized=false), leftmost-longest, honouring single_word, lstrip
 *      and rstrip;
 *   2. normalize (NFC, when the file asks for it) each piece between them,
 *      and split it on the added tokens that match normalized text;
 *   3. run the pre-tokenizer steps on each remaining piece: regex splits
 *      (Split, Digits, ByteLevel's GPT-2 regex) and ByteLevel's byte-to-
 *      character mapping;
 *   4. BPE each pre-token: merge the lowest-ranked adjacent pair, leftmost
 *      first, until no pair has a merge.
 * Decoding maps every token through the ByteLevel decoder's table and
 * replaces invalid UTF-8 with U+FFFD as Rust's String::from_utf8_lossy does.
 *
 * The split regexes are written for Oniguruma, which HF compiles them with;
 * they run here on PCRE2 after translate_pattern() has rewritten the escapes
 * whose meanings differ between the two. */
#include "tokenizer.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "error.h"
#include "json_util.h"

/* Ids above this are refused rather than allocated for: real vocabularies
 * stay below a million, and a corrupt id must not become a huge table. */
#define MAX_TOKEN_IDS (1 << 24)

/* The regex of GPT-2, which the ByteLevel pre-tokenizer uses when use_regex
 * is true. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ---- Growing byte strings and id lists ---- */

typedef struct {
    char *data;
    size_t length, capacity;
} Buffer;

static void buffer_append(Buffer *buffer, const void *bytes, size_t length)
{
    if (buffer->length + length + 1 > buffer->capacity) {
        buffer->capacity = 2 * (buffer->length + length) + 16;
        buffer->data = xrealloc(buffer->data, buffer->capacity);
    }
    memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

static void buffer_append_string(Buffer *buffer, const char *string)
{
    buffer_append(buffer, string, strlen(string));
}

typedef struct {
    int *ids;
    int count, capacity;
} IdList;

static int id_list_push(IdList *list, int id)
{
    if (list->count == INT_MAX)
        return error_set("the text encodes to more than %d tokens", INT_MAX);
    if (list->count == list->capacity) {
        list->capacity = list->capacity < INT_MAX / 2 ? 2 * list->capacity + 16 : INT_MAX;
        list->ids = xrealloc(list->ids, (size_t)list->capacity * sizeof *list->ids);
    }
    list->ids[list->count++] = id;
    return 0;
}

/* ---- Hash maps: token string -> id, and id pair -> merge ----
 * Open addressing with linear probing. Both are sized once at load to at
 * least twice their entry count, so a free slot always ends a probe. */

static uint64_t hash_bytes(const char *bytes, size_t length)
{
    uint64_t hash = 0xcbf29ce484222325u;  /* FNV-1a */
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ (unsigned char)bytes[i]) * 0x100000001b3u;
    return hash;
}

static size_t table_capacity(size_t entries)
{
    size_t capacity = 16;
    while (capacity < 2 * entries)
        capacity *= 2;
    return capacity;
}

typedef struct {
    const char *key;  /* borrowed from Tokenizer.tokens; NULL marks a free slot */
    size_t length;
    int id;
} TokenSlot;

typedef struct {
    TokenSlot *slots;
    size_t mask;  /* capacity - 1 */
} TokenMap;

static void token_map_init(TokenMap *map, size_t entries)
{
    size_t capacity = table_capacity(entries);
    map->slots = xcalloc(capacity, sizeof *map->slots);
    map->mask = capacity - 1;
}

static TokenSlot *token_map_slot(const TokenMap *map, const char *key, size_t length)
{
    size_t i = hash_bytes(key, length) & map->mask;
    while (map->slots[i].key &&
           (map->slots[i].length != length || memcmp(map->slots[i].key, key, length) != 0))
        i = (i + 1) & map->mask;
    return &map->slots[i];
}

/* The id of a token, or -1. */
static int token_map_find(const TokenMap *map, const char *key, size_t length)
{
    const TokenSlot *slot = token_map_slot(map, key, length);
    return slot->key ? slot->id : -1;
}

typedef struct {
    uint64_t pair;  /* left id << 32 | right id */
    int rank;       /* position in the merges list: lower merges first */
    int merged;     /* id of the merged token; -1 marks a free slot */
} MergeSlot;

typedef struct {
    MergeSlot *slots;
    size_t mask;
} MergeMap;

static uint64_t pair_key(int left, int right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static MergeSlot *merge_map_slot(const MergeMap *map, uint64_t pair)
{
    size_t i = (size_t)((pair * 0x9e3779b97f4a7c15u) >> 20) & map->mask;
    while (map->slots[i].merged >= 0 && map->slots[i].pair != pair)
        i = (i + 1) & map->mask;
    return &map->slots[i];
}

/* ---- UTF-8 ---- */

/* Length of the character that starts at text[0]; the text is valid UTF-8. */
static size_t char_length(const char *text, size_t available)
{
    ucs4_t c;
    return (size_t)u8_mbtouc_unsafe(&c, (const uint8_t *)text, available);
}

/* Rust's regex \w, which decides HF's single_word boundaries. */
static bool is_word_char(ucs4_t c)
{
    return uc_is_property_alphabetic(c) || uc_is_general_category(c, UC_CATEGORY_M) ||
           uc_is_general_category(c, UC_DECIMAL_DIGIT_NUMBER) ||
           uc_is_general_category(c, UC_CONNECTOR_PUNCTUATION) || uc_is_property_join_control(c);
}

/* Appends bytes to out with every ill-formed sequence replaced by U+FFFD:
 * one replacement per maximal subpart of a sequence that could have been
 * valid, as Rust's String::from_utf8_lossy (and the Unicode standard's
 * recommended practice) does. */
static void append_utf8_lossy(Buffer *out, const unsigned char *bytes, size_t length)
{
    static const char replacement[] = "\xef\xbf\xbd";
    for (size_t i = 0; i < length;) {
        unsigned char lead = bytes[i];
        size_t need = 0;
        unsigned char low = 0x80, high = 0xbf;  /* allowed range of the second byte */
        if (lead < 0x80)
            need = 1;
        else if (lead >= 0xc2 && lead <= 0xdf)
            need = 2;
        else if (lead >= 0xe0 && lead <= 0xef) {
            need = 3;
            low = lead == 0xe0 ? 0xa0 : 0x80;   /* no overlong forms */
            high = lead == 0xed ? 0x9f : 0xbf;  /* no UTF-16 surrogates */
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            need = 4;
            low = lead == 0xf0 ? 0x90 : 0x80;
            high = lead == 0xf4 ? 0x8f : 0xbf;  /* nothing past U+10FFFF */
        }
        size_t have = 1;
        while (have < need && i + have < length) {
            unsigned char next = bytes[i + have];
            if (next < (have == 1 ? low : 0x80) || next > (have == 1 ? high : 0xbf))
                break;
            have++;
        }
        if (have == need)
            buffer_append(out, bytes + i, have);
        else
            buffer_append(out, replacement, 3);
        i += have;
    }
}

/* ---- The tokenizer ---- */

typedef struct {
    char *content;    /* as in the file */
    char *pattern;    /* what the text is searched for: content, normalized if `normalized` */
    size_t pattern_length;
    int id;
    bool single_word, lstrip, rstrip, normalized;
} AddedToken;

/* The added tokens searched for in one kind of text (raw or normalized):
 * indices into Tokenizer.added, grouped by first byte and longest first, so
 * the first that matches at a position is the longest. */
typedef struct {
    int *order;
    int start[257];  /* order[start[b] .. start[b + 1]) begin with byte b */
} AddedTokenSet;

typedef enum { STEP_SPLIT, STEP_BYTE_LEVEL } StepKind;

typedef struct {
    StepKind kind;
    pcre2_code *regex;      /* the split; for STEP_BYTE_LEVEL GPT-2's, or NULL (use_regex false) */
    bool add_prefix_space;  /* STEP_BYTE_LEVEL */
} PreTokenizerStep;

struct Tokenizer {
    /* [num_ids] token strings by id, added tokens over the model's; NULL where unused */
    char **tokens;
    int num_ids;
    TokenMap vocab;  /* the model vocabulary */
    MergeMap merges;
    AddedToken *added;
    int num_added;
    AddedTokenSet raw_added, normalized_added;
    bool nfc;
    PreTokenizerStep *steps;
    int num_steps;
    bool ignore_merges;
    int unk_id;  /* -1: unknown characters are dropped, as HF does without unk_token */
    bool fuse_unk;
    char byte_chars[256][3];     /* ByteLevel: each byte's character, UTF-8 */
    int16_t byte_of_char[0x144]; /* its inverse by code point; -1 where none */
};

/* GPT-2's table: printable Latin-1 bytes stand for themselves, the others
 * for U+0100 upwards in byte order, so that every byte is a visible
 * character. */
static void init_byte_table(Tokenizer *tokenizer)
{
    memset(tokenizer->byte_of_char, 0xff, sizeof tokenizer->byte_of_char);
    int next = 0x100;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        int code = printable ? b : next++;
        tokenizer->byte_of_char[code] = (int16_t)b;
        uint8_t *utf8 = (uint8_t *)tokenizer->byte_chars[b];
        utf8[u8_uctomb(utf8, (ucs4_t)code, 2)] = '\0';
    }
}

/* ---- Regexes ---- */

/* Oniguruma's \s and \h on Unicode text, as class contents. */
#define ONIG_SPACE "\\t\\n\\x0b\\f\\r\\x{85}\\p{Z}"
#define ONIG_HEX "0-9a-fA-F"

/* Rewrites an Oniguruma pattern into PCRE2 syntax with the same meaning.
 * PCRE2's \s also matches U+180E, its \h and \v are whitespace classes and
 * it has no \uHHHH; those are rewritten. Constructs whose meanings differ in
 * ways not handled here are refused: \w, \W, \b and \B (Oniguruma's \w is
 * not PCRE2's, and differs inside and outside classes and on some Latin-1
 * characters), \S and \H inside a class, nested classes and intersections,
 * and the (?m) option (dot-all in Oniguruma, multi-line in PCRE2). */
static int translate_pattern(const char *pattern, char **out)
{
    Buffer b = {0};
    bool in_class = false;
    const char *p = pattern;
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            char escape = *++p;
            const char *set = NULL;
            bool negated = escape == 'S' || escape == 'H';
            switch (escape) {
            case 's': case 'S': set = ONIG_SPACE; break;
            case 'h': case 'H': set = ONIG_HEX; break;
            case 'w': case 'W':
                goto unsupported;
            case 'v':
                buffer_append_string(&b, "\\x0b");
                continue;
            case 'u':
                if (strspn(p + 1, "0123456789abcdefABCDEF") < 4)
                    goto unsupported;
                buffer_append_string(&b, "\\x{");
                buffer_append(&b, p + 1, 4);
                buffer_append_string(&b, "}");
                p += 4;
                continue;
            case 'b': case 'B':
                if (!in_class || escape == 'B')  /* \b in a class is a backspace in both */
                    goto unsupported;
                break;
            }
            if (set && in_class && negated)
                goto unsupported;
            if (set) {
                if (!in_class)
                    buffer_append_string(&b, negated ? "[^" : "[");
                buffer_append_string(&b, set);
                if (!in_class)
                    buffer_append_string(&b, "]");
            } else {
                char pair[2] = {'\\', escape};
                buffer_append(&b, pair, 2);
            }
            continue;
        }
        if (in_class && (*p == '[' || (*p == '&' && p[1] == '&')))
            goto unsupported;
        if (!in_class && p[0] == '(' && p[1] == '?') {
            size_t letters = strspn(p + 2, "imx-");
            if ((p[2 + letters] == ':' || p[2 + letters] == ')') && memchr(p + 2, 'm', letters))
                goto unsupported;
        }
        if (*p == '[' && !in_class) {
            /* A ']' first in the class, after an optional '^', is literal. */
            in_class = true;
            size_t head = 1 + (p[1] == '^');
            head += p[head] == ']';
            buffer_append(&b, p, head);
            p += head - 1;
            continue;
        }
        if (*p == ']')
            in_class = false;
        buffer_append(&b, p, 1);
    }
    *out = b.data ? b.data : xstrdup("");
    return 0;
unsupported:
    free(b.data);
    return error_set("regex \"%s\": unsupported syntax at offset %d (Oniguruma, which HF uses, "
                     "and PCRE2 read it differently)", pattern, (int)(p - pattern));
}

static int compile_regex(const char *pattern, bool literal, pcre2_code **regex)
{
    char *translated = NULL;
    if (!literal && translate_pattern(pattern, &translated) < 0)
        return -1;
    /* In Oniguruma ^ and $ match at every line, and lines end at \n. */
    pcre2_compile_context *context = pcre2_compile_context_create(NULL);
    CHECK(context);
    pcre2_set_newline(context, PCRE2_NEWLINE_LF);
    int code;
    PCRE2_SIZE offset;
    uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_MULTILINE);
    const char *source = literal ? pattern : translated;
    *regex = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED, options, &code, &offset,
                           context);
    pcre2_compile_context_free(context);
    free(translated);
    if (!*regex) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(code, message, sizeof message);
        return error_set("regex \"%s\" does not compile: %s", pattern, (const char *)message);
    }
    /* JIT makes matching several times faster; without it (an unsupported
     * CPU) pcre2_match interprets the same pattern. */
    pcre2_jit_compile(*regex, PCRE2_JIT_COMPLETE);
    return 0;
}

/* ---- Encoding ---- */

typedef struct {
    int id;
    int prev, next;    /* neighbouring symbols of the word, -1 at its ends */
    bool merged_away;  /* absorbed into the symbol on its left */
} Symbol;

typedef struct {
    int rank, pos, merged;  /* the merge of symbols[pos] with its right neighbour */
} MergeCandidate;

/* The state of one tokenizer_encode or tokenizer_pre_tokenize call; the
 * tokenizer itself stays read-only, so that threads can share it. */
typedef struct {
    const Tokenizer *tokenizer;
    pcre2_match_data *match;
    PreTokenFn pre_token;  /* given each pre-token instead of BPE, when set */
    void *pre_token_context;
    IdList out;
    Symbol *symbols;  /* scratch for the word being merged */
    size_t symbol_capacity;
    MergeCandidate *heap;  /* min-heap by (rank, pos) */
    size_t heap_count, heap_capacity;
} Encoder;

static bool candidate_before(const MergeCandidate *a, const MergeCandidate *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

/* Queues the merge of the pair (left, right) at pos, if there is one. */
static void queue_merge(Encoder *encoder, int pos, int left, int right)
{
    const MergeSlot *merge = merge_map_slot(&encoder->tokenizer->merges, pair_key(left, right));
    if (merge->merged < 0)
        return;
    if (encoder->heap_count == encoder->heap_capacity) {
        encoder->heap_capacity = 2 * encoder->heap_capacity + 16;
        encoder->heap = xrealloc(encoder->heap, encoder->heap_capacity * sizeof *encoder->heap);
    }
    MergeCandidate *heap = encoder->heap;
    size_t i = encoder->heap_count++;
    heap[i] = (MergeCandidate){merge->rank, pos, merge->merged};
    for (; i > 0 && candidate_before(&heap[i], &heap[(i - 1) / 2]); i = (i - 1) / 2) {
        MergeCandidate swap = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = swap;
    }
}

static MergeCandidate next_merge(Encoder *encoder)
{
    MergeCandidate *heap = encoder->heap;
    MergeCandidate top = heap[0];
    size_t count = --encoder->heap_count;
    heap[0] = heap[count];
    for (size_t i = 0;;) {
        size_t least = i, left = 2 * i + 1, right = left + 1;
        if (left < count && candidate_before(&heap[left], &heap[least]))
            least = left;
        if (right < count && candidate_before(&heap[right], &heap[least]))
            least = right;
        if (least == i)
            break;
        MergeCandidate swap = heap[i];
        heap[i] = heap[least];
        heap[least] = swap;
        i = least;
    }
    return top;
}

/* BPE on one pre-token, as HF's BPE model: one symbol per character, then
 * the lowest-ranked merge among adjacent pairs, leftmost first, until none
 * applies. With ignore_merges a pre-token that is itself in the vocabulary
 * is one token. Characters outside the vocabulary become unk_token (fused
 * when fuse_unk), or are dropped when there is none. */
static int encode_word(Encoder *encoder, const char *word, size_t length)
{
    const Tokenizer *tokenizer = encoder->tokenizer;
    if (tokenizer->ignore_merges) {
        int id = token_map_find(&tokenizer->vocab, word, length);
        if (id >= 0)
            return id_list_push(&encoder->out, id);
    }
    if (length > encoder->symbol_capacity) {
        encoder->symbol_capacity = 2 * length;
        encoder->symbols = xrealloc(encoder->symbols,
                                    encoder->symbol_capacity * sizeof *encoder->symbols);
    }
    Symbol *symbols = encoder->symbols;
    int count = 0;
    bool previous_unknown = false;
    for (size_t i = 0; i < length;) {
        size_t n = char_length(word + i, length - i);
        int id = token_map_find(&tokenizer->vocab, word + i, n);
        i += n;
        if (id < 0 && (tokenizer->unk_id < 0 || (tokenizer->fuse_unk && previous_unknown)))
            continue;
        previous_unknown = id < 0;
        symbols[count] = (Symbol){id < 0 ? tokenizer->unk_id : id, count - 1, -1, false};
        if (count > 0)
            symbols[count - 1].next = count;
        count++;
    }

    encoder->heap_count = 0;
    for (int i = 0; i + 1 < count; i++)
        queue_merge(encoder, i, symbols[i].id, symbols[i + 1].id);
    while (encoder->heap_count > 0) {
        MergeCandidate top = next_merge(encoder);
        Symbol *left = &symbols[top.pos];
        if (left->merged_away || left->next < 0)
            continue;
        Symbol *right = &symbols[left->next];
        /* An earlier merge may have changed either symbol since this
         * candidate was queued. */
        if (merge_map_slot(&tokenizer->merges, pair_key(left->id, right->id))->merged != top.merged)
            continue;
        left->id = top.merged;
        right->merged_away = true;
        left->next = right->next;
        if (left->next >= 0)
            symbols[left->next].prev = top.pos;
        if (left->prev >= 0)
            queue_merge(encoder, left->prev, symbols[left->prev].id, left->id);
        if (left->next >= 0)
            queue_merge(encoder, top.pos, left->id, symbols[left->next].id);
    }
    for (int i = count > 0 ? 0 : -1; i >= 0; i = symbols[i].next)
        if (id_list_push(&encoder->out, symbols[i].id) < 0)
            return -1;
    return 0;
}

typedef int (*PieceFn)(Encoder *encoder, const char *text, size_t length, int step);

/* Hands the matches of regex in text, and the gaps between them, in order to
 * piece(..., step): HF's Split with the Isolated behaviour. Matches are
 * found as the onig crate's find_iter finds them: each search starts where
 * the previous match ended, and an empty match right there is skipped by
 * moving on one character. */
static int split_on_regex(Encoder *encoder, const pcre2_code *regex, const char *text,
                          size_t length, PieceFn piece, int step)
{
    size_t search = 0;  /* where the next search starts */
    size_t done = 0;    /* end of the text handed on so far */
    bool matched = false;
    while (search <= length) {
        int status = pcre2_match(regex, (PCRE2_SPTR)text, length, search, PCRE2_NO_UTF_CHECK,
                                 encoder->match, NULL);
        if (status == PCRE2_ERROR_NOMATCH)
            break;
        if (status < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(status, message, sizeof message);
            return error_set("pre-tokenizer regex failed on a piece of %zu bytes: %s", length,
                             (const char *)message);
        }
        const PCRE2_SIZE *match = pcre2_get_ovector_pointer(encoder->match);
        size_t start = match[0], end = match[1];
        if (start == end && matched && end == done) {
            search += search < length ? char_length(text + search, length - search) : 1;
            continue;
        }
        if (piece(encoder, text + done, start - done, step) < 0 ||
            piece(encoder, text + start, end - start, step) < 0)
            return -1;
        search = done = end;
        matched = true;
    }
    return piece(encoder, text + done, length - done, step);
}

static int pretokenize(Encoder *encoder, const char *text, size_t length, int step);

/* ByteLevel's mapping: every byte becomes its character. */
static int map_bytes(Encoder *encoder, const char *text, size_t length, int step)
{
    Buffer mapped = {0};
    for (size_t i = 0; i < length; i++)
        buffer_append_string(&mapped, encoder->tokenizer->byte_chars[(unsigned char)text[i]]);
    int status = pretokenize(encoder, mapped.data, mapped.length, step + 1);
    free(mapped.data);
    return status;
}

static int byte_level(Encoder *encoder, const PreTokenizerStep *byte_step, const char *text,
                      size_t length, int step)
{
    if (byte_step->regex)
        return split_on_regex(encoder, byte_step->regex, text, length, map_bytes, step);
    return map_bytes(encoder, text, length, step);
}

/* Runs pre-tokenizer steps[step...] on one piece, then BPE on what comes
 * out. Empty pieces are dropped, as HF drops them after every split. */
static int pretokenize(Encoder *encoder, const char *text, size_t length, int step)
{
    const Tokenizer *tokenizer = encoder->tokenizer;
    if (length == 0)
        return 0;
    if (step == tokenizer->num_steps)
        return encoder->pre_token ? encoder->pre_token(encoder->pre_token_context, text, length)
                                  : encode_word(encoder, text, length);
    const PreTokenizerStep *current = &tokenizer->steps[step];
    if (current->kind == STEP_SPLIT)
        return split_on_regex(encoder, current->regex, text, length, pretokenize, step + 1);
    if (!current->add_prefix_space || text[0] == ' ')
        return byte_level(encoder, current, text, length, step);
    char *prefixed = xmalloc(length + 1);
    prefixed[0] = ' ';
    memcpy(prefixed + 1, text, length);
    int status = byte_level(encoder, current, prefixed, length + 1, step);
    free(prefixed);
    return status;
}

static int pretokenize_piece(Encoder *encoder, const char *text, size_t length)
{
    return pretokenize(encoder, text, length, 0);
}

/* Single-word and strip rules of added tokens, with Rust regex's Unicode
 * \w and \s as HF uses them. */
static bool ends_with_word(const char *text, size_t end)
{
    ucs4_t c;
    return end > 0 && u8_prev(&c, (const uint8_t *)text + end, (const uint8_t *)text) &&
           is_word_char(c);
}

static bool starts_with_word(const char *text, size_t length)
{
    ucs4_t c;
    return length > 0 && u8_mbtouc_unsafe(&c, (const uint8_t *)text, length) > 0 &&
           is_word_char(c);
}

/* Start of the run of white space that ends at text[end]. */
static size_t space_run_start(const char *text, size_t end)
{
    const uint8_t *start = (const uint8_t *)text;
    ucs4_t c;
    for (const uint8_t *prev; end > 0; end = (size_t)(prev - start)) {
        prev = u8_prev(&c, start + end, start);
        if (!prev || !uc_is_property_white_space(c))
            break;
    }
    return end;
}

/* Length of the run of white space that starts text. */
static size_t space_run_length(const char *text, size_t length)
{
    size_t i = 0;
    ucs4_t c;
    while (i < length) {
        int n = u8_mbtouc_unsafe(&c, (const uint8_t *)text + i, length - i);
        if (!uc_is_property_white_space(c))
            break;
        i += (size_t)n;
    }
    return i;
}

typedef int (*GapFn)(Encoder *encoder, const char *text, size_t length);

/* The longest token of the set that starts at text[at], or NULL. */
static const AddedToken *match_added(const Tokenizer *tokenizer, const AddedTokenSet *set,
                                     const char *text, size_t length, size_t at)
{
    unsigned char first = (unsigned char)text[at];
    for (int k = set->start[first]; k < set->start[first + 1]; k++) {
        const AddedToken *token = &tokenizer->added[set->order[k]];
        if (token->pattern_length <= length - at &&
            memcmp(text + at, token->pattern, token->pattern_length) == 0)
            return token;
    }
    return NULL;
}

/* Emits the added tokens of the set found in text, and hands the gaps
 * between them to gap(), as HF's AddedVocabulary::find_matches does: the
 * leftmost, then longest, match wins; the search resumes after a match even
 * when single_word rejects it; lstrip and rstrip take in the white space
 * beside the token. */
static int split_on_added(Encoder *encoder, const AddedTokenSet *set, const char *text,
                          size_t length, GapFn gap)
{
    size_t done = 0;  /* end of the text handed on so far */
    for (size_t at = 0; at < length;) {
        const AddedToken *token = match_added(encoder->tokenizer, set, text, length, at);
        if (!token) {
            at++;
            continue;
        }
        size_t start = at, stop = at + token->pattern_length;
        at = stop;
        if (token->single_word &&
            (ends_with_word(text, start) || starts_with_word(text + stop, length - stop)))
            continue;
        if (token->lstrip) {
            size_t space = space_run_start(text, start);
            start = space > done ? space : done;
        }
        if (token->rstrip)
            stop += space_run_length(text + stop, length - stop);
        if (done < start && gap(encoder, text + done, start - done) < 0)
            return -1;
        if (id_list_push(&encoder->out, token->id) < 0)
            return -1;
        done = stop;
    }
    return done < length ? gap(encoder, text + done, length - done) : 0;
}

/* Hands text, normalized as the tokenizer asks, to next(). */
static int normalize(Encoder *encoder, const char *text, size_t length, GapFn next)
{
    if (!encoder->tokenizer->nfc)
        return next(encoder, text, length);
    size_t nfc_length;
    uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)text, length, NULL, &nfc_length);
    if (!nfc)
        FATAL("out of memory normalizing %zu bytes", length);
    int status = next(encoder, (const char *)nfc, nfc_length);
    free(nfc);
    return status;
}

static int split_on_normalized_added(Encoder *encoder, const char *text, size_t length)
{
    return split_on_added(encoder, &encoder->tokenizer->normalized_added, text, length,
                          pretokenize_piece);
}

/* A piece between raw added tokens: normalized, then split on the added
 * tokens that match normalized text. */
static int normalize_piece(Encoder *encoder, const char *text, size_t length)
{
    return normalize(encoder, text, length, split_on_normalized_added);
}

static int check_utf8(const char *text, size_t length)
{
    const uint8_t *invalid = u8_check((const uint8_t *)text, length);
    if (invalid)
        return error_set("invalid UTF-8 at byte %zu of the text",
                         (size_t)(invalid - (const uint8_t *)text));
    return 0;
}

/* Runs one pass of the pipeline over text, from the given stage on. */
static int run_encoder(Encoder *encoder, const char *text, size_t length, GapFn stage)
{
    encoder->match = pcre2_match_data_create(1, NULL);
    if (!encoder->match)
        FATAL("out of memory creating regex match data");
    int status = stage(encoder, text, length);
    pcre2_match_data_free(encoder->match);
    free(encoder->symbols);
    free(encoder->heap);
    return status;
}

static int split_on_raw_added(Encoder *encoder, const char *text, size_t length)
{
    return split_on_added(encoder, &encoder->tokenizer->raw_added, text, length, normalize_piece);
}

static int normalize_and_pre_tokenize(Encoder *encoder, const char *text, size_t length)
{
    return normalize(encoder, text, length, pretokenize_piece);
}

int tokenizer_pre_tokenize(const Tokenizer *tokenizer, const char *text, size_t length,
                           PreTokenFn pre_token, void *context)
{
    if (check_utf8(text, length) < 0)
        return -1;
    Encoder encoder = {.tokenizer = tokenizer, .pre_token = pre_token,
                       .pre_token_context = context};
    return run_encoder(&encoder, text, length, normalize_and_pre_tokenize);
}

int tokenizer_encode(const Tokenizer *tokenizer, const char *text, size_t length, int **ids,
                     int *count)
{
    if (check_utf8(text, length) < 0)
        return -1;
    Encoder encoder = {.tokenizer = tokenizer};
    if (run_encoder(&encoder, text, length, split_on_raw_added) < 0) {
        free(encoder.out.ids);
        return -1;
    }
    *ids = encoder.out.ids ? encoder.out.ids : xmalloc(0);
    *count = encoder.out.count;
    return 0;
}

/* ---- Decoding ---- */

/* The ByteLevel decoder on one token: a token whose characters all stand
 * for bytes becomes those bytes, any other (an added token with a space,
 * say) its own UTF-8. */
static void append_token_bytes(const Tokenizer *tokenizer, Buffer *out, const char *token)
{
    size_t start = out->length, length = strlen(token);
    for (size_t i = 0; i < length;) {
        ucs4_t c;
        i += (size_t)u8_mbtouc_unsafe(&c, (const uint8_t *)token + i, length - i);
        int byte = c < 0x144 ? tokenizer->byte_of_char[c] : -1;
        if (byte < 0) {
            out->length = start;
            buffer_append(out, token, length);
            return;
        }
        unsigned char b = (unsigned char)byte;
        buffer_append(out, &b, 1);
    }
}

int tokenizer_decode(const Tokenizer *tokenizer, const int *ids, int count, char **text)
{
    Buffer bytes = {0};
    for (int i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= tokenizer->num_ids || !tokenizer->tokens[ids[i]]) {
            free(bytes.data);
            return error_set("token id %d is not in the vocabulary (ids 0 to %d)", ids[i],
                             tokenizer->num_ids - 1);
        }
        append_token_bytes(tokenizer, &bytes, tokenizer->tokens[ids[i]]);
    }
    Buffer out = {0};
    append_utf8_lossy(&out, (const unsigned char *)bytes.data, bytes.length);
    free(bytes.data);
    *text = out.data ? out.data : xstrdup("");
    return 0;
}

int tokenizer_vocab_size(const Tokenizer *tokenizer)
{
    return tokenizer->num_ids;
}

int tokenizer_token_id(const Tokenizer *tokenizer, const char *token)
{
    for (int i = 0; i < tokenizer->num_added; i++)
        if (strcmp(tokenizer->added[i].content, token) == 0)
            return tokenizer->added[i].id;
    return token_map_find(&tokenizer->vocab, token, strlen(token));
}

/* ---- Loading ---- */

static const char *type_of(const json_t *component)
{
    const char *type = json_string_value(json_object_get(component, "type"));
    return type ? type : "(none)";
}

static bool is_null(const json_t *value)
{
    return !value || json_is_null(value);
}

static int read_flag(const json_t *object, const char *where, const char *key, bool fallback,
                     bool *out)
{
    const char *const keys[] = {key, NULL};
    *out = fallback;
    return json_read_bool(object, where, keys, false, out);
}

/* Reads "added_tokens": contents, ids and flags. */
static int load_added_tokens(Tokenizer *tokenizer, const json_t *root)
{
    const json_t *list = json_object_get(root, "added_tokens");
    if (is_null(list))
        return 0;
    if (!json_is_array(list))
        return error_set("added_tokens: expected a list");
    tokenizer->added = xcalloc(json_array_size(list), sizeof *tokenizer->added);
    size_t i;
    const json_t *entry;
    json_array_foreach(list, i, entry) {
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        const json_t *id = json_object_get(entry, "id");
        const char *content = json_string_value(json_object_get(entry, "content"));
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= MAX_TOKEN_IDS)
            return error_set("%s: \"id\" must be an integer from 0 to %d", where,
                             MAX_TOKEN_IDS - 1);
        if (!content || !*content)
            return error_set("%s: \"content\" must be a non-empty string", where);
        AddedToken *token = &tokenizer->added[tokenizer->num_added++];
        token->content = xstrdup(content);
        token->id = (int)json_integer_value(id);
        if (read_flag(entry, where, "single_word", false, &token->single_word) < 0 ||
            read_flag(entry, where, "lstrip", false, &token->lstrip) < 0 ||
            read_flag(entry, where, "rstrip", false, &token->rstrip) < 0 ||
            read_flag(entry, where, "normalized", true, &token->normalized) < 0)
            return -1;
    }
    return 0;
}

static int load_vocab(Tokenizer *tokenizer, const json_t *vocab)
{
    if (!json_is_object(vocab) || json_object_size(vocab) == 0)
        return error_set("model.vocab: expected a non-empty object of token: id");
    int max_id = -1;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) >= MAX_TOKEN_IDS)
            return error_set("model.vocab: token \"%s\": the id must be an integer from 0 to %d",
                             key, MAX_TOKEN_IDS - 1);
        if (json_integer_value(value) > max_id)
            max_id = (int)json_integer_value(value);
    }
    for (int i = 0; i < tokenizer->num_added; i++)
        if (tokenizer->added[i].id > max_id)
            max_id = tokenizer->added[i].id;
    tokenizer->num_ids = max_id + 1;
    tokenizer->tokens = xcalloc((size_t)tokenizer->num_ids, sizeof *tokenizer->tokens);
    token_map_init(&tokenizer->vocab, json_object_size(vocab));
    json_object_foreach((json_t *)vocab, key, value) {
        int id = (int)json_integer_value(value);
        if (tokenizer->tokens[id])
            return error_set("model.vocab: tokens \"%s\" and \"%s\" have the same id %d",
                             tokenizer->tokens[id], key, id);
        tokenizer->tokens[id] = xstrdup(key);
        TokenSlot *slot = token_map_slot(&tokenizer->vocab, key, strlen(key));
        *slot = (TokenSlot){tokenizer->tokens[id], strlen(key), id};
    }
    return 0;
}

/* One merge, "left right" or [left, right]; returns its two halves. */
static int read_merge(const json_t *merge, size_t index, const char **left, size_t *left_length,
                      const char **right, size_t *right_length)
{
    if (json_is_string(merge)) {
        const char *text = json_string_value(merge);
        const char *space = strchr(text, ' ');
        if (!space || strchr(space + 1, ' '))
            return error_set("model.merges[%zu]: \"%s\" is not two tokens separated by one space",
                             index, text);
        *left = text;
        *left_length = (size_t)(space - text);
        *right = space + 1;
        *right_length = strlen(space + 1);
        return 0;
    }
    if (json_is_array(merge) && json_array_size(merge) == 2 &&
        json_is_string(json_array_get(merge, 0)) && json_is_string(json_array_get(merge, 1))) {
        *left = json_string_value(json_array_get(merge, 0));
        *left_length = strlen(*left);
        *right = json_string_value(json_array_get(merge, 1));
        *right_length = strlen(*right);
        return 0;
    }
    return error_set("model.merges[%zu]: expected \"left right\" or [\"left\", \"right\"]", index);
}

static int load_merges(Tokenizer *tokenizer, const json_t *merges)
{
    if (!json_is_array(merges))
        return error_set("model.merges: expected a list");
    size_t capacity = table_capacity(json_array_size(merges));
    tokenizer->merges.slots = xmalloc(capacity * sizeof *tokenizer->merges.slots);
    tokenizer->merges.mask = capacity - 1;
    for (size_t i = 0; i < capacity; i++)
        tokenizer->merges.slots[i].merged = -1;
    int rank = 0;
    Buffer joined = {0};
    size_t i;
    const json_t *merge;
    json_array_foreach(merges, i, merge) {
        /* HF skips the header line of merges.txt files. */
        if (json_is_string(merge) && strncmp(json_string_value(merge), "#version", 8) == 0)
            continue;
        const char *left = NULL, *right = NULL;
        size_t left_length = 0, right_length = 0;
        if (read_merge(merge, i, &left, &left_length, &right, &right_length) < 0)
            goto fail;
        joined.length = 0;
        buffer_append(&joined, left, left_length);
        buffer_append(&joined, right, right_length);
        int left_id = token_map_find(&tokenizer->vocab, left, left_length);
        int right_id = token_map_find(&tokenizer->vocab, right, right_length);
        int merged_id = token_map_find(&tokenizer->vocab, joined.data, joined.length);
        const char *missing = left_id < 0 ? "left token" : right_id < 0 ? "right token"
                            : merged_id < 0 ? "merged token" : NULL;
        if (missing) {
            error_set("model.merges[%zu]: the %s of \"%.*s\" + \"%.*s\" is not in the vocabulary",
                      i, missing, (int)left_length, left, (int)right_length, right);
            goto fail;
        }
        /* A pair listed twice keeps its last rank, as HF's map of merges does. */
        MergeSlot *slot = merge_map_slot(&tokenizer->merges, pair_key(left_id, right_id));
        *slot = (MergeSlot){pair_key(left_id, right_id), rank++, merged_id};
    }
    free(joined.data);
    return 0;
fail:
    free(joined.data);
    return -1;
}

static int load_model(Tokenizer *tokenizer, const json_t *root)
{
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return error_set("model: missing or not an object");
    if (strcmp(type_of(model), "BPE") != 0)
        return error_set("model: type \"%s\" is not supported (only BPE)", type_of(model));
    const json_t *dropout = json_object_get(model, "dropout");
    if (!is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return error_set("model: BPE dropout is not supported");
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const json_t *affix = json_object_get(model, affixes[i]);
        if (!is_null(affix) && !(json_is_string(affix) && json_string_length(affix) == 0))
            return error_set("model: %s is not supported", affixes[i]);
    }
    bool byte_fallback;
    if (read_flag(model, "model", "byte_fallback", false, &byte_fallback) < 0 ||
        read_flag(model, "model", "fuse_unk", false, &tokenizer->fuse_unk) < 0 ||
        read_flag(model, "model", "ignore_merges", false, &tokenizer->ignore_merges) < 0)
        return -1;
    if (byte_fallback)
        return error_set("model: byte_fallback is not supported");
    if (load_vocab(tokenizer, json_object_get(model, "vocab")) < 0 ||
        load_merges(tokenizer, json_object_get(model, "merges")) < 0)
        return -1;
    const json_t *unk = json_object_get(model, "unk_token");
    if (!is_null(unk)) {
        if (!json_is_string(unk))
            return error_set("model.unk_token: expected a string or null");
        tokenizer->unk_id = token_map_find(&tokenizer->vocab, json_string_value(unk),
                                           json_string_length(unk));
        if (tokenizer->unk_id < 0)
            return error_set("model.unk_token \"%s\" is not in the vocabulary",
                             json_string_value(unk));
    }
    return 0;
}

/* Puts the added tokens into the id table beside the model's, and sets the
 * text each is searched for. */
static int place_added_tokens(Tokenizer *tokenizer)
{
    for (int i = 0; i < tokenizer->num_added; i++) {
        AddedToken *token = &tokenizer->added[i];
        const char *taken = tokenizer->tokens[token->id];
        int vocab_id = token_map_find(&tokenizer->vocab, token->content, strlen(token->content));
        if (taken && strcmp(taken, token->content) != 0)
            return error_set("added_tokens[%d]: id %d of \"%s\" is already \"%s\"", i, token->id,
                             token->content, taken);
        if (vocab_id >= 0 && vocab_id != token->id)
            return error_set("added_tokens[%d]: \"%s\" has id %d, but %d in the vocabulary", i,
                             token->content, token->id, vocab_id);
        for (int j = 0; j < i; j++)
            if (strcmp(tokenizer->added[j].content, token->content) == 0)
                return error_set("added_tokens[%d]: \"%s\" is listed twice", i, token->content);
        if (!taken)
            tokenizer->tokens[token->id] = xstrdup(token->content);
        size_t length = strlen(token->content);
        if (token->normalized && tokenizer->nfc) {
            uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)token->content, length, NULL,
                                        &token->pattern_length);
            if (!nfc)
                FATAL("out of memory normalizing an added token");
            token->pattern = xmalloc(token->pattern_length + 1);
            memcpy(token->pattern, nfc, token->pattern_length);
            token->pattern[token->pattern_length] = '\0';
            free(nfc);
        } else {
            token->pattern = xstrdup(token->content);
            token->pattern_length = length;
        }
    }
    return 0;
}

typedef struct {
    unsigned char first;
    size_t length;
    int index;
} AddedOrder;

static int compare_added_order(const void *a, const void *b)
{
    const AddedOrder *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->length != y->length)
        return x->length > y->length ? -1 : 1;  /* longest first */
    return x->index < y->index ? -1 : x->index > y->index;
}

static void build_added_set(const Tokenizer *tokenizer, AddedTokenSet *set, bool normalized)
{
    AddedOrder *order = xmalloc((size_t)tokenizer->num_added * sizeof *order);
    int count = 0;
    for (int i = 0; i < tokenizer->num_added; i++) {
        const AddedToken *token = &tokenizer->added[i];
        if (token->normalized == normalized)
            order[count++] =
                (AddedOrder){(unsigned char)token->pattern[0], token->pattern_length, i};
    }
    qsort(order, (size_t)count, sizeof *order, compare_added_order);
    set->order = xmalloc((size_t)count * sizeof *set->order);
    int k = 0;
    for (int b = 0; b < 256; b++) {
        set->start[b] = k;
        while (k < count && order[k].first == b) {
            set->order[k] = order[k].index;
            k++;
        }
    }
    set->start[256] = count;
    free(order);
}

static int load_normalizer(Tokenizer *tokenizer, const json_t *root)
{
    const json_t *normalizer = json_object_get(root, "normalizer");
    if (is_null(normalizer))
        return 0;
    if (strcmp(type_of(normalizer), "NFC") != 0)
        return error_set("normalizer: type \"%s\" is not supported (only NFC or null)",
                         type_of(normalizer));
    tokenizer->nfc = true;
    return 0;
}

static PreTokenizerStep *add_step(Tokenizer *tokenizer, StepKind kind)
{
    tokenizer->steps = xrealloc(tokenizer->steps,
                                (size_t)(tokenizer->num_steps + 1) * sizeof *tokenizer->steps);
    PreTokenizerStep *step = &tokenizer->steps[tokenizer->num_steps++];
    *step = (PreTokenizerStep){.kind = kind};
    return step;
}

static int load_split(Tokenizer *tokenizer, const json_t *split, const char *where)
{
    const json_t *pattern = json_object_get(split, "pattern");
    const char *regex = json_string_value(json_object_get(pattern, "Regex"));
    const char *literal = json_string_value(json_object_get(pattern, "String"));
    const char *behavior = json_string_value(json_object_get(split, "behavior"));
    bool invert;
    if (!regex && !literal)
        return error_set("%s: \"pattern\" must be {\"Regex\": ...} or {\"String\": ...}", where);
    if (!behavior || strcmp(behavior, "Isolated") != 0)
        return error_set("%s: behavior \"%s\" is not supported (only Isolated)", where,
                         behavior ? behavior : "(none)");
    if (read_flag(split, where, "invert", false, &invert) < 0)
        return -1;
    if (invert)
        return error_set("%s: invert is not supported", where);
    PreTokenizerStep *step = add_step(tokenizer, STEP_SPLIT);
    if (compile_regex(regex ? regex : literal, !regex, &step->regex) < 0)
        return error_prefix("%s", where);
    return 0;
}

static int load_pre_tokenizer(Tokenizer *tokenizer, const json_t *component, const char *where)
{
    const char *type = type_of(component);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(component, "pretokenizers");
        if (!json_is_array(list))
            return error_set("%s: \"pretokenizers\" must be a list", where);
        size_t i;
        const json_t *item;
        json_array_foreach(list, i, item) {
            char inner[128];
            snprintf(inner, sizeof inner, "%s.pretokenizers[%zu]", where, i);
            if (load_pre_tokenizer(tokenizer, item, inner) < 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        bool add_prefix_space, use_regex;
        if (read_flag(component, where, "add_prefix_space", true, &add_prefix_space) < 0 ||
            read_flag(component, where, "use_regex", true, &use_regex) < 0)
            return -1;
        PreTokenizerStep *step = add_step(tokenizer, STEP_BYTE_LEVEL);
        step->add_prefix_space = add_prefix_space;
        if (use_regex && compile_regex(gpt2_pattern, false, &step->regex) < 0)
            return error_prefix("%s", where);
        return 0;
    }
    if (strcmp(type, "Split") == 0)
        return load_split(tokenizer, component, where);
    if (strcmp(type, "Digits") == 0) {
        /* Digits splits off runs of Rust's char::is_numeric, which is \p{N},
         * or each such character alone. */
        bool individual;
        if (read_flag(component, where, "individual_digits", false, &individual) < 0)
            return -1;
        PreTokenizerStep *step = add_step(tokenizer, STEP_SPLIT);
        if (compile_regex(individual ? "\\p{N}" : "\\p{N}+", false, &step->regex) < 0)
            return error_prefix("%s", where);
        return 0;
    }
    return error_set("%s: type \"%s\" is not supported (ByteLevel, Split, Digits or a Sequence "
                     "of them)", where, type);
}

static int load_components(Tokenizer *tokenizer, const json_t *root)
{
    const char *unsupported[] = {"truncation", "padding"};
    for (int i = 0; i < 2; i++)
        if (!is_null(json_object_get(root, unsupported[i])))
            return error_set("%s is set; only null is supported", unsupported[i]);
    if (load_normalizer(tokenizer, root) < 0 || load_added_tokens(tokenizer, root) < 0 ||
        load_model(tokenizer, root) < 0 || place_added_tokens(tokenizer) < 0)
        return -1;
    build_added_set(tokenizer, &tokenizer->raw_added, false);
    build_added_set(tokenizer, &tokenizer->normalized_added, true);
    const json_t *pre_tokenizer = json_object_get(root, "pre_tokenizer");
    if (!is_null(pre_tokenizer) &&
        load_pre_tokenizer(tokenizer, pre_tokenizer, "pre_tokenizer") < 0)
        return -1;
    /* The post-processor only adds special tokens, which encoding with
     * add_special_tokens=False never does, so any is accepted. */
    const json_t *decoder = json_object_get(root, "decoder");
    if (strcmp(type_of(decoder), "ByteLevel") != 0)
        return error_set("decoder: type \"%s\" is not supported (only ByteLevel)",
                         type_of(decoder));
    return 0;
}

int tokenizer_from_json(Tokenizer **tokenizer, const json_t *root)
{
    Tokenizer *loaded = xcalloc(1, sizeof *loaded);
    loaded->unk_id = -1;
    init_byte_table(loaded);
    if (load_components(loaded, root) < 0) {
        tokenizer_free(loaded);
        *tokenizer = NULL;
        return -1;
    }
    *tokenizer = loaded;
    return 0;
}

int tokenizer_load(Tokenizer **tokenizer, const char *path)
{
    *tokenizer = NULL;
    struct stat status;
    bool directory = stat(path, &status) == 0 && S_ISDIR(status.st_mode);
    Buffer file = {0};
    buffer_append_string(&file, path);
    if (directory)
        buffer_append_string(&file, "/tokenizer.json");
    json_t *root = json_load_object(file.data);
    int result = root ? tokenizer_from_json(tokenizer, root) : -1;
    if (root && result < 0)
        error_prefix("%s", file.data);
    json_decref(root);
    free(file.data);
    return result;
}

void tokenizer_free(Tokenizer *tokenizer)
{
    if (!tokenizer)
        return;
    for (int i = 0; i < tokenizer->num_ids; i++)
        free(tokenizer->tokens[i]);
    free(tokenizer->tokens);
    free(tokenizer->vocab.slots);
    free(tokenizer->merges.slots);
    for (int i = 0; i < tokenizer->num_added; i++) {
        free(tokenizer->added[i].content);
        free(tokenizer->added[i].pattern);
    }
    free(tokenizer->added);
    free(tokenizer->raw_added.order);
    free(tokenizer->normalized_added.order);
    for (int i = 0; i < tokenizer->num_steps; i++)
        pcre2_code_free(tokenizer->steps[i].regex);
    free(tokenizer->steps);
    free(tokenizer);
}
