/* Reading a run directory written by `uoe-wb unlearn` (run_dir.h) back into
 * memory, for plotting and comparison. Every file is checked before anything
 * is used: a missing file, a truncated metrics line, a wrong type or an
 * inconsistent routing snapshot is an error naming the file (and the line of
 * metrics.jsonl), and nothing is returned. */
#ifndef UOE_RUN_READER_H
#define UOE_RUN_READER_H

/* One "step" line of metrics.jsonl: the loss of one optimizer step. */
typedef struct {
    int step;
    double loss;            /* the total the optimizer minimised */
    double forget_term, retain_term, anchor_term;
    double grad_norm, learning_rate;
} RunStepRecord;

/* One "eval" line: accuracies on the two MCQ sets and the probe NLLs. */
typedef struct {
    int step;
    double fe, fe_norm;     /* forget MCQ acc, acc_norm */
    double ut, ut_norm;     /* utility MCQ acc, acc_norm */
    double forget_nll, retain_nll;
} RunEvalRecord;

/* One "snapshot" line: the routing shift from step 0, as means over MoE layers. */
typedef struct {
    int step;
    double forget_token_overlap, forget_set_overlap;
    double retain_token_overlap, retain_set_overlap;
    int target_rank;
    double target_prob;
} RunSnapshotRecord;

/* The routing of one probe batch at one snapshot. Rows follow the MoE layers
 * in the order of the run's moe_layers. */
typedef struct {
    int tokens;
    int experts_per_token;
    double *selection_share;  /* [num_moe_layers, num_experts] selections / (tokens * k) */
    double *mean_prob;        /* [num_moe_layers, num_experts] mean router probability */
    double *token_overlap;    /* [num_moe_layers] against step 0 */
    double *set_overlap;      /* [num_moe_layers] against step 0 */
} RunProbeRouting;

/* One routing/step_NNNNNN.json file. */
typedef struct {
    int step;
    int target_layer, target_expert;
    RunProbeRouting forget, retain;
} RunRoutingSnapshot;

/* The end-of-run FE and UT of summary.json. */
typedef struct {
    char *method, *trainable_set;
    double fe, ut;            /* at the selected step */
    int selected_step;
    double start_fe, start_ut; /* before unlearning (the first evaluation) */
    double final_fe, final_ut; /* at the last evaluation */
    double mean_forget_token_overlap, tunable_fraction;
    int steps;
} RunSummary;

typedef struct {
    char *path;
    /* config.json */
    char *method;             /* method.name */
    char *trainable_set;      /* trainable_set.name */
    int target_layer;         /* anchor.layer: the layer of the target expert */
    int target_expert;        /* anchor.expert */
    int planned_steps;        /* batches.steps */
    int num_trainable_experts;
    int *trainable_layers;    /* [num_trainable_experts] trainable_set.experts */
    int *trainable_experts;   /* [num_trainable_experts] */

    /* metrics.jsonl, each in file (step) order */
    RunStepRecord *steps;
    int num_steps;
    RunEvalRecord *evals;
    int num_evals;
    RunSnapshotRecord *snapshots;
    int num_snapshots;

    /* routing/: one file per snapshot line, the first at step 0 */
    int num_moe_layers;
    int num_experts;
    int *moe_layers;          /* [num_moe_layers] the model layer of each row */
    RunRoutingSnapshot *routing; /* [num_snapshots] */

    RunSummary summary;
} RunData;

/* Reads and checks config.json, metrics.jsonl, the routing snapshots that
 * metrics.jsonl lists, and summary.json. On failure *run is left empty and
 * the error names the file. */
int run_data_load(RunData *run, const char *path);
void run_data_free(RunData *run);

/* The row of a model layer in the routing matrices, or -1 if it is not an
 * MoE layer of the run. */
int run_data_moe_row(const RunData *run, int layer);

#endif
