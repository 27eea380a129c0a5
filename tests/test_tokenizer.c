/* tokenizer.json reading: encoding and decoding against the outputs of the
 * HF tokenizers library (tests/fixtures/tokenizer/, written by
 * scripts/make-tokenizer-fixtures) in four pre-tokenizer styles, the
 * unknown-token rules, and one clear error for each kind of bad input.
 * BPE training against the vocabulary and merges HF's trainer learned. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "error.h"
#include "tap.h"
#include "test_util.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

static const char *const styles[] = {"gpt2", "llama3", "qwen2", "digits"};

static json_t *load_fixture(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fixtures/tokenizer/%s", test_data_dir(), name);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    if (!root)
        FATAL("%s: %s", path, error.text);
    return root;
}

static bool same_ids(const int *ids, int count, const json_t *expected)
{
    if ((size_t)count != json_array_size(expected))
        return false;
    for (int i = 0; i < count; i++)
        if (ids[i] != json_integer_value(json_array_get(expected, (size_t)i)))
            return false;
    return true;
}

static void diag_ids(const char *label, const int *ids, int count)
{
    char line[4096];
    int used = 0;
    for (int i = 0; i < count && used < (int)sizeof line - 16; i++)
        used += snprintf(line + used, sizeof line - (size_t)used, " %d", ids[i]);
    tap_diag("%s:%s", label, line);
}

/* Every text encodes to HF's ids and they decode to HF's text. The
 * tokenizer is loaded from its directory, as the command line does. */
static void check_style(const char *style, const json_t *texts)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fixtures/tokenizer/%s", test_data_dir(), style);
    Tokenizer *tokenizer;
    if (!tap_ok(tokenizer_load(&tokenizer, path) == 0, "%s: tokenizer.json loads", style)) {
        tap_diag("%s", error_message());
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "%s/expected.json", style);
    json_t *expected = load_fixture(name);
    const json_t *encodings = json_object_get(expected, "encodings");
    size_t i;
    const json_t *text;
    json_array_foreach(texts, i, text) {
        const json_t *want = json_array_get(encodings, i);
        const json_t *want_ids = json_object_get(want, "ids");
        const char *want_text = json_string_value(json_object_get(want, "decoded"));
        int *ids = NULL, count = 0;
        char *decoded = NULL;
        bool encoded = tokenizer_encode(tokenizer, json_string_value(text),
                                        json_string_length(text), &ids, &count) == 0;
        bool ids_match = encoded && same_ids(ids, count, want_ids);
        bool text_match = ids_match && tokenizer_decode(tokenizer, ids, count, &decoded) == 0 &&
                          strcmp(decoded, want_text) == 0;
        if (!tap_ok(ids_match && text_match,
                    "%s: text %zu encodes to HF's %zu ids and decodes back", style, i,
                    json_array_size(want_ids))) {
            tap_diag("text: %s", json_string_value(text));
            if (!encoded)
                tap_diag("error: %s", error_message());
            diag_ids("got ", ids, count);
            tap_diag("decoded: %s", decoded ? decoded : "(none)");
        }
        free(ids);
        free(decoded);
    }

    /* Byte tokens, partial characters among them: U+FFFD as HF puts it. */
    const json_t *decodes = json_object_get(expected, "decodes");
    int wrong = 0;
    const json_t *item;
    json_array_foreach(decodes, i, item) {
        const json_t *ids = json_object_get(item, "ids");
        int values[16], count = (int)json_array_size(ids);
        CHECK(count <= 16);
        for (int k = 0; k < count; k++)
            values[k] = (int)json_integer_value(json_array_get(ids, (size_t)k));
        char *decoded = NULL;
        if (tokenizer_decode(tokenizer, values, count, &decoded) < 0 ||
            strcmp(decoded, json_string_value(json_object_get(item, "text"))) != 0) {
            wrong++;
            tap_diag("decode %zu gave %s", i, decoded ? decoded : error_message());
        }
        free(decoded);
    }
    tap_ok(wrong == 0, "%s: %zu byte-token sequences, partial UTF-8 among them, decode as HF's",
           style, json_array_size(decodes));
    json_decref(expected);
    tokenizer_free(tokenizer);
}

