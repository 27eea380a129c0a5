/* JSON Lines datasets: text corpora and multiple-choice sets read back
 * exactly (Unicode, escapes, extra keys, blank lines, long lines, CRLF), and
 * one error per kind of bad input, naming the file and the line. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "error.h"
#include "tap.h"
#include "test_util.h"

/* Writes text to temp_dir/name and returns the path (in a static buffer). */
static const char *write_case(const char *name, const char *text)
{
    static char path[PATH_MAX];
    temp_path(path, sizeof path, name);
    write_bytes(path, text, strlen(text));
    return path;
}

static void check_good_corpus(void)
{
    const char *path = write_case("corpus.jsonl",
        "{\"text\": \"plain ASCII\", \"source\": \"extra keys are allowed\"}\n"
        "\n"
        "   \t\n"
        "{\"text\": \"na\u00efve caf\u00e9 \u2014 \u65e5\u672c\u8a9e \U0001F600\"}\r\n"
        "{\"text\": \"quote \\\" backslash \\\\ tab \\t newline \\n \\u00e9 \\ud83d\\ude00 \\/\"}\n"
        "{\"text\": \"\"}");
    TextCorpus corpus;
    int rc = text_corpus_load(&corpus, path);
    if (!tap_ok(rc == 0 && corpus.count == 4, "a corpus with blank lines, CRLF and no final newline gives 4 texts"))
        tap_diag("rc %d, count %d: %s", rc, corpus.count, error_message());
    if (rc == 0 && corpus.count == 4) {
        tap_ok(strcmp(corpus.texts[0], "plain ASCII") == 0, "extra keys are ignored");
        tap_ok(strcmp(corpus.texts[1], "na\u00efve caf\u00e9 \u2014 \u65e5\u672c\u8a9e \U0001F600") == 0,
               "UTF-8 text is kept byte for byte");
        tap_ok(strcmp(corpus.texts[2], "quote \" backslash \\ tab \t newline \n \u00e9 \U0001F600 /") == 0,
               "escapes, \\u escapes and surrogate pairs are decoded");
        tap_ok(strcmp(corpus.texts[3], "") == 0, "an empty text is a text");
    }
    text_corpus_free(&corpus);
    tap_ok(corpus.count == 0 && corpus.texts == NULL, "text_corpus_free leaves an empty corpus");
}

static void check_long_line(void)
{
    size_t length = 300000;
    const char *head = "{\"text\": \"", *tail = "\"}\n";
    char *text = xmalloc(strlen(head) + length + strlen(tail) + 1);
    strcpy(text, head);
    memset(text + strlen(head), 'x', length);
    strcpy(text + strlen(head) + length, tail);
    const char *path = write_case("long.jsonl", text);
    free(text);
    TextCorpus corpus;
    int rc = text_corpus_load(&corpus, path);
    tap_ok(rc == 0 && corpus.count == 1 && strlen(corpus.texts[0]) == length,
           "a line of %zu bytes is read whole", length);
    text_corpus_free(&corpus);
}

static void check_good_mcq(void)
{
    const char *path = write_case("mcq.jsonl",
        "{\"question\": \"Which port does HTTPS use?\", \"choices\": [\"80\", \"443\", \"22\", \"21\"], "
        "\"answer\": 1, \"subject\": \"computer_security\"}\n"
        "\n"
        "{\"answer\": 0, \"choices\": [\"\u00e9t\u00e9\", \"hiver\"], \"question\": \"Saison chaude\u00a0?\"}\n");
    McqSet set;
    int rc = mcq_set_load(&set, path);
    if (!tap_ok(rc == 0 && set.count == 2, "a multiple-choice file gives 2 items"))
        tap_diag("rc %d, count %d: %s", rc, set.count, error_message());
    if (rc == 0 && set.count == 2) {
        const McqItem *a = &set.items[0], *b = &set.items[1];
        tap_ok(strcmp(a->question, "Which port does HTTPS use?") == 0 && a->num_choices == 4 &&
               strcmp(a->choices[1], "443") == 0 && strcmp(a->choices[3], "21") == 0 && a->answer == 1,
               "question, 4 choices and answer are read; \"subject\" is ignored");
        tap_ok(strcmp(b->question, "Saison chaude\u00a0?") == 0 && b->num_choices == 2 &&
               strcmp(b->choices[0], "\u00e9t\u00e9") == 0 && b->answer == 0,
               "keys in any order, Unicode in question and choices");
    }
    mcq_set_free(&set);
    tap_ok(set.count == 0 && set.items == NULL, "mcq_set_free leaves an empty set");
}

#define ITEM(q, choices, answer) "{\"question\": \"" q "\", \"choices\": " choices ", \"answer\": " answer "}\n"
#define GOOD_ITEM ITEM("q", "[\"a\", \"b\"]", "0")
#define GOOD_TEXT "{\"text\": \"t\"}\n"

