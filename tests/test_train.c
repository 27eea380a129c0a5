/* The pretraining loop: its learning-rate schedule, the packing of documents
 * into rows, and a short run that lowers the loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"
#include "tap.h"
#include "train.h"

static void check_schedule(void)
{
    TrainConfig c = train_default_config();
    c.steps = 110;
    c.warmup_steps = 10;
    c.learning_rate = 1.0f;
    c.min_lr_ratio = 0.1f;
    tap_ok(fabsf(train_learning_rate(&c, 0) - 0.1f) < 1e-6f && fabsf(train_learning_rate(&c, 4) - 0.5f) < 1e-6f,
           "warmup rises linearly (step 0: %.3f, step 4: %.3f)", train_learning_rate(&c, 0),
           train_learning_rate(&c, 4));
    tap_ok(fabsf(train_learning_rate(&c, 10) - 1.0f) < 1e-6f, "the peak follows the warmup");
    float middle = train_learning_rate(&c, 10 + 99 / 2);
    tap_ok(fabsf(middle - 0.55f) < 0.01f, "halfway through the decay the cosine is at the mean of peak and floor (%.3f)", middle);
    tap_ok(fabsf(train_learning_rate(&c, 109) - 0.1f) < 1e-6f, "the last step reaches the floor");
    bool falling = true;
    for (int s = 11; s < 110; s++)
        falling &= train_learning_rate(&c, s) <= train_learning_rate(&c, s - 1);
    tap_ok(falling, "the rate never rises after the warmup");
}

static void check_packing(void)
{
    int a[] = {1, 2, 3}, b[] = {4, 5, 6, 7, 8, 9, 10}, c[] = {11, 12};
    Document docs[] = {{a, 3}, {b, 7}, {c, 2}};
    int order[] = {0, 1, 2};
    enum { T = 4, ROWS = 4 };
    int ids[ROWS * T], targets[ROWS * T], next = 0, offset = 0;
    int rows = train_pack_rows(docs, order, 3, &next, &offset, ids, targets, ROWS, T);
    static const int want_ids[ROWS * T] = {1, 2, 3, 0, 4, 5, 6, 7, 8, 9, 10, 0, 11, 12, 0, 0};
    static const int want_targets[ROWS * T] = {2, 3, -1, -1, 5, 6, 7, 8, 9, 10, -1, -1, 12, -1, -1, -1};
    tap_ok(rows == 4 && memcmp(ids, want_ids, sizeof ids) == 0,
           "documents are packed whole, a long one continues on the next row, padding after");
    tap_ok(memcmp(targets, want_targets, sizeof targets) == 0,
           "targets never cross a document boundary and padding is ignored");
    tap_ok(next == 3 && offset == 0, "the cursor ends after the last document");
}

static int record_loss(const TrainProgress *p, void *ctx)
{
    ((float *)ctx)[p->step - 1] = p->loss;
    return 0;
}

/* A tiny model learns a handful of fixed token sequences. */
static void check_training_lowers_loss(void)
{
    ModelConfig config = {0};
    config.family = FAMILY_QWEN2_MOE;
    config.vocab_size = 32;
    config.hidden_size = 16;
    config.num_layers = 2;
    config.num_heads = 2;
    config.num_kv_heads = 2;
    config.head_dim = 8;
    config.num_experts = 4;
    config.experts_per_token = 2;
    config.expert_intermediate = 8;
    config.shared_intermediate = 8;
    config.shared_expert_gate = true;
    config.rms_norm_eps = 1e-6f;
    config.rope_theta = 1e4f;
    config.layer_is_moe[0] = config.layer_is_moe[1] = true;
    Model model;
    model_create(&model, &config);
    model_init_random(&model, 5, 0.1f);
    for (int i = 0; i < model.num_params; i++)
        model.params[i].trainable = true;
    model_commit_trainable(&model);

    enum { DOCS = 8, LENGTH = 10 };
    int tokens[DOCS][LENGTH];
    Document docs[DOCS];
    Rng rng;
    rng_seed(&rng, 6);
    for (int d = 0; d < DOCS; d++) {
        for (int i = 0; i < LENGTH; i++)
            tokens[d][i] = (int)rng_below(&rng, 32);
        docs[d] = (Document){tokens[d], LENGTH};
    }
    TrainConfig train = train_default_config();
    train.batch_rows = 4;
    train.seq_len = 12;
    train.steps = 60;
    train.warmup_steps = 5;
    train.learning_rate = 1e-2f;
    float losses[60] = {0};
    int steps;
    int rc = train_run(&model, docs, DOCS, &train, record_loss, losses);
    for (steps = 0; steps < 60 && losses[steps] > 0.0f; steps++)
        ;
    float first = (losses[0] + losses[1]) / 2, last = (losses[58] + losses[59]) / 2;
    tap_ok(rc == 0 && steps == 60 && last < 0.5f * first,
           "60 steps on 8 memorisable documents: loss %.3f -> %.3f", first, last);
    model_free(&model);
}

int main(void)
{
    check_schedule();
    check_packing();
    check_training_lowers_loss();
    return tap_done();
}