/* The ids of added tokens come from the file, vocabulary or not. */
static void check_lookups(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fixtures/tokenizer/qwen2/tokenizer.json", test_data_dir());
    Tokenizer *tokenizer;
    CHECK(tokenizer_load(&tokenizer, path) == 0);
    json_t *file = load_fixture("qwen2/tokenizer.json");
    const json_t *added = json_object_get(file, "added_tokens");
    int wrong = 0, max_id = 0;
    size_t i;
    const json_t *token;
    json_array_foreach(added, i, token) {
        int id = (int)json_integer_value(json_object_get(token, "id"));
        const char *content = json_string_value(json_object_get(token, "content"));
        wrong += tokenizer_token_id(tokenizer, content) != id;
        max_id = id > max_id ? id : max_id;
    }
    tap_ok(wrong == 0 && json_array_size(added) > 0,
           "token_id gives the file's id of every added token");
    tap_ok(tokenizer_vocab_size(tokenizer) == max_id + 1,
           "vocab_size counts the model vocabulary and the added tokens (%d)", max_id + 1);
    tap_ok(tokenizer_token_id(tokenizer, "e") == json_integer_value(
               json_object_get(json_object_get(json_object_get(file, "model"), "vocab"), "e")) &&
           tokenizer_token_id(tokenizer, "no such token") == -1,
           "token_id finds vocabulary tokens and gives -1 for unknown ones");

    int size = tokenizer_vocab_size(tokenizer);
    int bad[] = {5, size, 6};
    char *text = NULL;
    int status = tokenizer_decode(tokenizer, bad, 3, &text);
    tap_ok(status < 0 && !text && strstr(error_message(), "is not in the vocabulary"),
           "decoding an id past the vocabulary fails: %s", error_message());
    bad[1] = -1;
    tap_ok(tokenizer_decode(tokenizer, bad, 3, &text) < 0 && !text, "decoding a negative id fails");

    int *ids = NULL, count;
    status = tokenizer_encode(tokenizer, "ok \xff\xfe", 5, &ids, &count);
    tap_ok(status < 0 && !ids && strstr(error_message(), "invalid UTF-8 at byte 3"),
           "encoding invalid UTF-8 fails: %s", error_message());
    tap_ok(tokenizer_encode(tokenizer, "a\0b", 3, &ids, &count) == 0 && count == 3,
           "a NUL byte inside the text is encoded, not taken as its end");
    free(ids);
    json_decref(file);
    tokenizer_free(tokenizer);
}

/* A long run of spaces is one pre-token: the regexes must neither
 * backtrack without end nor exhaust PCRE2's stack on it. */
static void check_long_input(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fixtures/tokenizer/llama3", test_data_dir());
    Tokenizer *tokenizer;
    CHECK(tokenizer_load(&tokenizer, path) == 0);
    size_t length = 1 << 20;
    char *text = xmalloc(length);
    memset(text, ' ', length);
    memcpy(text + length - 3, "end", 3);
    int *ids = NULL, count = 0;
    clock_t start = clock();
    int status = tokenizer_encode(tokenizer, text, length, &ids, &count);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    char *decoded = NULL;
    tap_ok(status == 0 && tokenizer_decode(tokenizer, ids, count, &decoded) == 0 &&
           strlen(decoded) == length && memcmp(decoded, text, length) == 0,
           "1 MiB of spaces then a word encodes in %.2f s and decodes back", seconds);
    if (status < 0)
        tap_diag("%s", error_message());
    free(decoded);
    free(ids);
    free(text);
    tokenizer_free(tokenizer);
}

