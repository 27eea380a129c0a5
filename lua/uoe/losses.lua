-- Losses written in Lua, for uoe.run{loss = ...}. Each constructor returns
-- {name, reduction, forget = function(batch), retain = function(batch)}, with
-- one or both functions (man uoe-wb-lua, "Losses").
--
-- forget replaces the method's forget term. Its batch holds:
--   batch.rows      B, the sequences of the batch
--   batch.step      the step being taken, from 1
--   batch.nll       (B) each row's NLL summed over its target tokens, now
--   batch.ref_nll   (B) the same under the reference (the weights before the run)
--   batch.targets   (B) each row's target tokens
--   batch.tokens    their sum
--   batch.anchor    the router anchor term at the run's target, unweighted
--   batch.rmu       RMU's activation distance at rmu_layer, unweighted
-- and it returns the loss, its coefficients ((B) d loss / d nll[b], which the
-- engine gives every target token of row b as its gradient, or nil), and
-- optionally weights on the named terms, {anchor = w, rmu = w}: the anchor's
-- replaces alpha for the step, the rmu term is added to the forget term.
--
-- retain replaces a token-NLL method's retain term (graddiff, npo, simnpo).
-- Its batch has rows, step, targets and tokens as above, and:
--   batch.nll[b][t]   the NLL of target token t of row b
--   batch.hits[b][t]  whether that token's top-k at the target layer holds the target
--   batch.forget_rate the share of forget tokens that select the target
--   batch.retain_weight  the run's retain_weight (lambda)
-- and it returns the loss and its coefficients, d loss / d nll[b][t], as
-- (B) lists of targets[b] numbers.
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

-- RMU written as a forget loss on the named terms: nothing on the token
-- NLL, weight 1 on the activation distance. With method "rmu" (which keeps
-- RMU's retain term) it is the engine's rmu.
function losses.rmu()
    return {
        name = "rmu (lua)",
        reduction = "mean over forget tokens and hidden units of (h - c*u)^2 at rmu_layer",
        forget = function(batch)
            return 0, nil, {rmu = 1}
        end,
    }
end

-- The token weights of a TRACE-style retain loss: tokens that select the
-- target get w_hit, the others w_miss, chosen so that the weighted share of
-- target-selecting tokens is the forget data's, forget_rate, and the mean
-- weight is 1. Each ratio is capped at max_weight before the mean is
-- restored; a batch where no token or every token selects the target keeps
-- weight 1.
function losses.trace_weights(hits, tokens, forget_rate, max_weight)
    if hits == 0 or hits == tokens then
        return 1, 1
    end
    local retain_rate = hits / tokens
    local w_hit = math.min(forget_rate / retain_rate, max_weight)
    local w_miss = math.min((1 - forget_rate) / (1 - retain_rate), max_weight)
    local mean = (hits * w_hit + (tokens - hits) * w_miss) / tokens
    return w_hit / mean, w_miss / mean
end

-- A TRACE-style retain loss (METHOD.md section 9): lambda times the
-- token-weighted mean retain NLL, the weights from trace_weights, so that
-- the target expert is trained on retain tokens as often as the forget data
-- uses it. With every weight 1 it is the engine's retain term.
function losses.trace(options)
    local max_weight = number_option(options or {}, "max_weight", 10)
    return {
        name = "trace retain (lua)",
        reduction = string.format("lambda * mean over retain tokens of w_t * NLL_t, w_t reweighting " ..
            "target-selecting tokens to the forget share; max_weight = %g", max_weight),
        retain = function(batch)
            local hits = 0
            for b = 1, batch.rows do
                for t = 1, batch.targets[b] do
                    if batch.hits[b][t] then
                        hits = hits + 1
                    end
                end
            end
            local w_hit, w_miss = losses.trace_weights(hits, batch.tokens, batch.forget_rate, max_weight)
            local scale = batch.retain_weight / batch.tokens
            local total, coefficients = 0, {}
            for b = 1, batch.rows do
                local row = {}
                for t = 1, batch.targets[b] do
                    local weight = batch.hits[b][t] and w_hit or w_miss
                    total = total + weight * batch.nll[b][t]
                    row[t] = scale * weight
                end
                coefficients[b] = row
            end
            return scale * total, coefficients
        end,
    }
end

return losses
