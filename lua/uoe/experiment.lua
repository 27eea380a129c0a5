-- What the shipped experiments (lua/experiments/) share: their common keys,
-- the uoe.run table of one row, and a results table on stdout.
local experiment = {}

-- The keys every shipped experiment takes, at their full-size values. A
-- smaller steps=, eval_questions= or attribution_sequences= gives a quick
-- trial of the same experiment.
local common = {
    model = "data/models/default",
    world = "data/world",
    steps = 60,
    lr = 1e-3,
    forget_batch = 8,
    retain_batch = 8,
    eval_every = 10,
    eval_questions = 200,
    probe_sequences = 32,
    attribution_sequences = 0,
    seed = 1,
}

-- The common keys, with the experiment's own added or replaced.
function experiment.defaults(own)
    local defaults = {}
    for key, value in pairs(common) do
        defaults[key] = value
    end
    for key, value in pairs(own or {}) do
        defaults[key] = value
    end
    return defaults
end

-- The uoe.run table of one row: the common keys from args, then the row's.
function experiment.run_table(args, model, out, row)
    local config = {model = model, world = args.world, out = out}
    for key in pairs(common) do
        if key ~= "model" and key ~= "world" then
            config[key] = args[key]
        end
    end
    config.snapshot_every = args.eval_every
    for key, value in pairs(row) do
        config[key] = value
    end
    return config
end

-- Splits "0,1,100" into numbers (or strings where they are not numbers).
function experiment.list(text)
    local items = {}
    for item in tostring(text):gmatch("[^,%s]+") do
        items[#items + 1] = tonumber(item) or item
    end
    return items
end

-- Prints rows (tables) under a title as aligned columns {key, heading, format}.
function experiment.print_table(title, columns, rows)
    print(title)
    local cells, widths = {}, {}
    for c, column in ipairs(columns) do
        widths[c] = #column[2]
    end
    for r, row in ipairs(rows) do
        cells[r] = {}
        for c, column in ipairs(columns) do
            local value = row[column[1]]
            local text = value == nil and "-" or string.format(column[3] or "%s", value)
            cells[r][c] = text
            widths[c] = math.max(widths[c], #text)
        end
    end
    local function line(texts)
        local padded = {}
        for c, text in ipairs(texts) do
            padded[c] = string.format("%-" .. widths[c] .. "s", text)
        end
        print((("  " .. table.concat(padded, "  ")):gsub("%s+$", "")))
    end
    local headings = {}
    for c, column in ipairs(columns) do
        headings[c] = column[2]
    end
    line(headings)
    for _, row in ipairs(cells) do
        line(row)
    end
end

-- The columns of a run's summary.
experiment.summary_columns = {
    {"fe", "FE", "%.4f"},
    {"ut", "UT", "%.4f"},
    {"selected_step", "step", "%d"},
    {"mean_forget_token_overlap", "overlap", "%.4f"},
    {"tunable_fraction", "tunable", "%.6f"},
}

return experiment