/* A minimal tokenizer.json: HEAD, then a model and the closing brace. With
 * no pre-tokenizer the BPE model sees the raw characters. */
#define HEAD "{\"normalizer\": null, \"pre_tokenizer\": null, " \
             "\"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [], "
#define BPE(fields) "\"model\": {\"type\": \"BPE\", " fields "}"
#define VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"<unk>\": 2, \"ab\": 3, \"x\": 4}, " \
              "\"merges\": [\"a b\"]"
#define AB_VOCAB(merges) "\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": " merges
/* A valid file but for its pre-tokenizer, or its added tokens. */
#define WITH(component) "{\"decoder\": {\"type\": \"ByteLevel\"}, " component ", " BPE(VOCAB) "}"
#define SPLIT(regex, behavior) \
    WITH("\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"" regex "\"}, " \
         "\"behavior\": \"" behavior "\"}")

static Tokenizer *load_text(const char *json)
{
    char path[PATH_MAX];
    temp_path(path, sizeof path, "tokenizer.json");
    write_bytes(path, json, strlen(json));
    error_clear();
    Tokenizer *tokenizer;
    return tokenizer_load(&tokenizer, path) == 0 ? tokenizer : NULL;
}

static bool encodes_to(const Tokenizer *tokenizer, const char *text, const int *want,
                       int want_count)
{
    int *ids, count;
    if (!tokenizer || tokenizer_encode(tokenizer, text, strlen(text), &ids, &count) < 0)
        return false;
    bool same = count == want_count && memcmp(ids, want, (size_t)count * sizeof *ids) == 0;
    free(ids);
    return same;
}

/* Characters outside the vocabulary, with the ids HF's tokenizers gives. */
static void check_unknown(void)
{
    static const int plain[] = {3, 2, 2, 1, 4, 2, 0}, fused[] = {3, 2, 1, 4, 2, 0};
    static const int dropped[] = {3, 1, 4, 0};
    const char *text = "abyzbx\xc3\xa9" "a";
    Tokenizer *tokenizer = load_text(HEAD BPE("\"unk_token\": \"<unk>\", " VOCAB) "}");
    tap_ok(encodes_to(tokenizer, text, plain, 7), "unk_token stands for each unknown character");
    tokenizer_free(tokenizer);
    tokenizer = load_text(HEAD BPE("\"unk_token\": \"<unk>\", \"fuse_unk\": true, " VOCAB) "}");
    tap_ok(encodes_to(tokenizer, text, fused, 6), "fuse_unk makes a run of them one unk_token");
    tokenizer_free(tokenizer);
    tokenizer = load_text(HEAD BPE(VOCAB) "}");
    tap_ok(encodes_to(tokenizer, text, dropped, 4), "without unk_token they are dropped");
    tokenizer_free(tokenizer);
}

/* Split patterns that PCRE2 reads only once rewritten: each splits "ab"
 * before the b, so the merge of a and b cannot apply. */
