-- Forget losses written in Lua, for uoe.run{loss = ...}. Each constructor
-- returns {name, reduction, forget = function(batch)}. The engine calls
-- forget with one forget batch:
--   batch.rows      B, the sequences of the batch
--   batch.step      the step being taken, from 1
--   batch.nll       (B) each row's NLL summed over its target tokens, now
--   batch.ref_nll   (B) the same under the reference (the weights before the run)
--   batch.targets   (B) each row's target tokens
--   batch.tokens    their sum
-- and forget returns the loss and its coefficients, (B) d loss / d nll[b],
-- which the engine gives every target token of row b as its gradient and
-- backpropagates. The method chooses the retain side as usual.
local losses = {}

-- log(1 + x), accurate for small x.
local function log1p(x)
    local u = 1 + x
    if u == 1 then
        return x
    end
    return math.log(u) * x / (u - 1)
end

-- log σ(z), without overflow.
local function log_sigmoid(z)
    if z >= 0 then
        return -log1p(math.exp(-z))
    end
    return z - log1p(math.exp(z))
end
losses.log_sigmoid = log_sigmoid

local function number_option(options, key, default)
    local value = options[key]
    if value == nil then
        return default
    end
    if type(value) ~= "number" then
        error(string.format("option '%s': number expected, got %s", key, type(value)), 3)
    end
    return value
end

-- Gradient ascent: -mean token NLL of the batch ("token mean").
function losses.ga()
    return {
        name = "ga (lua)",
        reduction = "-mean token NLL of the forget batch",
        forget = function(batch)
            local total, coefficients = 0, {}
            for b = 1, batch.rows do
                total = total + batch.nll[b]
                coefficients[b] = -1 / batch.tokens
            end
            return -total / batch.tokens, coefficients
        end,
    }
end

-- NPO: -(2/β) mean over rows of log σ(-β (ref_nll - nll)) ("row mean of the
-- per-row summed NLL"), as the engine's npo method.
function losses.npo(options)
    local beta = number_option(options or {}, "beta", 0.1)
    return {
        name = "npo (lua)",
        reduction = string.format("-(2/beta) * mean over forget rows of log sigmoid(-beta * " ..
            "(seqNLL_ref - seqNLL)), seqNLL summed per row; beta = %g", beta),
        forget = function(batch)
            local B, total, coefficients = batch.rows, 0, {}
            for b = 1, B do
                local log_ratio = batch.ref_nll[b] - batch.nll[b]
                total = total + log_sigmoid(-beta * log_ratio)
                coefficients[b] = -2 / B * math.exp(log_sigmoid(beta * log_ratio))
            end
            return -2 / beta * total / B, coefficients
        end,
    }
end

-- SimNPO: -(2/β) mean over rows of log σ(β nll / targets - δ) ("row mean of
-- the per-row mean NLL"), as the engine's simnpo method.
function losses.simnpo(options)
    options = options or {}
    local beta = number_option(options, "beta", 4.5)
    local delta = number_option(options, "delta", 0)
    return {
        name = "simnpo (lua)",
        reduction = string.format("-(2/beta) * mean over forget rows of log sigmoid(beta * " ..
            "seqNLL / targets - delta); beta = %g, delta = %g", beta, delta),
        forget = function(batch)
            local B, total, coefficients = batch.rows, 0, {}
            for b = 1, B do
                local length = math.max(batch.targets[b], 1)
                local z = beta * batch.nll[b] / length - delta
                total = total + log_sigmoid(z)
                coefficients[b] = -2 / B / length * math.exp(log_sigmoid(-z))
            end
            return -2 / beta * total / B, coefficients
        end,
    }
end

return losses