static const struct {
    const char *what;
    bool mcq;
    const char *text;
    const char *expected;   /* the message after "PATH: " */
    bool prefix_only;       /* jansson's own wording follows the expected part */
} bad_files[] = {
    {"a line that is not JSON", false, GOOD_TEXT "\n{\"text\": \"a\",}\n", "line 3: invalid JSON: ", true},
    {"two values on one line", false, "{\"text\": \"a\"} {\"text\": \"b\"}\n", "line 1: invalid JSON: ", true},
    {"a duplicated key", false, "{\"text\": \"a\", \"text\": \"b\"}\n", "line 1: invalid JSON: ", true},
    {"a line that is an array", false, GOOD_TEXT "[\"text\", \"a\"]\n",
     "line 2: expected a JSON object, not an array", false},
    {"a line that is a string", false, "\"text\"\n", "line 1: expected a JSON object, not a string", false},
    {"a missing \"text\"", false, GOOD_TEXT GOOD_TEXT "\n\n{\"txt\": \"a\"}\n",
     "line 5: missing string \"text\"", false},
    {"a \"text\" that is a number", false, "{\"text\": 5}\n",
     "line 1: \"text\" must be a string, not an integer", false},
    {"a null \"text\"", false, "{\"text\": null}\n", "line 1: \"text\" must be a string, not null", false},
    {"a missing \"question\"", true, GOOD_ITEM "{\"choices\": [\"a\", \"b\"], \"answer\": 0}\n",
     "line 2: missing string \"question\"", false},
    {"a missing \"choices\"", true, "{\"question\": \"q\", \"answer\": 0}\n",
     "line 1: missing array \"choices\"", false},
    {"a missing \"answer\"", true, "{\"question\": \"q\", \"choices\": [\"a\", \"b\"]}\n",
     "line 1: missing integer \"answer\"", false},
    {"\"choices\" that is a string", true, ITEM("q", "\"a b\"", "0"),
     "line 1: \"choices\" must be an array, not a string", false},
    {"an \"answer\" that is a letter", true, ITEM("q", "[\"a\", \"b\"]", "\"A\""),
     "line 1: \"answer\" must be an integer, not a string", false},
    {"an \"answer\" that is a real number", true, ITEM("q", "[\"a\", \"b\"]", "1.0"),
     "line 1: \"answer\" must be an integer, not a real number", false},
    {"an \"answer\" past the last choice", true,
     GOOD_ITEM GOOD_ITEM GOOD_ITEM GOOD_ITEM GOOD_ITEM GOOD_ITEM ITEM("q", "[\"a\", \"b\", \"c\", \"d\"]", "4"),
     "line 7: \"answer\" 4 is out of range for 4 choices", false},
    {"a negative \"answer\"", true, ITEM("q", "[\"a\", \"b\"]", "-1"),
     "line 1: \"answer\" -1 is out of range for 2 choices", false},
    {"a single choice", true, ITEM("q", "[\"a\"]", "0"),
     "line 1: \"choices\" must hold at least 2 choices, not 1", false},
    {"no choices", true, ITEM("q", "[]", "0"), "line 1: \"choices\" must hold at least 2 choices, not 0", false},
    {"a choice that is not a string", true, ITEM("q", "[\"a\", \"b\", 3]", "0"),
     "line 1: \"choices\"[2] must be a string, not an integer", false},
    {"an empty file", false, "", "no items (the file is empty or holds only blank lines)", false},
    {"a multiple-choice file of blank lines", true, "\n  \n\r\n",
     "no items (the file is empty or holds only blank lines)", false},
};

static void check_bad_files(void)
{
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        const char *path = write_case("bad.jsonl", bad_files[i].text);
        char expected[512];
        snprintf(expected, sizeof expected, "%s: %s", path, bad_files[i].expected);
        error_clear();
        TextCorpus corpus;
        McqSet set;
        int rc = bad_files[i].mcq ? mcq_set_load(&set, path) : text_corpus_load(&corpus, path);
        const char *message = error_message();
        bool matches = bad_files[i].prefix_only
            ? strncmp(message, expected, strlen(expected)) == 0 && strstr(message, "(column ")
            : strcmp(message, expected) == 0;
        bool emptied = bad_files[i].mcq ? set.count == 0 && set.items == NULL
                                        : corpus.count == 0 && corpus.texts == NULL;
        if (!tap_ok(rc == -1 && matches && emptied, "%s is refused: \"%s%s\"", bad_files[i].what,
                    bad_files[i].expected, bad_files[i].prefix_only ? "..." : ""))
            tap_diag("got %d: %s\n# expected: %s", rc, message, expected);
    }
}

static void check_missing_file(void)
{
    char path[PATH_MAX], expected[PATH_MAX + 64];
    temp_path(path, sizeof path, "absent.jsonl");
    snprintf(expected, sizeof expected, "%s: No such file or directory", path);
    McqSet set;
    int rc = mcq_set_load(&set, path);
    tap_ok(rc == -1 && strcmp(error_message(), expected) == 0, "a missing file is refused naming it");
    TextCorpus corpus;
    rc = text_corpus_load(&corpus, temp_dir);
    tap_ok(rc == -1 && strstr(error_message(), temp_dir) && strstr(error_message(), "directory"),
           "a directory is refused naming it");
}

int main(void)
{
    make_temp_dir();
    check_good_corpus();
    check_long_line();
    check_good_mcq();
    check_bad_files();
    check_missing_file();
    remove_temp_dir();
    return tap_done();
}