static void check_split_patterns(void)
{
    static const struct {
        const char *pattern, *what;
        int ids[2], count;
    } cases[] = {
        {"{\"Regex\": \"x\"}", "a pattern that does not match leaves the merge", {3}, 1},
        {"{\"Regex\": \"\\\\u0062\"}", "\\uHHHH is a code point, as in Oniguruma", {0, 1}, 2},
        {"{\"Regex\": \"\\\\h\"}", "\\h is a hexadecimal digit, as in Oniguruma", {0, 1}, 2},
        {"{\"Regex\": \"[\\\\h]\"}", "\\h inside a class too", {0, 1}, 2},
        {"{\"String\": \"b\"}", "a String pattern is literal text", {0, 1}, 2},
        {"{\"String\": \"[b]\"}", "a String pattern's metacharacters are literal", {3}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[512];
        snprintf(json, sizeof json, "{\"decoder\": {\"type\": \"ByteLevel\"}, "
                 "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": %s, "
                 "\"behavior\": \"Isolated\"}, " BPE(VOCAB) "}", cases[i].pattern);
        Tokenizer *tokenizer = load_text(json);
        if (!tap_ok(encodes_to(tokenizer, "ab", cases[i].ids, cases[i].count), "%s",
                    cases[i].what))
            tap_diag("%s", tokenizer ? "wrong ids" : error_message());
        tokenizer_free(tokenizer);
    }
}

typedef struct {
    const char *json;
    const char *message;  /* a part of the error */
    const char *what;
} BadCase;

static const BadCase bad_cases[] = {
    {"{\"model\": ", "invalid JSON", "a truncated file"},
    {"[1, 2]", "expected a JSON object", "a list at the top level"},
    {HEAD "\"x\": 1}", "model: missing", "no model"},
    {HEAD "\"model\": {\"type\": \"WordPiece\", " VOCAB "}}",
     "model: type \"WordPiece\" is not supported", "a WordPiece model"},
    {HEAD BPE("\"merges\": []") "}", "model.vocab: expected", "no vocabulary"},
    {HEAD BPE("\"vocab\": {\"a\": \"0\"}, \"merges\": []") "}",
     "model.vocab: token \"a\": the id must be an integer", "a vocabulary id that is a string"},
    {HEAD BPE("\"vocab\": {\"a\": -1}, \"merges\": []") "}", "model.vocab: token \"a\"",
     "a negative vocabulary id"},
    {HEAD BPE("\"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []") "}", "have the same id 0",
     "two tokens with one id"},
    {HEAD BPE("\"vocab\": {\"a\": 0}") "}", "model.merges: expected a list", "no merges"},
    {HEAD BPE(AB_VOCAB("[\"a c\"]")) "}",
     "model.merges[0]: the right token of \"a\" + \"c\" is not in the vocabulary",
     "a merge naming an unknown token"},
    {HEAD BPE(AB_VOCAB("[[\"a\", \"b\"]]")) "}",
     "the merged token of \"a\" + \"b\" is not in the vocabulary",
     "a merge whose result is unknown"},
    {HEAD BPE(AB_VOCAB("[\"a a a\"]")) "}", "model.merges[0]: \"a a a\" is not two tokens",
     "a merge of three tokens"},
    {HEAD BPE(AB_VOCAB("[7]")) "}", "model.merges[0]: expected \"left right\"",
     "a merge that is a number"},
    {HEAD BPE("\"byte_fallback\": true, " VOCAB) "}", "byte_fallback is not supported",
     "byte_fallback"},
    {HEAD BPE("\"dropout\": 0.1, " VOCAB) "}", "dropout is not supported", "BPE dropout"},
    {HEAD BPE("\"ignore_merges\": 1, " VOCAB) "}",
     "model: key \"ignore_merges\": expected true or false", "a flag that is a number"},
    {HEAD BPE("\"unk_token\": \"?\", " VOCAB) "}", "model.unk_token \"?\" is not in the vocabulary",
     "an unknown unk_token"},
    {HEAD BPE("\"continuing_subword_prefix\": \"##\", " VOCAB) "}",
     "continuing_subword_prefix is not supported", "a subword prefix"},
    {WITH("\"added_tokens\": [{\"id\": 9}]"), "added_tokens[0]: \"content\" must be",
     "an added token without content"},
    {WITH("\"added_tokens\": [{\"id\": 9, \"content\": \"ab\"}]"),
     "\"ab\" has id 9, but 3 in the vocabulary", "an added token with a wrong id"},
    {WITH("\"added_tokens\": [{\"id\": 4, \"content\": \"<s>\"}]"),
     "id 4 of \"<s>\" is already \"x\"", "an added token on a vocabulary id"},
    {WITH("\"added_tokens\": [{\"id\": 9, \"content\": \"<s>\", \"lstrip\": \"yes\"}]"),
     "added_tokens[0]: key \"lstrip\": expected true or false",
     "an added-token flag that is a string"},
    {WITH("\"normalizer\": {\"type\": \"NFKC\"}"), "normalizer: type \"NFKC\" is not supported",
     "an NFKC normalizer"},
    {WITH("\"pre_tokenizer\": {\"type\": \"Metaspace\"}"),
     "pre_tokenizer: type \"Metaspace\" is not supported", "a Metaspace pre-tokenizer"},
    {WITH("\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
          "[{\"type\": \"ByteLevel\"}, {\"type\": \"Whitespace\"}]}"),
     "pre_tokenizer.pretokenizers[1]: type \"Whitespace\"", "an unsupported step in a Sequence"},
    {SPLIT("\\\\s+", "Removed"), "pre_tokenizer: behavior \"Removed\" is not supported",
     "a Split that removes its matches"},
    {SPLIT("(a", "Isolated"), "pre_tokenizer: regex \"(a\" does not compile",
     "a regex that does not compile"},
    {SPLIT("a[[:alpha:]]", "Isolated"), "unsupported syntax at offset 2",
     "a regex with a nested class (the engines read it differently)"},
    {SPLIT("[^\\\\S\\\\n]", "Isolated"), "unsupported syntax", "a regex with \\S inside a class"},
    {SPLIT("\\\\w+", "Isolated"), "unsupported syntax at offset 1",
     "a regex with \\w (Oniguruma's differs from PCRE2's)"},
    {SPLIT("\\\\bx", "Isolated"), "unsupported syntax at offset 1",
     "a regex with \\b (Oniguruma's differs from PCRE2's)"},
    {"{\"decoder\": {\"type\": \"WordPiece\"}, " BPE(VOCAB) "}", "decoder: type \"WordPiece\"",
     "a WordPiece decoder"},
    {"{" BPE(VOCAB) "}", "decoder: type \"(none)\" is not supported", "no decoder"},
    {WITH("\"truncation\": {\"max_length\": 8}"), "truncation is set", "truncation"},
};

static void check_bad_files(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const BadCase *c = &bad_cases[i];
        Tokenizer *tokenizer = load_text(c->json);
        const char *message = error_message();
        if (!tap_ok(!tokenizer && strstr(message, "tokenizer.json") && strstr(message, c->message),
                    "%s is refused: %s", c->what, message))
            tap_diag("expected the error to contain: %s", c->message);
        tokenizer_free(tokenizer);
    }
    Tokenizer *tokenizer;
    int status = tokenizer_load(&tokenizer, "no/such/dir");
    tap_ok(status < 0 && !tokenizer && strstr(error_message(), "no/such/dir"),
           "a missing file is an error naming it: %s", error_message());
}

