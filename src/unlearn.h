/* An unlearning run (METHOD.md): expert attribution on the forget set, a
 * trainable set, a loss with an optional router anchor, and the step loop
 * with evaluation, routing snapshots, a non-finite guard and checkpoint
 * selection. The run knows nothing of files or screens: it reports through
 * an UnlearnObserver, and the run directory and the progress printer are two
 * observers of the same events. */
#ifndef UOE_UNLEARN_H
#define UOE_UNLEARN_H

#include <stdbool.h>
#include <stdint.h>

#include "adamw.h"
#include "attribution.h"
#include "dataset.h"
#include "rng.h"
#include "routing_shift.h"
#include "tokenizer.h"
#include "trainable_set.h"
#include "unlearn_loss.h"

typedef enum { METHOD_GA, METHOD_GRADDIFF, METHOD_NPO, METHOD_SIMNPO, METHOD_RMU } UnlearnMethod;
typedef enum { SELECT_FINAL, SELECT_BEST_UT } SelectionRule;
typedef enum { SCHEDULE_CONSTANT, SCHEDULE_COSINE } LearningRateSchedule;

/* What a loss given from outside the core (a Lua loss) sees of a forget
 * batch: its rows' summed token NLL under the current weights and under the
 * reference (the weights before the run), and the named terms measured on the
 * batch, unweighted: the router anchor L_anchor at the run's target and scale,
 * and RMU's activation distance, the mean of (h - c·u)² at the RMU layer. */
typedef struct {
    const SequenceBatch *batch;
    const double *seq_nll, *ref_seq_nll; /* (B) */
    double anchor, rmu;
} CustomForgetInput;

/* What it gives back. The loss adds value to the forget term and, when it
 * sets row_gradient_given, row_gradient (B): d value / d seq_nll of each row,
 * which the core spreads onto the row's target tokens. The weights put the
 * named terms into the objective: anchor_weight replaces α for this step,
 * rmu_weight adds rmu_weight·rmu to the forget term; NAN leaves a term as the
 * configuration has it (α, and no RMU term). */
typedef struct {
    double value;
    double *row_gradient;                /* (B), zeroed by the core */
    bool row_gradient_given;
    double anchor_weight, rmu_weight;
} CustomForgetOutput;

/* What a retain loss given from outside the core sees of a retain batch:
 * its tokens' NLL and whether each token's top-k at the target layer
 * includes the target expert, beside the share of forget tokens that do
 * (K times its selection share in the attribution) and the retain weight λ. */
typedef struct {
    const SequenceBatch *batch;
    const float *token_nll;              /* (B*T) 0 where a position has no target */
    const unsigned char *target_hit;     /* (B*T) 1 where the token selects the target */
    double forget_target_rate;
    double retain_weight;
} CustomRetainInput;

typedef struct {
    double value;
    float *token_gradient;               /* (B*T) d value / d token_nll, zeroed by the core */
} CustomRetainOutput;

/* Losses given from outside the core. Each function returns -1 with an
 * error set, or 0. forget replaces the method's forget term (RMU's too: it
 * can weigh the rmu term); retain replaces a token-NLL method's retain term
 * (GradDiff, NPO, SimNPO). NULL keeps the method's own. */
typedef struct {
    void *ctx;
    int (*forget)(void *ctx, const CustomForgetInput *in, CustomForgetOutput *out);
    int (*retain)(void *ctx, const CustomRetainInput *in, CustomRetainOutput *out);
} UnlearnCustomLoss;

/* The learning rate and the router anchor's α of each step, given from
 * outside the core (Lua functions of the step). Each function returns -1
 * with an error set, or 0 with *value, which must be finite and >= 0. NULL
 * leaves the value to the config (the schedule, and a constant α). */
typedef struct {
    void *ctx;
    int (*learning_rate)(void *ctx, int step, float *value);
    int (*anchor_alpha)(void *ctx, int step, float *value);
} UnlearnStepSchedule;

typedef struct {
    UnlearnMethod method;
    UnlearnCustomLoss custom_loss;    /* functions NULL = the method's own terms */
    UnlearnStepSchedule step_schedule; /* functions NULL = learning_rate/schedule, anchor_alpha */
    TrainableSetSpec trainable;
    int steps;
    int forget_batch, retain_batch;   /* sequences per step on each side */
    int max_seq_len;                  /* documents are cut to this many tokens */
    float learning_rate;              /* peak */
    LearningRateSchedule schedule;    /* after warmup_steps of linear warmup */
    int warmup_steps;
    float weight_decay, max_grad_norm;
    float retain_weight;              /* λ of GradDiff, NPO, SimNPO; α_r of RMU */
    float npo_beta;
    float simnpo_beta, simnpo_delta;
    int rmu_layer;                    /* steering layer; -1 = the anchor target's layer */
    float rmu_coeff;                  /* c */
    float anchor_alpha;               /* 0 = no anchor */
    AnchorScale anchor_scale;
    int attribution_sequences;        /* forget texts scored by Eq. 2; <= 0 = all */
    int eval_every;                   /* steps between evaluations (and at 0 and the end) */
    int snapshot_every;               /* steps between routing snapshots */
    int eval_questions;               /* questions per MCQ set, a seeded sample; <= 0 = all */
    int probe_sequences;              /* per probe batch (forget and retain) */
    SelectionRule selection;
    double fe_target;                 /* SELECT_BEST_UT: best UT among evaluations with FE <= this */
    bool prefix_cache;                /* reuse frozen lower layers' outputs per document */
    uint64_t seed;
} UnlearnConfig;

UnlearnConfig unlearn_default_config(void);
const char *unlearn_method_name(UnlearnMethod method);
int unlearn_method_parse(const char *text, UnlearnMethod *method);

struct UnlearnRun;

