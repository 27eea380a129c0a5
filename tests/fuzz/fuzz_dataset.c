/* libFuzzer harness: the same bytes read as a JSON Lines text corpus and as
 * a multiple-choice set (dataset.h). Accepted sets must hold what the header
 * promises: at least one item, at least two choices, the answer in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "error.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);

    TextCorpus corpus;
    error_clear();
    if (text_corpus_load(&corpus, path) == 0) {
        if (corpus.count < 1)
            abort();
        for (int i = 0; i < corpus.count; i++)
            if (!corpus.texts[i] || strlen(corpus.texts[i]) > size)
                abort();
        text_corpus_free(&corpus);
    } else if (strcmp(error_message(), "unknown error") == 0 || corpus.count != 0) {
        abort();
    }

    McqSet set;
    error_clear();
    if (mcq_set_load(&set, path) == 0) {
        if (set.count < 1)
            abort();
        for (int i = 0; i < set.count; i++) {
            const McqItem *item = &set.items[i];
            if (!item->question || item->num_choices < 2 || item->answer < 0
                || item->answer >= item->num_choices)
                abort();
            for (int c = 0; c < item->num_choices; c++)
                if (!item->choices[c])
                    abort();
        }
        mcq_set_free(&set);
    } else if (strcmp(error_message(), "unknown error") == 0 || set.count != 0) {
        abort();
    }
    return 0;
}