/* The merges of a tokenizer.json as "left right" strings, whichever form
 * the file uses. */
static json_t *merge_strings(const json_t *document)
{
    json_t *strings = json_array();
    size_t i;
    const json_t *merge;
    json_array_foreach(json_object_get(json_object_get(document, "model"), "merges"), i, merge) {
        if (json_is_string(merge))
            json_array_append(strings, (json_t *)merge);
        else
            json_array_append_new(strings,
                                  json_sprintf("%s %s", json_string_value(json_array_get(merge, 0)),
                                               json_string_value(json_array_get(merge, 1))));
    }
    return strings;
}

/* The gpt2 fixture is what HF's BpeTrainer learned from corpus.jsonl with a
 * vocabulary of 800 and <|endoftext|>; training here must learn the same. */
static void check_training(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fixtures/tokenizer/corpus.jsonl", test_data_dir());
    TextCorpus corpus;
    CHECK(text_corpus_load(&corpus, path) == 0);
    const char *specials[] = {"<|endoftext|>", "<|endoftext|>"};
    BpeTrainOptions options = {.vocab_size = 800, .special_tokens = specials,
                               .num_special_tokens = 2};
    json_t *trained = NULL;
    int status = tokenizer_train((const char *const *)corpus.texts, corpus.count, &options,
                                 &trained);
    if (!tap_ok(status == 0, "training on the fixture corpus succeeds"))
        tap_diag("%s", error_message());
    json_t *hf = load_fixture("gpt2/tokenizer.json");
    json_t *ours = merge_strings(trained), *theirs = merge_strings(hf);
    const json_t *vocab = json_object_get(json_object_get(trained, "model"), "vocab");
    tap_ok(json_equal(vocab, json_object_get(json_object_get(hf, "model"), "vocab")),
           "the vocabulary is HF's, token for token and id for id (%zu tokens)",
           json_object_size(vocab));
    tap_ok(json_equal(ours, theirs), "the merges are HF's, in HF's order (%zu merges)",
           json_array_size(ours));
    const json_t *added = json_object_get(trained, "added_tokens");
    tap_ok(json_array_size(added) == 1 &&
           json_integer_value(json_object_get(json_array_get(added, 0), "id")) == 0 &&
           json_is_true(json_object_get(json_array_get(added, 0), "special")),
           "a special token given twice is one added token, id 0");

    Tokenizer *tokenizer = NULL, *reference;
    snprintf(path, sizeof path, "%s/fixtures/tokenizer/gpt2", test_data_dir());
    CHECK(tokenizer_load(&reference, path) == 0);
    const char *text =
        "Training a tokenizer: it's 2024, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac<|endoftext|>";
    int *ids = NULL, *want = NULL, count = 0, want_count = 0;
    bool loads = trained && tokenizer_from_json(&tokenizer, trained) == 0;
    tap_ok(loads && tokenizer_encode(tokenizer, text, strlen(text), &ids, &count) == 0 &&
           tokenizer_encode(reference, text, strlen(text), &want, &want_count) == 0 &&
           count == want_count && memcmp(ids, want, (size_t)count * sizeof *ids) == 0,
           "the trained tokenizer.json loads and encodes as HF's");
    free(ids);
    free(want);
    tokenizer_free(tokenizer);
    tokenizer_free(reference);
    json_decref(ours);
    json_decref(theirs);
    json_decref(hf);
    json_decref(trained);

    options.vocab_size = 10;
    status = tokenizer_train((const char *const *)corpus.texts, corpus.count, &options, &trained);
    vocab = json_object_get(json_object_get(trained, "model"), "vocab");
    tap_ok(status == 0 && json_object_size(vocab) == 257 &&
           json_array_size(json_object_get(json_object_get(trained, "model"), "merges")) == 0,
           "a vocabulary smaller than the alphabet keeps the special token and the 256 bytes");
    json_decref(trained);
    text_corpus_free(&corpus);

    const char *bad_texts[] = {"fine", "bad \xc3("};
    status = tokenizer_train(bad_texts, 2, &options, &trained);
    tap_ok(status < 0 && !trained && strstr(error_message(), "text 2: invalid UTF-8"),
           "a text with invalid UTF-8 is an error naming it: %s", error_message());
    const char *empty[] = {""};
    options.special_tokens = empty;
    options.num_special_tokens = 1;
    status = tokenizer_train(bad_texts, 1, &options, &trained);
    tap_ok(status < 0 && !trained && strstr(error_message(), "special token 1 is empty"),
           "an empty special token is an error: %s", error_message());
}

int main(void)
{
    json_t *texts = load_fixture("texts.json");
    for (size_t i = 0; i < sizeof styles / sizeof *styles; i++)
        check_style(styles[i], texts);
    json_decref(texts);
    check_lookups();
    check_long_input();
    check_training();
    make_temp_dir();
    check_unknown();
    check_split_patterns();
    check_bad_files();
    remove_temp_dir();
    return tap_done();
}
