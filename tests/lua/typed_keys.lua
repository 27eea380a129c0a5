-- A script with defaults: only their keys are taken, each typed like its
-- default.
name = "typed_keys"
defaults = {steps = 10, label = "run", verbose = false}

function experiment(args)
    print("steps", math.type(args.steps), args.steps)
    print("label", type(args.label), args.label)
    print("verbose", type(args.verbose), tostring(args.verbose))
end
