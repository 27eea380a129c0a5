#include "dataset.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Adds the item of one line (a JSON object) to the dataset being read;
 * errors say what is wrong with the item, and the reader adds where. */
typedef int (*ItemParser)(const json_t *object, void *dataset);

static const struct {
    const char *noun;     /* for "missing string ..." */
    const char *phrase;   /* for "... must be a string, not an integer" */
} json_type_names[] = {
    [JSON_OBJECT] = {"object", "an object"},
    [JSON_ARRAY] = {"array", "an array"},
    [JSON_STRING] = {"string", "a string"},
    [JSON_INTEGER] = {"integer", "an integer"},
    [JSON_REAL] = {"real", "a real number"},
    [JSON_TRUE] = {"boolean", "true"},
    [JSON_FALSE] = {"boolean", "false"},
    [JSON_NULL] = {"null", "null"},
};

/* The member key of object, which must exist with the given type. */
static const json_t *typed_member(const json_t *object, const char *key, json_type type)
{
    const json_t *value = json_object_get(object, key);
    if (!value) {
        error_set("missing %s \"%s\"", json_type_names[type].noun, key);
        return NULL;
    }
    if (json_typeof(value) != type) {
        error_set("\"%s\" must be %s, not %s", key, json_type_names[type].phrase,
                  json_type_names[json_typeof(value)].phrase);
        return NULL;
    }
    return value;
}

/* Makes room for one more element in an array that grows by doubling. Its
 * capacity is the smallest power of two not below count, so it is full
 * exactly when count is 0 or a power of two. */
static void *grow_for_append(void *array, int count, size_t element_size)
{
    if (count & (count - 1))
        return array;
    return xrealloc(array, (size_t)(count ? 2 * count : 1) * element_size);
}

static bool is_blank(const char *line, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
            return false;
    return true;
}

/* Parses each non-blank line of a JSON Lines file as an object and hands it
 * to add_item; stops at the first bad line. Returns the number of items, at
 * least one, or -1 with an error naming the file and the line. */
static int read_json_lines(const char *path, ItemParser add_item, void *dataset)
{
    FILE *stream = fopen(path, "r");
    if (!stream)
        return error_set("%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int line_number = 0, items = 0, rc = 0;
    while (rc == 0 && (length = getline(&line, &capacity, stream)) != -1) {
        line_number++;
        if (is_blank(line, (size_t)length))
            continue;
        json_error_t json_error;
        json_t *value = json_loadb(line, (size_t)length, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                                   &json_error);
        if (!value)
            rc = error_set("invalid JSON: %s (column %d)", json_error.text, json_error.column);
        else if (!json_is_object(value))
            rc = error_set("expected a JSON object, not %s",
                           json_type_names[json_typeof(value)].phrase);
        else
            rc = add_item(value, dataset);
        json_decref(value);
        if (rc < 0)
            error_prefix("%s: line %d", path, line_number);
        else
            items++;
    }
    if (rc == 0 && ferror(stream))
        rc = error_set("%s: %s", path, strerror(errno));
    else if (rc == 0 && items == 0)
        rc = error_set("%s: no items (the file is empty or holds only blank lines)", path);
    free(line);
    fclose(stream);
    return rc < 0 ? -1 : items;
}

static int add_text(const json_t *object, void *dataset)
{
    TextCorpus *corpus = dataset;
    const json_t *text = typed_member(object, "text", JSON_STRING);
    if (!text)
        return -1;
    corpus->texts = grow_for_append(corpus->texts, corpus->count, sizeof *corpus->texts);
    corpus->texts[corpus->count++] = xstrdup(json_string_value(text));
    return 0;
}

int text_corpus_load(TextCorpus *corpus, const char *path)
{
    *corpus = (TextCorpus){0};
    if (read_json_lines(path, add_text, corpus) < 0) {
        text_corpus_free(corpus);
        return -1;
    }
    return 0;
}

void text_corpus_free(TextCorpus *corpus)
{
    for (int i = 0; i < corpus->count; i++)
        free(corpus->texts[i]);
    free(corpus->texts);
    *corpus = (TextCorpus){0};
}

/* Validates the whole item before allocating any of it, so that a bad line
 * leaves nothing half-built. */
static int add_mcq_item(const json_t *object, void *dataset)
{
    McqSet *set = dataset;
    const json_t *question, *choices, *answer;
    if (!(question = typed_member(object, "question", JSON_STRING)) ||
        !(choices = typed_member(object, "choices", JSON_ARRAY)) ||
        !(answer = typed_member(object, "answer", JSON_INTEGER)))
        return -1;
    size_t num_choices = json_array_size(choices);
    if (num_choices < 2)
        return error_set("\"choices\" must hold at least 2 choices, not %zu", num_choices);
    if (num_choices > INT_MAX)
        return error_set("\"choices\" holds too many choices (%zu)", num_choices);
    for (size_t i = 0; i < num_choices; i++) {
        const json_t *choice = json_array_get(choices, i);
        if (!json_is_string(choice))
            return error_set("\"choices\"[%zu] must be a string, not %s", i,
                             json_type_names[json_typeof(choice)].phrase);
    }
    json_int_t index = json_integer_value(answer);
    if (index < 0 || (size_t)index >= num_choices)
        return error_set("\"answer\" %lld is out of range for %zu choices", (long long)index,
                         num_choices);

    set->items = grow_for_append(set->items, set->count, sizeof *set->items);
    McqItem *item = &set->items[set->count++];
    item->question = xstrdup(json_string_value(question));
    item->num_choices = (int)num_choices;
    item->choices = xmalloc(num_choices * sizeof *item->choices);
    for (size_t i = 0; i < num_choices; i++)
        item->choices[i] = xstrdup(json_string_value(json_array_get(choices, i)));
    item->answer = (int)index;
    return 0;
}

int mcq_set_load(McqSet *set, const char *path)
{
    *set = (McqSet){0};
    if (read_json_lines(path, add_mcq_item, set) < 0) {
        mcq_set_free(set);
        return -1;
    }
    return 0;
}

void mcq_set_free(McqSet *set)
{
    for (int i = 0; i < set->count; i++) {
        McqItem *item = &set->items[i];
        free(item->question);
        for (int c = 0; c < item->num_choices; c++)
            free(item->choices[c]);
        free(item->choices);
    }
    free(set->items);
    *set = (McqSet){0};
}