/* What one step did. */
typedef struct {
    int step;                 /* 1-based, after the update */
    double loss;              /* total objective of the step, before the update */
    double forget_term;       /* the method's forget-side term */
    double retain_term;       /* the retain-side term (0 when the method has none) */
    double anchor_term;       /* α·L_anchor (0 without the anchor) */
    double grad_norm;
    float learning_rate;
    float anchor_alpha;       /* α of the step (or the weight a custom loss put on the anchor) */
    double seconds;           /* wall time of the step */
} UnlearnStep;

/* An evaluation: at step 0, every eval_every steps, and at the last step. */
typedef struct {
    int step;
    double fe, fe_norm;       /* forget MCQ acc and acc_norm */
    double ut, ut_norm;       /* utility MCQ acc and acc_norm */
    double forget_nll;        /* mean token NLL of the forget probe */
    double retain_nll;        /* of the retain probe */
} UnlearnEval;

/* The routing of both probes at one step, with its shift from step 0. */
typedef struct {
    int step;
    const ProbeRouting *forget, *retain;
    const LayerShift *forget_shift, *retain_shift; /* (L) against step 0 */
    double forget_token_overlap, forget_set_overlap; /* means over MoE layers */
    double retain_token_overlap, retain_set_overlap;
    int target_layer, target_expert; /* the anchor's target */
    int target_rank;          /* of the anchor target on the forget probe, 1 = most selected */
    double target_prob;       /* its mean router probability on forget tokens */
} UnlearnSnapshot;

typedef struct {
    void *ctx;
    void (*on_start)(void *ctx, const struct UnlearnRun *run);
    void (*on_step)(void *ctx, const UnlearnStep *step);
    void (*on_eval)(void *ctx, const UnlearnEval *eval);
    void (*on_snapshot)(void *ctx, const UnlearnSnapshot *snapshot);
    void (*on_log)(void *ctx, const char *line);
} UnlearnObserver;

/* Where a run stands: read by observers, changed only by the run. */
typedef struct UnlearnRun {
    UnlearnConfig config;
    Model *model;
    const Tokenizer *tokenizer;
    Attribution attribution;          /* Eq. 2 on the forget set, before step 0 */
    TrainableSelection selection;
    int target_layer, target_expert;  /* the anchor's target: the set's first, else the top-1 */
    int prefix_layer;                 /* first layer run per step; lower ones come from the cache */
    int step;                         /* completed steps */
    UnlearnEval first_eval, last_eval;
    bool have_selected;
    UnlearnEval selected_eval;        /* the evaluation the selection rule picked */
    bool fe_target_met;               /* best-ut: some evaluation had FE <= fe_target */
    double last_forget_overlap;       /* mean token overlap of the latest snapshot */
    char stop_reason[256];            /* why the run stopped early; empty when it finished */
    struct UnlearnState *state;       /* data, optimizer and buffers */
} UnlearnRun;

typedef struct {
    const char *forget_path, *retain_path;        /* JSON Lines corpora */
    const char *forget_mcq_path, *utility_mcq_path;
    const char *attribution_path;  /* a saved `attribute --json` of the forget set; NULL = compute */
} UnlearnData;

/* Loads and tokenises the data, scores attribution, chooses the trainable set
 * and prepares the optimizer, the reference and the probes. */
int unlearn_begin(UnlearnRun *run, Model *model, const Tokenizer *tokenizer,
                  const UnlearnData *data, const UnlearnConfig *config,
                  const UnlearnObserver *observer);
/* Runs every step to the end (evaluation and snapshots included), then puts
 * the checkpoint the selection rule picked into the model. Returns -1 when a
 * non-finite value stopped the run; the model then holds the last good state
 * and run->stop_reason says which step and term. */
int unlearn_run_all(UnlearnRun *run);
/* One step, with the evaluation and snapshot due after it. Returns 1 while
 * steps remain, 0 after the last, -1 when a non-finite value stopped it. */
int unlearn_step(UnlearnRun *run);
/* Between steps: the router anchor weight α (>= 0) and the peak learning
 * rate (> 0) of the steps to come, the schedule keeping its shape. Each
 * change is reported as a log line, so every observer sees it. */
void unlearn_set_anchor_alpha(UnlearnRun *run, float alpha);
void unlearn_set_learning_rate(UnlearnRun *run, float learning_rate);
/* Puts the checkpoint the selection rule picked into the model. */
void unlearn_finish(UnlearnRun *run);
void unlearn_end(UnlearnRun *run);

/* Everything a run needs to go on, bit for bit, from between two steps:
 * saved by run_state.h, put back into a run that unlearn_begin prepared
 * with the same config and data. */
typedef struct {
    int step;
    int optimizer_step;
    size_t trainable_floats, moment_floats;
    float *trainable;                    /* (trainable_floats) the trainable set's values */
    float *selected;                     /* (trainable_floats) the state the rule picked */
    float *first_moment, *second_moment; /* (moment_floats) AdamW's */
    Rng forget_rng, retain_rng;
    int forget_count, retain_count;
    int *forget_order, *retain_order;    /* (forget_count), (retain_count) epoch orders */
    int forget_next, retain_next;        /* positions in them */
    double *reference_nll;               /* (forget_count) NPO's memo; NaN: not yet computed */
    bool have_selected;
    UnlearnEval selected_eval, last_eval;
    double last_forget_overlap;
} UnlearnResumePoint;

/* A copy of the run's state now, to free with unlearn_resume_point_free. */
void unlearn_resume_point(const UnlearnRun *run, UnlearnResumePoint *point);
/* Puts a point into the run; an error when its sizes are not the run's. */
int unlearn_restore(UnlearnRun *run, const UnlearnResumePoint *point);
void unlearn_resume_point_free(UnlearnResumePoint *point);

#endif
