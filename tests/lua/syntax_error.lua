-- A script that does not parse: `uoe-wb run` reports the file and line.
name = "syntax_error"

function experiment(args)
    local x = = 1
end
