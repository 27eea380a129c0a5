-- Never ends by itself: only Ctrl-C (through the count hook) stops it.
name = "loop"

function experiment(args)
    print("looping")
    io.stdout:flush()
    local n = 0
    while true do
        n = n + 1
    end
end
