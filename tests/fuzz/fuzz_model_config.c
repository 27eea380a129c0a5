/* libFuzzer harness: model_config_load on arbitrary bytes as config.json.
 * An accepted config must pass model_config_validate again and hold only
 * finite, positive norms and rotary bases. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz_util.h"
#include "model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ModelConfig config;
    error_clear();
    if (model_config_load(&config, fuzz_file(data, size)) != 0) {
        if (strcmp(error_message(), "unknown error") == 0)
            abort();
        return 0;
    }
    if (model_config_validate(&config) != 0)
        abort();
    if (!isfinite(config.rope_theta) || !isfinite(config.rms_norm_eps))
        abort();
    if (config.num_layers < 1 || config.num_layers > MODEL_MAX_LAYERS)
        abort();
    int moe = model_config_num_moe_layers(&config);
    if (moe < 0 || moe > config.num_layers || !model_family_name(config.family))
        abort();
    return 0;
}
